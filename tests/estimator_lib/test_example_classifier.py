"""The bundled example (example_models/classifier.py): train, evaluate to >= 0.9 accuracy, predict, export,
and the exported signatures reproduce predict()."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from example_models import classifier

TRAIN_STEPS = 200
PARAMS = {"n_examples": 512}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("classifier"))
    config = RunConfig(tf_random_seed=0, save_checkpoints_steps=100, log_step_count_steps=50)
    estimator = Estimator(classifier.model_fn, model_dir=model_dir, config=config, params=PARAMS)
    estimator.train(classifier.input_fn, steps=TRAIN_STEPS)
    return estimator


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    path = trained.export_saved_model(str(tmp_path_factory.mktemp("export")), classifier.serving_input_receiver_fn)
    return path.decode()


def held_out_features() -> np.ndarray:
    params = {**classifier.DEFAULT_PARAMS, **PARAMS}
    features, _ = classifier.make_data(params["n_examples"], params["seed"] + 1)  # what input_fn(PREDICT) reads
    return features


def serialized(features: np.ndarray) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=row))})
            ).SerializeToString()
            for row in features
        ]
    )


def test_data_is_deterministic():
    first = classifier.make_data(64, 3)
    second = classifier.make_data(64, 3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[0].dtype == np.float32 and first[1].dtype == np.int32
    assert set(np.unique(first[1])) <= {0, 1, 2}


def test_trains_and_evaluates_to_the_stated_accuracy(trained):
    assert trained.get_variable_value("global_step") == TRAIN_STEPS
    results = trained.evaluate(classifier.input_fn)
    assert results["global_step"] == TRAIN_STEPS
    assert results["accuracy"] >= 0.9, results
    assert results["loss"] < 0.5


def test_predicts(trained):
    predictions = list(trained.predict(classifier.input_fn))
    assert len(predictions) == PARAMS["n_examples"]
    first = predictions[0]
    assert set(first) == {"class_ids", "probabilities", "logits"}
    assert first["probabilities"].shape == (3,)
    np.testing.assert_allclose(first["probabilities"].sum(), 1.0, rtol=1e-5)
    assert first["class_ids"] == np.argmax(first["logits"])


def test_export_layout(exported):
    assert os.path.basename(exported).isdigit()
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    assert set(tf.saved_model.load(exported).signatures) == {"serving_default", "classification"}


def test_exported_signatures_reproduce_predict(trained, exported):
    predictions = list(trained.predict(classifier.input_fn))
    expected_ids = np.array([p["class_ids"] for p in predictions])
    expected_probabilities = np.stack([p["probabilities"] for p in predictions])
    examples = serialized(held_out_features())
    loaded = tf.saved_model.load(exported)

    served = loaded.signatures["serving_default"](examples=examples)
    np.testing.assert_array_equal(served["class_ids"].numpy(), expected_ids)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected_probabilities, rtol=1e-5, atol=1e-6)

    classified = loaded.signatures["classification"](inputs=examples)
    np.testing.assert_allclose(classified["scores"].numpy(), expected_probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(classified["classes"].numpy()[:, 0].astype(int), expected_ids)


def test_input_fn_modes():
    with tf.Graph().as_default():
        train = classifier.input_fn(ModeKeys.TRAIN, {"batch_size": 8})
        predict = classifier.input_fn(ModeKeys.PREDICT, {"batch_size": 8})
    assert isinstance(train.element_spec, tuple) and set(train.element_spec[0]) == {"x"}
    assert isinstance(predict.element_spec, dict) and set(predict.element_spec) == {"x"}

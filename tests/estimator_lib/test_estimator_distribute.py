"""train_distribute / eval_distribute with MirroredStrategy on two virtual CPUs (tests/conftest.py makes them)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from est_testlib import RecordingHook, linear_model_fn, make_data, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
BASE = dict(log_step_count_steps=0, save_summary_steps=0, tf_random_seed=2)


def mirrored():
    return v1.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(scope="module")
def mirrored_and_single(tmp_path_factory):
    """The same 5 steps of global batch 16 trained on two replicas (8 each) and on one device."""
    estimators = {}
    for name, strategy in (("mirrored", mirrored()), ("single", None)):
        model_dir = str(tmp_path_factory.mktemp(name))
        estimator = Estimator(linear_model_fn, model_dir=model_dir, config=RunConfig(train_distribute=strategy, **BASE))
        estimator.train(make_input_fn(batch=16), steps=5)
        estimators[name] = estimator
    return estimators


def test_global_step_advances_once_per_step(mirrored_and_single):
    estimator = mirrored_and_single["mirrored"]
    assert estimator.get_variable_value("global_step") == 5
    hook = RecordingHook()
    estimator.train(make_input_fn(batch=16), steps=3, hooks=[hook])
    assert estimator.get_variable_value("global_step") == 8
    assert hook.calls["after_run"] == 3


def test_mirrored_training_matches_one_device(mirrored_and_single):
    """Gradients are averaged over replicas, so two halves of a batch train like the whole batch."""
    at_step_5 = {
        name: tf.train.load_checkpoint(estimator.model_dir + "/model.ckpt-5")
        for name, estimator in mirrored_and_single.items()
    }
    for variable in ("w", "b"):
        np.testing.assert_allclose(
            at_step_5["mirrored"].get_tensor(variable), at_step_5["single"].get_tensor(variable), rtol=1e-5, atol=1e-6
        )
    assert not np.allclose(at_step_5["single"].get_tensor("w"), 0.0)


def test_eval_distribute_gives_the_same_metrics(mirrored_and_single):
    model_dir = mirrored_and_single["single"].model_dir
    one_device = Estimator(linear_model_fn, model_dir=model_dir, config=RunConfig(**BASE))
    two_replicas = Estimator(linear_model_fn, model_dir=model_dir, config=RunConfig(eval_distribute=mirrored(), **BASE))
    input_fn = make_input_fn(n=48, batch=16, repeat=False, seed=1)
    expected = one_device.evaluate(input_fn)
    hook = RecordingHook()
    results = two_replicas.evaluate(input_fn, hooks=[hook])
    assert set(results) == set(expected) == {"mae", "loss", "global_step"}
    assert results["global_step"] == expected["global_step"]
    assert results["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert results["mae"] == pytest.approx(expected["mae"], rel=1e-5)
    assert hook.calls["after_run"] == 3  # one run per global batch


def test_distribution_needs_a_dataset(tmp_path):
    x, y = make_data(16)
    estimator = Estimator(
        linear_model_fn, model_dir=str(tmp_path), config=RunConfig(train_distribute=mirrored(), **BASE)
    )
    with pytest.raises(
        TypeError, match=r"With a distribution strategy .* input_fn must return a tf.data.Dataset .*received tuple"
    ):
        estimator.train(lambda: ({"x": tf.constant(x)}, tf.constant(y)), steps=1)


def keras_model_fn(features, labels, mode):
    y = keras.layers.Dense(1)(keras.layers.Dense(4, activation="relu")(features["x"]))
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions=y)
    loss = tf.reduce_mean(tf.square(y - labels))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=v1.train.get_global_step())
    return EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_keras_layers_trained_mirrored_evaluate_on_one_device(tmp_path):
    config = RunConfig(train_distribute=mirrored(), **BASE)
    trained = Estimator(keras_model_fn, model_dir=str(tmp_path), config=config)
    trained.train(make_input_fn(batch=16), steps=3)
    assert trained.get_variable_value("global_step") == 3
    names = set(trained.get_variable_names())
    assert len({n for n in names if n.endswith("kernel")}) == 2 and "dense/kernel" in names
    assert not any("replica" in name for name in names)  # one checkpoint entry per variable
    one_device = Estimator(keras_model_fn, model_dir=str(tmp_path), config=RunConfig(**BASE))
    hook = RecordingHook()
    results = one_device.evaluate(make_input_fn(n=16, batch=8, repeat=False), hooks=[hook])
    assert results["global_step"] == 3 and np.isfinite(results["loss"])


def keras_metric_model_fn(features, labels, mode):
    logits = keras.layers.Dense(2)(features["x"])
    class_ids = tf.argmax(logits, axis=1, output_type=tf.int32)
    int_labels = tf.cast(labels[:, 0] > 0, tf.int32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=int_labels, logits=logits))
    if mode == ModeKeys.TRAIN:
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=v1.train.get_global_step())
        return EstimatorSpec(mode, loss=loss, train_op=train_op)
    accuracy = keras.metrics.Accuracy()
    accuracy.update_state(int_labels, class_ids)
    examples = keras.metrics.Sum()
    examples.update_state(tf.ones_like(labels[:, 0]))
    return EstimatorSpec(
        mode,
        loss=loss,
        eval_metric_ops={
            "keras_accuracy": accuracy,
            "examples": examples,
            "accuracy": v1.metrics.accuracy(int_labels, class_ids),
        },
    )


def test_keras_layers_and_metrics_under_eval_distribute(tmp_path):
    """A Keras model trained on one device evaluates on two replicas; Keras metrics count both replicas."""
    Estimator(keras_metric_model_fn, model_dir=str(tmp_path), config=RunConfig(**BASE)).train(make_input_fn(), steps=5)
    input_fn = make_input_fn(n=48, batch=16, repeat=False, seed=1)
    one_device = Estimator(keras_metric_model_fn, model_dir=str(tmp_path), config=RunConfig(**BASE)).evaluate(input_fn)
    two_replicas = Estimator(
        keras_metric_model_fn, model_dir=str(tmp_path), config=RunConfig(eval_distribute=mirrored(), **BASE)
    ).evaluate(input_fn)
    assert one_device["examples"] == two_replicas["examples"] == 48.0
    assert two_replicas["keras_accuracy"] == pytest.approx(one_device["keras_accuracy"])
    assert two_replicas["keras_accuracy"] == pytest.approx(two_replicas["accuracy"])
    assert two_replicas["loss"] == pytest.approx(one_device["loss"], rel=1e-5)

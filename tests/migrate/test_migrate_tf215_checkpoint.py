"""A model directory written by the original tf.estimator on TF 2.15 resumes here on TF 2.20/2.21.

The fixture (tests/fixtures/tf215_checkpoint) was made by make_fixture.sh in a TF 2.15 +
tensorflow-estimator 2.15 virtual environment, from the same fixture_model.py this test imports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest
import tensorflow as tf

from estimator_lib.checkpoints import latest_checkpoint
from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig

FIXTURE_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tf215_checkpoint")
TOLERANCE = 1e-5


def _load_fixture_model():
    spec = importlib.util.spec_from_file_location("tf215_fixture_model", os.path.join(FIXTURE_DIR, "fixture_model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixture_model():
    return _load_fixture_model()


@pytest.fixture(scope="module")
def expected() -> dict:
    with open(os.path.join(FIXTURE_DIR, "expected_metrics.json")) as handle:
        return json.load(handle)


@pytest.fixture
def model_dir(tmp_path) -> str:
    copy = str(tmp_path / "model_dir")
    shutil.copytree(os.path.join(FIXTURE_DIR, "model_dir"), copy)
    return copy


def test_fixture_was_made_by_tf215_and_is_small(expected):
    assert expected["made_with"] == {"tensorflow": "2.15.1", "tensorflow_estimator": "2.15.0"}
    model_files = os.listdir(os.path.join(FIXTURE_DIR, "model_dir"))
    size = sum(os.path.getsize(os.path.join(FIXTURE_DIR, "model_dir", name)) for name in model_files)
    assert size < 200_000, f"the fixture checkpoint grew to {size} bytes"


def test_same_variable_names_as_the_original(fixture_model, expected, model_dir):
    estimator = Estimator(fixture_model.model_fn, model_dir=model_dir, params=fixture_model.PARAMS)
    assert sorted(estimator.get_variable_names()) == sorted(expected["variables"])
    assert int(estimator.get_variable_value("global_step")) == expected["global_step"]
    # The graph built here on TF 2.21 asks for exactly the variables the TF 2.15 graph saved.
    graph = tf.Graph()
    with graph.as_default():
        features, labels = tf.compat.v1.data.make_one_shot_iterator(fixture_model.eval_input_fn()).get_next()
        tf.compat.v1.train.get_or_create_global_step()
        fixture_model.model_fn(features, labels, "train", fixture_model.PARAMS)
        built = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
    assert built == expected["variables"]


def test_evaluation_matches_tf215_then_training_resumes_at_step_50(fixture_model, expected, model_dir):
    estimator = Estimator(
        fixture_model.model_fn,
        model_dir=model_dir,
        params=fixture_model.PARAMS,
        config=RunConfig(tf_random_seed=fixture_model.TF_RANDOM_SEED, save_checkpoints_steps=10),
    )
    metrics = estimator.evaluate(fixture_model.eval_input_fn)
    assert int(metrics["global_step"]) == expected["global_step"] == fixture_model.FIXTURE_STEPS
    for name, value in expected["metrics"].items():
        assert metrics[name] == pytest.approx(value, abs=TOLERANCE), name

    estimator.train(fixture_model.train_input_fn, steps=10)
    assert latest_checkpoint(model_dir).endswith("model.ckpt-60")
    after = estimator.evaluate(fixture_model.eval_input_fn)
    assert int(after["global_step"]) == 60
    # Ten more steps of gradient descent moved the weights: the run continued from the restored values.
    assert after["loss"] < expected["metrics"]["loss"]

"""Fixtures for the train_and_evaluate tests: tiny trained models in temporary model dirs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tiny_model  # noqa: E402
from estimator_lib.estimator import Estimator  # noqa: E402
from estimator_lib.run_config import RunConfig  # noqa: E402


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    """Tests run locally unless they set TF_CONFIG themselves."""
    monkeypatch.delenv("TF_CONFIG", raising=False)


def make_estimator(model_dir, **config):
    config.setdefault("save_checkpoints_steps", 10)
    config.setdefault("log_step_count_steps", 0)
    config.setdefault("save_summary_steps", 0)
    return Estimator(tiny_model.model_fn, model_dir=str(model_dir), config=RunConfig(**config))


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A model dir trained to step 10 (one checkpoint), shared by a module's tests; copy before changing."""
    model_dir = tmp_path_factory.mktemp("trained")
    make_estimator(model_dir).train(tiny_model.train_input_fn(), max_steps=10)
    return model_dir

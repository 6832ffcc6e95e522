"""Fixtures for the train_and_evaluate tests: tiny trained models in temporary model dirs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tiny_model  # noqa: E402
from tiny_model import make_estimator  # noqa: E402


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    """Tests run locally unless they set TF_CONFIG themselves."""
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A model dir trained to step 10 (one checkpoint), shared by a module's tests; copy before changing."""
    model_dir = tmp_path_factory.mktemp("trained")
    make_estimator(model_dir).train(tiny_model.train_input_fn(), max_steps=10)
    return model_dir

"""Fixtures for the train_and_evaluate tests: tiny trained models in temporary model dirs."""

import pytest
from testlib import linear


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    """Tests run locally unless they set TF_CONFIG themselves."""
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A model dir trained to step 10 (one checkpoint), shared by a module's tests; copy before changing."""
    model_dir = tmp_path_factory.mktemp("trained")
    linear.make_estimator(model_dir).train(linear.train_input_fn(), max_steps=10)
    return model_dir

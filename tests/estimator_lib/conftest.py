"""Fixtures for the estimator tests: one small trained model shared by every test module that reads it."""

from __future__ import annotations

import shutil

import pytest
from est_testlib import TRAINED_STEPS, linear_model_fn, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig


@pytest.fixture(scope="session")
def trained_linear_dir(tmp_path_factory) -> str:
    """A linear model trained for TRAINED_STEPS steps (checkpoints every 20); treat it as read-only."""
    model_dir = str(tmp_path_factory.mktemp("trained_linear"))
    config = RunConfig(save_checkpoints_steps=20, tf_random_seed=7, log_step_count_steps=10)
    Estimator(linear_model_fn, model_dir=model_dir, config=config).train(make_input_fn(), steps=TRAINED_STEPS)
    return model_dir


@pytest.fixture
def trained_linear(trained_linear_dir) -> Estimator:
    """An Estimator over the shared trained model (read-only use: evaluate, predict, export)."""
    return Estimator(linear_model_fn, model_dir=trained_linear_dir, config=RunConfig(tf_random_seed=7))


@pytest.fixture
def trained_linear_copy(trained_linear_dir, tmp_path) -> Estimator:
    """A private copy of the shared trained model, for tests that train it further."""
    model_dir = str(tmp_path / "copy")
    shutil.copytree(trained_linear_dir, model_dir)
    return Estimator(linear_model_fn, model_dir=model_dir, config=RunConfig(tf_random_seed=7))

"""One small model trained once (one replica, use_tpu=False) and read by the evaluate/predict/export tests."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import TRAINED_STEPS, estimator, model_fn_list, train_input_fn


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory) -> str:
    """model_dir of a model trained TRAINED_STEPS steps; read-only (pass it as checkpoint_path)."""
    model_dir = str(tmp_path_factory.mktemp("tpu_trained"))
    estimator(model_fn_list, model_dir, replicas=1, use_tpu=False).train(train_input_fn, max_steps=TRAINED_STEPS)
    return model_dir


@pytest.fixture(scope="session")
def trained_weights(trained_dir) -> tuple[np.ndarray, np.ndarray]:
    reader = tf.train.load_checkpoint(trained_dir)
    return reader.get_tensor("w"), reader.get_tensor("b")

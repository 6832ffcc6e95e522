"""Storage tests: the real local GCS server fixtures, and tiny real TensorFlow artifacts to move around."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
from _gcs_server import (  # noqa: F401 - fixtures registered by import
    fast_retry,
    gcs_bucket,
    gcs_client,
    gcs_emulator,
    gcs_env,
    gcs_fault_proxy,
)
from _storage_artifacts import write_saved_model, write_v1_checkpoints


@pytest.fixture
def checkpoint_dir(tmp_path) -> str:
    model_dir = str(tmp_path / "model")
    write_v1_checkpoints(model_dir)
    # An object-based (TF2) checkpoint next to them, so both formats travel.
    tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(os.path.join(model_dir, "tf2", "ckpt"))
    return model_dir


@pytest.fixture
def saved_model_dir(tmp_path) -> str:
    return write_saved_model(str(tmp_path / "export" / "1700000000"))

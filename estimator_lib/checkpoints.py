"""Finding and reading checkpoints in a model directory."""

from __future__ import annotations

import tensorflow as tf

from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint


def latest_checkpoint(model_dir: str | None) -> str | None:
    """The newest checkpoint in model_dir that is complete and reads cleanly, or None.

    Damaged newer checkpoints (a truncated or corrupt file) are skipped with a warning; see
    estimator_lib.storage.checkpoint_scan.
    """
    if not model_dir or not tf.io.gfile.isdir(model_dir):
        return None
    return find_restorable_checkpoint(model_dir)


def global_step_of(checkpoint_path: str | None) -> int:
    """The global step stored in a checkpoint (0 when there is none)."""
    if not checkpoint_path:
        return 0
    reader = tf.train.load_checkpoint(checkpoint_path)
    if reader.has_tensor("global_step"):
        return int(reader.get_tensor("global_step"))
    return checkpoint_step(checkpoint_path) or 0

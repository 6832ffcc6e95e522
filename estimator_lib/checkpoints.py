"""Finding and reading checkpoints in a model directory."""

from __future__ import annotations

import tensorflow as tf

from estimator_lib.storage.checkpoint_scan import find_restorable_checkpoint

v1 = tf.compat.v1


def _files_present(prefix: str) -> bool:
    """A V2 checkpoint is whole when its index and every data shard it names exist."""
    if not tf.io.gfile.exists(prefix + ".index"):
        return False
    shards = tf.io.gfile.glob(prefix + ".data-*-of-*")
    if not shards:
        return False
    expected = int(shards[0].rsplit("-of-", 1)[1])
    return len(shards) == expected


def all_checkpoints(model_dir: str) -> list[str]:
    """Checkpoint prefixes recorded in model_dir's state file, oldest first (falls back to a glob)."""
    state = v1.train.get_checkpoint_state(model_dir)
    prefixes: list[str] = []
    if state is not None:
        prefixes = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
        if state.model_checkpoint_path and state.model_checkpoint_path not in prefixes:
            prefixes.append(state.model_checkpoint_path)
    if not prefixes:
        found = tf.io.gfile.glob(tf.io.gfile.join(model_dir, "*.index"))
        prefixes = sorted((p[: -len(".index")] for p in found), key=_step_of)
    return [p if "/" in p or p.startswith(model_dir) else tf.io.gfile.join(model_dir, p) for p in prefixes]


def _step_of(prefix: str) -> int:
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


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
    return _step_of(checkpoint_path) if _step_of(checkpoint_path) >= 0 else 0

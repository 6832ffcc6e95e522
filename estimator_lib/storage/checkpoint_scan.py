"""Finds the newest checkpoint in a model_dir that is complete *and* readable.

A job killed while saving, or a disk that lost the tail of a file, can leave a newest checkpoint whose index
or data shards are short or corrupt. Restoring it would crash the restarted job deep inside TensorFlow, so
each candidate (newest first) is opened and every tensor is read (TensorFlow checks each tensor's CRC32C);
a damaged one is skipped with a warning and the previous one is used.

Listing goes through `tf.io.gfile`, so this also works on model_dirs that TensorFlow itself can reach
(local paths, and gs:// on real Cloud Storage).
"""

from __future__ import annotations

import logging
import os
import re

import tensorflow as tf

logger = logging.getLogger(__name__)

_STEP_RE = re.compile(r"-(\d+)$")
_SHARD_RE = re.compile(r"\.data-(\d{5})-of-(\d{5})$")


def checkpoint_step(prefix: str) -> int | None:
    """The global step encoded in a prefix such as `.../model.ckpt-1200`, or None."""
    match = _STEP_RE.search(os.path.basename(prefix))
    return int(match.group(1)) if match else None


def checkpoint_files(prefix: str) -> list[str] | None:
    """The prefix's files (`.index`, every `.data-*` shard, `.meta` if present), or None if any is missing."""
    index = prefix + ".index"
    if not tf.io.gfile.exists(index):
        return None
    shards = tf.io.gfile.glob(prefix + ".data-?????-of-?????")
    totals = set()
    seen = set()
    for shard in shards:
        match = _SHARD_RE.search(shard)
        if match:
            seen.add(int(match.group(1)))
            totals.add(int(match.group(2)))
    if len(totals) != 1 or seen != set(range(totals.pop())):
        return None
    files = [index, *sorted(shards)]
    if tf.io.gfile.exists(prefix + ".meta"):
        files.append(prefix + ".meta")
    return files


def checkpoint_problem(prefix: str, *, read_tensors: bool = True) -> str | None:
    """Why `prefix` cannot be restored (missing shard, unreadable index, bad tensor), or None if it can."""
    if checkpoint_files(prefix) is None:
        return "its .index file or one of its .data shards is missing"
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        if read_tensors:
            for name in sorted(reader.get_variable_to_dtype_map()):
                reader.get_tensor(name)
    except Exception as error:  # noqa: BLE001 - TF raises OpError, IndexError, ValueError... for damaged files
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        return f"{type(error).__name__}: {first_line}"
    return None


def candidate_checkpoints(model_dir: str) -> list[str]:
    """Checkpoint prefixes in `model_dir`, most preferred first.

    First those the `checkpoint` state file records, newest first (what TensorFlow itself would restore);
    then any other `*.index` in the directory by step, newest first: the state file can be missing, damaged,
    or stale (a job killed between writing a checkpoint and recording it).
    """
    def absolute(path: str) -> str:
        return path if os.path.isabs(path) or "://" in path else os.path.join(model_dir, path)

    listed: list[str] = []
    try:
        state = tf.train.get_checkpoint_state(model_dir)
    except Exception as error:  # noqa: BLE001 - a damaged text proto must not stop the scan
        logger.warning("The checkpoint state file in %s is unreadable (%s); scanning the directory instead.",
                       model_dir, type(error).__name__)
        state = None
    if state is not None:
        recorded = [*state.all_model_checkpoint_paths]
        if state.model_checkpoint_path:
            recorded = [p for p in recorded if p != state.model_checkpoint_path] + [state.model_checkpoint_path]
        for path in reversed(recorded):
            if path and absolute(path) not in listed:
                listed.append(absolute(path))
    globbed = {index[: -len(".index")] for index in tf.io.gfile.glob(os.path.join(model_dir, "*.index"))}

    def order(prefix: str):
        step = checkpoint_step(prefix)
        try:
            mtime = tf.io.gfile.stat(prefix + ".index").mtime_nsec
        except Exception:  # noqa: BLE001 - missing index: sorted by step only
            mtime = 0
        return (step if step is not None else -1, mtime)

    unlisted = sorted((p for p in globbed - set(listed) if not os.path.basename(p).startswith(".")),
                      key=order, reverse=True)
    return listed + unlisted


def find_restorable_checkpoint(model_dir, *, read_tensors: bool = True) -> str | None:
    """The newest checkpoint prefix in `model_dir` that opens and reads cleanly, or None.

    Damaged newer checkpoints are skipped with a warning naming the file and the reason; they are left on disk
    (never deleted) for inspection. `read_tensors=False` only checks files and the index (cheaper for very
    large models).
    """
    if isinstance(model_dir, bytes):
        model_dir = model_dir.decode("utf-8")
    if not isinstance(model_dir, (str, os.PathLike)):
        raise TypeError(
            f"`model_dir` must be a str or os.PathLike; received {type(model_dir).__name__}: {model_dir!r}."
        )
    model_dir = os.fspath(model_dir)
    if not model_dir:
        raise ValueError("`model_dir` is empty; pass the directory that holds the checkpoints.")
    if not tf.io.gfile.exists(model_dir):
        return None
    if not tf.io.gfile.isdir(model_dir):
        raise NotADirectoryError(f"`model_dir` {model_dir} is a file; pass the directory that holds the checkpoints.")
    for prefix in candidate_checkpoints(model_dir):
        problem = checkpoint_problem(prefix, read_tensors=read_tensors)
        if problem is None:
            return prefix
        logger.warning("Skipping checkpoint %s: %s. Falling back to the previous checkpoint.", prefix, problem)
    return None

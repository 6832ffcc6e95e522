"""Turning "the disk filled up during a checkpoint save" into an error that says where and how much.

TensorFlow reports it as a ResourceExhaustedError from the SaveV2 op (or a NotFound/Unknown error from the
rename after it) with a graph traceback; a user needs the directory, the free space and the size one
checkpoint takes.
"""

from __future__ import annotations

import errno
import os
import shutil

import tensorflow as tf

_DISK_FULL_MARKS = ("No space left on device", "Resource exhausted", "ENOSPC")


def is_disk_full(error: BaseException) -> bool:
    """A save (or its file write) that failed because the file system was full."""
    if not isinstance(error, tf.errors.OpError):
        return False
    text = str(error)
    saving = "SaveV2" in text or "save/" in text or isinstance(error, tf.errors.ResourceExhaustedError)
    return saving and any(mark in text for mark in _DISK_FULL_MARKS)


def checkpoint_bytes(graph: tf.Graph) -> int:
    """What the variables of `graph` take on disk in one checkpoint (values only; the index is small)."""
    total = 0
    for variable in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES):
        elements = variable.shape.num_elements()
        if elements is not None:
            total += elements * variable.dtype.size
    return total


def disk_full_error(model_dir: str, needed_bytes: int) -> OSError:
    free = _free_bytes(model_dir)
    free_text = f"{free:,} bytes are free there" if free is not None else "its free space could not be read"
    return OSError(
        errno.ENOSPC,
        f"The disk holding model_dir {model_dir!r} is full: a checkpoint of this model needs about "
        f"{needed_bytes:,} bytes (plus a copy while it is written) and {free_text}. Free space, lower "
        "RunConfig(keep_checkpoint_max=...), or point model_dir at a larger disk; training resumes from the "
        "newest complete checkpoint.",
    )


def _free_bytes(path: str) -> int | None:
    if "://" in path:
        return None
    probe = os.path.abspath(path)
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


class named_when_full:  # noqa: N801 - used as a context manager, like contextlib's
    """Re-raises a disk-full save error (from the body or from the session closing, where the last save
    runs) as `disk_full_error`; other errors pass through unchanged."""

    def __init__(self, model_dir: str, graph: tf.Graph):
        self._model_dir, self._graph = model_dir, graph

    def __enter__(self) -> named_when_full:
        return self

    def __exit__(self, error_type, error, traceback) -> bool:
        if error is not None and is_disk_full(error):
            raise disk_full_error(self._model_dir, checkpoint_bytes(self._graph)) from error
        return False

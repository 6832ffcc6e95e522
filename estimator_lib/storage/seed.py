"""Seed a model_dir with another run's checkpoints (the train step's `init_model_dir`), whole or not at all.

The train step resumes a previous run by copying its checkpoint directory into its own output, then trains
on. A retry keeps what an earlier attempt left there, because that attempt may have trained further. A copy
killed half-way must therefore never look like such a directory: a `checkpoint` state file naming a
checkpoint whose data shard is short would be trusted, restored, and crash (or, with a missing shard
elsewhere, silently resume an older step).

`seed_model_dir` copies through `publish.publish_directory` (local paths and the `/gcs` FUSE mount): a
`_PUBLISHING` marker first, every file under a temporary name then renamed, the `checkpoint` state file
last, the marker removed at the end. A retry that finds `_PUBLISHING` clears the partial copy and copies
again; one that finds a complete checkpoint and no marker keeps it. The publish's `_COMMITTED` manifest is
removed once the copy is complete: from then on training adds and collects checkpoints, so the manifest
would soon be wrong. gs:// URIs (TensorFlow's own GCS client, no FUSE mount) follow the same marker
protocol through `tf.io.gfile`; each object there appears whole when its upload ends.
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf

from estimator_lib.storage.checkpoint_scan import find_restorable_checkpoint
from estimator_lib.storage.integrity import COMMIT_MARKER
from estimator_lib.storage.publish import PUBLISHING_MARKER, publish_directory

STATE_FILE = "checkpoint"  # names the checkpoints: copied last, so it never names one that is not all there
_log = logging.getLogger("estimator_lib.storage")


def seed_model_dir(source: str, model_dir: str) -> str:
    """Copies the checkpoint directory `source` into `model_dir` unless an earlier attempt completed that copy.

    Returns "copied", "kept" (a complete earlier copy, possibly trained further) or "same" (one directory).
    """
    if _same_directory(source, model_dir):
        return "same"
    if "://" in source or "://" in model_dir:
        return _seed_with_gfile(source, model_dir)
    if os.path.isfile(os.path.join(model_dir, PUBLISHING_MARKER)):
        _log.warning("%s holds a copy of %s that an earlier attempt did not finish; copying it again.", model_dir,
                     source)
    elif find_restorable_checkpoint(model_dir, read_tensors=False) is not None:
        _drop(os.path.join(model_dir, COMMIT_MARKER))  # a kill right after the copy can leave it
        return "kept"
    publish_directory(source, model_dir, last_files=(STATE_FILE,), argument="output_model_dir")
    _drop(os.path.join(model_dir, COMMIT_MARKER))
    return "copied"


def _same_directory(source: str, model_dir: str) -> bool:
    if "://" in source or "://" in model_dir:
        return source.rstrip("/") == model_dir.rstrip("/")
    return os.path.abspath(source) == os.path.abspath(model_dir)


def _drop(path: str) -> None:
    if tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def _files_under(root: str) -> list[str]:
    """Paths relative to `root` of every file below it, with `/` separators."""
    found = []
    for directory, _, names in tf.io.gfile.walk(root):
        relative = directory[len(root.rstrip("/")) + 1:].strip("/")
        for name in names:
            found.append(f"{relative}/{name}" if relative else name)
    return found


def _seed_with_gfile(source: str, model_dir: str) -> str:
    marker = f"{model_dir.rstrip('/')}/{PUBLISHING_MARKER}"
    if tf.io.gfile.exists(marker):
        _log.warning("%s holds a copy of %s that an earlier attempt did not finish; copying it again.", model_dir,
                     source)
        for name in _files_under(model_dir):
            if name != PUBLISHING_MARKER:
                tf.io.gfile.remove(f"{model_dir.rstrip('/')}/{name}")
    elif tf.io.gfile.isdir(model_dir) and find_restorable_checkpoint(model_dir, read_tensors=False) is not None:
        return "kept"
    else:
        tf.io.gfile.makedirs(model_dir)
        with tf.io.gfile.GFile(marker, "w") as handle:
            handle.write(f"copying {source}\n")
    names = sorted((name for name in _files_under(source) if name not in (PUBLISHING_MARKER, COMMIT_MARKER)),
                   key=lambda name: (name == STATE_FILE, name))
    for name in names:
        target = f"{model_dir.rstrip('/')}/{name}"
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(f"{source.rstrip('/')}/{name}", target, overwrite=True)
    tf.io.gfile.remove(marker)
    return "copied"

"""Training inside a Vertex CustomJob: the AIP_* directories Vertex sets from `base_output_directory`.

When a CustomJob has `base_output_directory`, Vertex sets AIP_MODEL_DIR (`<base>/model/`),
AIP_CHECKPOINT_DIR (`<base>/checkpoints/`) and AIP_TENSORBOARD_LOG_DIR (`<base>/logs/`, or the directory a
Vertex TensorBoard uploads from). Checkpoints go to AIP_CHECKPOINT_DIR, which stays the same when Vertex
restarts the job (spot preemption, restart_job_on_worker_restart), so a restarted job resumes there; the
newest checkpoint is then published to the step's `model` output (or AIP_MODEL_DIR when the task runs
without one) and the event files are copied to AIP_TENSORBOARD_LOG_DIR. Without these variables (a local
run, a plain pipeline step) training writes straight into the output directory, as before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

MODEL_DIR = "AIP_MODEL_DIR"
CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
TENSORBOARD_LOG_DIR = "AIP_TENSORBOARD_LOG_DIR"


@dataclasses.dataclass(frozen=True)
class VertexDirs:
    """The AIP_* directories of the current job; empty strings when not set."""

    model_dir: str = ""
    checkpoint_dir: str = ""
    tensorboard_log_dir: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VertexDirs:
        environ = os.environ if environ is None else environ
        return cls(
            model_dir=environ.get(MODEL_DIR, ""),
            checkpoint_dir=environ.get(CHECKPOINT_DIR, ""),
            tensorboard_log_dir=environ.get(TENSORBOARD_LOG_DIR, ""),
        )


def train_in_job(request: Any, dirs: VertexDirs | None = None) -> dict[str, Any]:
    """Runs `run_train(request)` with the job's checkpoint directory; publishes to request.output_model_dir.

    `request` is a components.train.task.TrainRequest. Returns the training summary plus where checkpoints
    and event files went.
    """
    from .. import _io
    from .task import run_train

    dirs = VertexDirs.from_env() if dirs is None else dirs
    output_dir = request.output_model_dir
    checkpoint_dir = _io.local_path(dirs.checkpoint_dir) if dirs.checkpoint_dir else ""
    work_dir = checkpoint_dir or output_dir
    summary = run_train(dataclasses.replace(request, output_model_dir=work_dir))
    if checkpoint_dir and os.path.normpath(checkpoint_dir) != os.path.normpath(_io.local_path(output_dir)):
        publish_checkpoint(checkpoint_dir, _io.local_path(output_dir), summary["checkpoint"])
    summary["checkpoint_dir"] = work_dir
    if dirs.tensorboard_log_dir:
        summary["tensorboard_log_dir"] = dirs.tensorboard_log_dir
        copy_event_files(work_dir, _io.local_path(dirs.tensorboard_log_dir))
    return summary


def publish_checkpoint(source_dir: str, destination_dir: str, checkpoint_name: str) -> None:
    """Copies one checkpoint (data shards first, the .index last) and the graph into destination_dir.

    A checkpoint is only found once its .index exists, so a copy cut short is never taken for a checkpoint.
    """
    import tensorflow as tf

    prefix = os.path.join(source_dir, checkpoint_name)
    files = sorted(tf.io.gfile.glob(prefix + ".*"), key=lambda name: name.endswith(".index"))
    if not any(name.endswith(".index") for name in files):
        raise ValueError(f"checkpoint {prefix!r} has no .index file; it is not a complete checkpoint.")
    graph = os.path.join(source_dir, "graph.pbtxt")
    if tf.io.gfile.exists(graph):
        files.insert(0, graph)
    tf.io.gfile.makedirs(destination_dir)
    for name in files:
        tf.io.gfile.copy(name, os.path.join(destination_dir, os.path.basename(name)), overwrite=True)


def copy_event_files(source_dir: str, destination_dir: str) -> None:
    """Copies the estimator's TensorBoard event files (with their sub-folders) for Vertex TensorBoard."""
    import tensorflow as tf

    for directory, _, files in tf.io.gfile.walk(source_dir):
        events = [name for name in files if ".tfevents." in name]
        if not events:
            continue
        relative = os.path.relpath(directory, source_dir)
        target = destination_dir if relative == "." else os.path.join(destination_dir, relative)
        tf.io.gfile.makedirs(target)
        for name in events:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name), overwrite=True)

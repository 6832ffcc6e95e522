"""Which part a training process plays in a multi-node Vertex CustomJob, read from TF_CONFIG.

Vertex sets TF_CONFIG on every replica of a CustomJob (docs/pipelines.md cites the page): worker pool 0
is the `chief`, pool 1 the `worker`s. A job of one replica has a cluster of one chief and trains as a
single process; with workers, every training process builds the same MultiWorkerMirroredStrategy from
TF_CONFIG and trains one model with collective all-reduce (estimator_lib.distribute.multi_worker).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from estimator_lib.tf_config import parse_tf_config

TRAINING_JOBS = ("chief", "master", "worker")


def tf_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """TF_CONFIG as a dict ({} when unset), with a clear error when it is not a JSON object."""
    return parse_tf_config((os.environ if environ is None else environ).get("TF_CONFIG"))


def training_tasks(config: Mapping[str, Any]) -> int:
    """How many processes train together in the cluster TF_CONFIG describes (0 without a cluster)."""
    cluster = config.get("cluster") or {}
    return sum(len(cluster.get(job) or []) for job in TRAINING_JOBS)


def task_type(config: Mapping[str, Any]) -> str:
    """This process's task type ('' without a task)."""
    return str((config.get("task") or {}).get("type") or "")


def is_multi_worker(environ: Mapping[str, str] | None = None) -> bool:
    """True when TF_CONFIG puts this process in a cluster of several training processes."""
    return training_tasks(tf_config(environ)) > 1


def collective_strategy() -> Any:
    """A MultiWorkerMirroredStrategy for a multi-worker cluster (it reads TF_CONFIG), else None.

    Built in eager mode, before the estimator's graph, as the engine expects: it starts this task's
    server and sets up the collective ops every training process runs in lockstep.
    """
    if not is_multi_worker():
        return None
    import tensorflow as tf

    return tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy()

"""Reads evaluation results back from the event files `Estimator.evaluate` writes.

The event files are the durable record of every evaluation, so the best exporter and the early-stopping
hooks recover their state from them after a restart instead of keeping a second bookkeeping file.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

EVENT_FILE_GLOB = "*.tfevents.*"


def _scalar(value) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor":
        try:
            array = tf.make_ndarray(value.tensor)
        except Exception:  # a string or otherwise non-numeric tensor summary
            return None
        if array.size == 1 and np.issubdtype(array.dtype, np.number):
            return float(array.reshape(()))
    return None


def read_eval_results(file_pattern: str) -> dict[int, dict[str, float]]:
    """Returns {global_step: {metric_name: value}} from every event file matching `file_pattern`.

    Only scalar summaries are kept. A truncated record at the end of a file still being written is
    ignored (the writer finishes it later), so this is safe to call while an evaluation runs.
    """
    results: dict[int, dict[str, float]] = {}
    for path in sorted(tf.io.gfile.glob(file_pattern)):
        try:
            for event in tf.compat.v1.train.summary_iterator(path):
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    number = _scalar(value)
                    if number is not None:
                        results.setdefault(int(event.step), {})[value.tag] = number
        except (tf.errors.DataLossError, tf.errors.NotFoundError):
            continue
    for step, metrics in results.items():
        metrics.setdefault("global_step", step)
    return results


def eval_dir_pattern(eval_dir: str) -> str:
    """The glob matching the event files of one evaluation directory."""
    return os.path.join(eval_dir, EVENT_FILE_GLOB)

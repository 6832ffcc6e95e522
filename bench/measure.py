"""Measurements shared by every path: files on disk, exported signatures, steady predict rates."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np


def files_bytes(paths: Iterable[str]) -> int:
    """Total size of the given files."""
    return sum(os.path.getsize(p) for p in paths)


def tree_bytes(root: str) -> int:
    """Total size of every file under `root`."""
    total = 0
    for dirpath, _, names in os.walk(root):
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
    return total


def steady_rate(ends: list[float], examples_per_item: int) -> float | None:
    """Examples/sec between the first and the last item (the first absorbs start-up costs)."""
    if len(ends) < 2:
        return None
    return (len(ends) - 1) * examples_per_item / (ends[-1] - ends[0])


def signature_figures(export_dir: str, batches: np.ndarray) -> dict[str, Any]:
    """Loads a SavedModel in eager TF and times its serving signature on `batches` [n, B, ...]."""
    import tensorflow as tf

    t0 = time.perf_counter()
    loaded = tf.saved_model.load(export_dir, tags=["serve"])
    fn = loaded.signatures["serving_default"]
    load_s = time.perf_counter() - t0
    inputs = [tf.constant(b) for b in batches]
    t1 = time.perf_counter()
    _sync(fn(x=inputs[0]))
    first_s = time.perf_counter() - t1
    ends = [time.perf_counter()]
    for x in inputs[1:]:
        _sync(fn(x=x))
        ends.append(time.perf_counter())
    return {
        "sig_load_s": load_s,
        "sig_first_call_s": first_s,
        "sig_ex_s": steady_rate(ends, int(batches.shape[1])),
    }


def _sync(outputs: dict[str, Any]) -> None:
    for value in outputs.values():
        value.numpy()


def predict_batches(cfg: Any, n: int) -> np.ndarray:
    """`n` feature batches for predict, cycling over the synthetic data."""
    from bench.models import make_arrays

    x, _ = make_arrays(cfg)
    reps = -(-n // x.shape[0])
    return np.concatenate([x] * reps)[:n]

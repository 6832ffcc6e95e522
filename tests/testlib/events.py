"""Reading the scalars that training and evaluation wrote to TensorBoard event files."""

from __future__ import annotations

import collections
import glob
import os

import numpy as np
import tensorflow as tf


def read_scalars(directory: str, recursive: bool = False) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)], in file order, from the event files in `directory` (and its subfolders when
    `recursive`). Reads v1 summaries (`simple_value`) and TF2 ones (a one-element numeric tensor); string
    tensors such as an eval event's `checkpoint_path` are left out."""
    pattern = os.path.join(directory, "**", "events.out.tfevents.*") if recursive else os.path.join(
        directory, "events.out.tfevents.*")
    found: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    for path in sorted(glob.glob(pattern, recursive=recursive)):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    found[value.tag].append((event.step, value.simple_value))
                elif value.HasField("tensor"):
                    array = tf.make_ndarray(value.tensor)
                    if array.size == 1 and np.issubdtype(array.dtype, np.number):
                        found[value.tag].append((event.step, float(array.reshape(()))))
    return dict(found)

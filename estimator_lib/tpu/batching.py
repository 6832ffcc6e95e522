"""Batch reshaping for replicas: per-replica batches merged for splitting, and the last predict batch padded."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

MASK_OUTPUT = "_estimator_lib_padding_mask"
SINGLE_OUTPUT = "_estimator_lib_single_output"


def merge_replica_batches(dataset: Any, replicas: int) -> tf.data.Dataset:
    """PER_HOST_V2: input_fn made per-replica batches; R consecutive ones become one global batch, which
    the strategy splits back so replica i gets the i-th of them."""
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            "With PER_HOST_V2 input and several replicas, input_fn must return a tf.data.Dataset; received "
            f"{type(dataset).__name__}."
        )
    grouped = dataset.batch(replicas, drop_remainder=True)
    return grouped.map(
        lambda *parts: tf.nest.map_structure(
            lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], axis=0)), parts if len(parts) > 1 else parts[0]
        )
    )


def split_for_replicas(element: Any, replicas: int) -> list:
    """PER_HOST_V1 with tensors from input_fn: the global batch split along axis 0 into equal slices, replica i
    getting the i-th, as the original's infeed split the tensors of its one input_fn call per host."""
    flat = tf.nest.flatten(element)
    for tensor in flat:
        if not isinstance(tensor, tf.Tensor) or tensor.shape.rank == 0:
            raise TypeError(
                f"input_fn returned {tensor!r}: with several replicas, the tensors input_fn returns are split "
                "along the batch axis, so each must be a dense Tensor of rank >= 1. Return a tf.data.Dataset "
                "instead, or batch the values."
            )
        rows = tensor.shape[0]
        if rows is not None and rows % replicas:
            raise ValueError(
                f"input_fn returned {tensor.name} with {rows} rows, which do not split evenly over {replicas} "
                f"replicas; make the batch size a multiple of {replicas}."
            )
    slices = [tf.split(tensor, replicas, axis=0) for tensor in flat]
    return [tf.nest.pack_sequence_as(element, [parts[i] for parts in slices]) for i in range(replicas)]


def _pad_rows(tensor: tf.Tensor, batch_size: int) -> tf.Tensor:
    rows = tf.shape(tensor)[0]
    padding = [[0, batch_size - rows]] + [[0, 0]] * (tensor.shape.rank - 1)
    padded = tf.pad(tensor, padding)
    padded.set_shape([batch_size] + tensor.shape.as_list()[1:])
    return padded


def pad_batch(features: Any, batch_size: int, *, mask_key: str) -> tuple[Any, tf.Tensor]:
    """(features padded to `batch_size` rows, a 0/1 int32 mask of the padded rows), in the current graph.

    With dict features the mask is also given to model_fn as features[mask_key] ('is_padding'), as the
    TPUEstimator documents show; the padded rows are removed from predict()'s output.
    """
    first = tf.nest.flatten(features)[0]
    rows = tf.shape(first)[0]
    # tf.debugging.Assert, not assert_less_equal: half the ops, a third of the build time, same failure.
    message = f"a batch is larger than predict_batch_size={batch_size}: rows ="
    too_large = tf.debugging.Assert(rows <= batch_size, [message, rows])
    with tf.control_dependencies([too_large]):  # in a plain graph, nothing else would order the check first
        mask = tf.cast(tf.range(batch_size) >= rows, tf.int32)
        features = tf.nest.map_structure(lambda t: _pad_rows(t, batch_size), features)
    if isinstance(features, dict):
        features = {**features, mask_key: mask}
    return features, mask


def pad_final_batch(dataset: tf.data.Dataset, batch_size: int, *, mask_key: str) -> tf.data.Dataset:
    """Pads every batch to `batch_size` rows (only the last can be short) and adds a 0/1 padding mask.

    Each element becomes (features, mask), built by `pad_batch`. Replicated predict needs this inside the
    dataset, before the batch is split across replicas; on one device `pad_batch` on the fetched batch
    does the same without the cost of a traced map function (docs/benchmarks.md).
    """

    def pad(*element):
        # Dataset.map unpacks tuple elements: (features, labels) arrives as two arguments; labels are dropped.
        if len(element) > 2:
            raise ValueError(
                f"predict input_fn must yield features or (features, labels); its dataset yields {len(element)}-tuples."
            )
        # Labels are not used in PREDICT: the mask travels in their place to the host.
        return pad_batch(element[0], batch_size, mask_key=mask_key)

    # Plain graph code: autograph's conversion of `pad` cost about half of a first predict() (bench profile).
    return dataset.map(tf.autograph.experimental.do_not_convert(pad))


def drop_padding(batch: Any) -> Any:
    """Removes padded rows (mask == 1) from one batch of fetched predictions."""
    if not isinstance(batch, dict) or MASK_OUTPUT not in batch:
        return batch
    keep = np.asarray(batch[MASK_OUTPUT]) == 0
    kept = {key: np.asarray(value)[keep] for key, value in batch.items() if key != MASK_OUTPUT}
    return kept.get(SINGLE_OUTPUT, kept)

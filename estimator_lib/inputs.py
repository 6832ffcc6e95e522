"""Calling `input_fn` and turning what it returns into features and labels in the current graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib.fn_args import call_with_declared_args

v1 = tf.compat.v1

INPUT_FN_ARGS = ("params", "config", "mode", "input_context")


class IteratorInitializerHook(v1.train.SessionRunHook):
    """Initialises a dataset iterator once the session exists (datasets may hold stateful ops)."""

    def __init__(self, iterator):
        # Distributed iterators build their initializer lazily: build it now, before the graph is finalized.
        self._initializer = iterator.initializer

    def after_create_session(self, session, coord):
        session.run(self._initializer)


def call_input_fn(input_fn: Callable, *, mode: str, params: dict, config: Any, input_context: Any = None) -> Any:
    if not callable(input_fn):
        raise TypeError(f"input_fn must be callable; received {input_fn!r} of type {type(input_fn).__name__}.")
    available = {"params": params, "config": config, "mode": mode, "input_context": input_context}
    with tf.device("/cpu:0"):
        return call_with_declared_args(input_fn, available, role="input_fn")


def split_features_labels(element: Any) -> tuple[Any, Any]:
    """(features, labels) from a dataset element or an input_fn result; a bare element is features only."""
    if isinstance(element, (tuple, list)):
        if len(element) == 2:
            return element[0], element[1]
        raise ValueError(
            f"input_fn must return (features, labels) or features; received a {type(element).__name__} of "
            f"{len(element)} items. Pack extra tensors into the features dict."
        )
    return element, None


_TENSOR_TYPES = (tf.Tensor, tf.SparseTensor, tf.RaggedTensor, tf.Variable)


def as_tensors(value: Any, role: str) -> Any:
    """NumPy arrays, Python numbers and lists become constant Tensors (dict values one by one), as the
    original Estimator's model_fn saw them through TensorFlow's implicit conversion."""
    if value is None or isinstance(value, _TENSOR_TYPES):
        return value
    if isinstance(value, dict):
        return {key: as_tensors(item, f"{role}[{key!r}]") for key, item in value.items()}
    try:
        return tf.convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"input_fn {role} must be Tensors, NumPy arrays or Python values TensorFlow can convert; received "
            f"{value!r} of type {type(value).__name__} ({error})."
        ) from None


def check_features(features: Any) -> None:
    if features is None:
        raise ValueError("input_fn returned no features (None); return a dict of Tensors or a Tensor.")
    for item in tf.nest.flatten(features):
        if not isinstance(item, (tf.Tensor, tf.SparseTensor, tf.RaggedTensor)):
            raise TypeError(
                f"input_fn features must be Tensors or a dict of Tensors; found {item!r} of type {type(item).__name__}."
            )


def features_and_labels(result: Any) -> tuple[Any, Any, list]:
    """Features, labels and the hooks that feed them, from whatever input_fn returned."""
    hooks: list = []
    if isinstance(result, tf.data.Dataset):
        iterator = v1.data.make_initializable_iterator(result)
        hooks.append(IteratorInitializerHook(iterator))
        features, labels = split_features_labels(iterator.get_next())
    else:
        features, labels = split_features_labels(result)
        features, labels = as_tensors(features, "features"), as_tensors(labels, "labels")
    check_features(features)
    return features, labels, hooks


class PerReplicaInputs:
    """(features, labels) tensors for each replica, from an input_fn that returns tensors instead of a Dataset
    (TPUEstimator on several replicas: one call split across them, or one call per replica). Tensors are read
    once per session.run, so this input trains one step per run."""

    def __init__(self, elements: list):
        self.elements = elements  # (features, labels), or features alone, for replica 0, 1, ...

    def iterator(self, strategy: Any) -> _SameElementEachRun:
        """Stands in for the strategy's per-replica iterator: replica i gets elements[i]."""
        # The v1 strategies lack the public experimental_distribute_values_from_function.
        distribute = strategy.extended._experimental_distribute_values_from_function  # noqa: SLF001
        value = distribute(lambda context: self.elements[context.replica_id_in_sync_group])
        return _SameElementEachRun(value)


class _SameElementEachRun:
    """get_next() of a per-replica value whose tensors yield the next batch on each session.run."""

    def __init__(self, value: Any):
        self._value = value

    def get_next(self) -> Any:
        return self._value


def as_dataset(result: Any) -> tf.data.Dataset:
    """Distributed and looped execution need a Dataset; tensors from a queue-style input_fn cannot be split."""
    if isinstance(result, tf.data.Dataset):
        return result
    raise TypeError(
        "With a distribution strategy or iterations_per_loop > 1, input_fn must return a tf.data.Dataset of "
        f"(features, labels) or features; received {type(result).__name__}. Return the dataset itself."
    )

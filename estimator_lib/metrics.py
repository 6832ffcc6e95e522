"""Evaluation metrics: v1 `(value, update_op)` pairs and Keras metric objects, made uniform."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

_UPDATE_OP_TYPES = {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"}


def _tf_variable(variable: Any) -> tf.Variable:
    return getattr(variable, "value", variable) if not isinstance(variable, tf.Variable) else variable


def _components(variable: Any) -> list[tf.Variable]:
    """The plain variables behind one metric variable: itself, or each replica's copy under a strategy."""
    replicas = getattr(variable, "values", None)
    return list(replicas) if isinstance(replicas, tuple) else [variable]


def _result(metric: Any) -> tf.Tensor:
    """metric.result(), read across replicas when called in a replica of a distribution strategy."""
    if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
        return tf.distribute.get_replica_context().merge_call(lambda _strategy: metric.result())
    return metric.result()


def keras_metric_as_pair(metric: Any) -> tuple[tf.Tensor, tf.Operation]:
    """(result, update_op) for a Keras metric whose update_state() was called inside model_fn.

    Keras 3 returns nothing from update_state() in graph mode, so the update op is found in the graph:
    the assignments to the metric's variables other than their initializers. Its variables also move to
    the local collection, so checkpoints neither hold nor need them and each evaluation starts at zero.
    """
    graph = v1.get_default_graph()
    containers = [_tf_variable(v) for v in metric.variables]
    variables = [component for container in containers for component in _components(container)]
    handles = {id(v.handle) for v in variables}
    initializers = {v.initializer.name for v in variables}
    updates = []
    for op in graph.get_operations():
        if op.type in _UPDATE_OP_TYPES and op.name not in initializers and op.inputs and id(op.inputs[0]) in handles:
            updates.append(op)
    if not updates:
        raise ValueError(
            f"Keras metric {metric.name!r} was never updated in model_fn: call metric.update_state(labels, "
            "predictions) before returning it in eval_metric_ops."
        )
    global_vars = graph.get_collection_ref(v1.GraphKeys.GLOBAL_VARIABLES)
    moved = {id(v) for v in containers + variables}
    global_vars[:] = [v for v in global_vars if id(v) not in moved]
    for variable in variables:
        if variable not in graph.get_collection(v1.GraphKeys.LOCAL_VARIABLES):
            graph.add_to_collection(v1.GraphKeys.LOCAL_VARIABLES, variable)
        graph.add_to_collection(v1.GraphKeys.METRIC_VARIABLES, variable)
    return _result(metric), tf.group(*updates)


def as_pairs(eval_metric_ops: dict) -> dict[str, tuple[tf.Tensor, Any]]:
    pairs = {}
    for name, value in eval_metric_ops.items():
        pairs[name] = value if isinstance(value, tuple) else keras_metric_as_pair(value)
    return pairs


def scalar_summary(values: dict[str, Any]) -> v1.Summary:
    """A Summary proto with every scalar metric (non-scalars are skipped, as in the original)."""
    summary = v1.Summary()
    for name, value in values.items():
        array = np.asarray(value)
        if array.size == 1 and np.issubdtype(array.dtype, np.number):
            summary.value.add(tag=name, simple_value=float(array.reshape(())))
    return summary


_VARIABLE_WRITES = {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "Assign", "AssignAdd"}


def updates_wait_for(pairs: dict, tensors: Any) -> None:
    """Makes every variable write of the metric updates wait for this batch's tensors.

    Keras 3 metrics count rows from the static batch size, so their count update reads no input; when
    the input runs out, the final session.run would still bump the count and skew the result.
    """
    data_ops = [t.op for t in tf.nest.flatten(tensors, expand_composites=True) if t is not None]
    pending = [getattr(update, "op", update) for _, update in pairs.values()]
    seen = set()
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type == "NoOp":
            pending.extend(op.control_inputs)
        elif op.type in _VARIABLE_WRITES:
            op._add_control_inputs([d for d in data_ops if d not in op.control_inputs])  # noqa: SLF001

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


def _keras_metric_parts(metric: Any) -> tuple[list, list, list]:
    """The metric's variables, their per-replica copies, and the update ops update_state() built."""
    graph = v1.get_default_graph()
    containers = [_tf_variable(v) for v in metric.variables]
    variables = [component for container in containers for component in _components(container)]
    for variable in variables:
        if variable.graph is not graph:
            raise ValueError(
                f"Keras metric {metric.name!r} holds variable {variable.name!r} from another graph. Create the "
                "metric inside model_fn (or metric_fn), not at module level or in an earlier call."
            )
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
    return containers, variables, updates


def check_keras_metric(metric: Any) -> None:
    """Raises ValueError when a Keras metric has no updates or lives in another graph (as the original did
    when the EstimatorSpec was built)."""
    _keras_metric_parts(metric)


def keras_metric_as_pair(metric: Any) -> tuple[tf.Tensor, tf.Operation]:
    """(result, update_op) for a Keras metric whose update_state() was called inside model_fn.

    Keras 3 returns nothing from update_state() in graph mode, so the update op is found in the graph:
    the assignments to the metric's variables other than their initializers. Its variables also move to
    the local collection, so checkpoints neither hold nor need them and each evaluation starts at zero.
    """
    graph = v1.get_default_graph()
    containers, variables, updates = _keras_metric_parts(metric)
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


def eval_summary(values: dict[str, Any]) -> v1.Summary:
    """The Summary the original wrote for evaluate()'s results: numbers as scalars, NumPy arrays as tensor
    summaries, serialized Summary protos (tf.summary ops as metrics) merged in as '<name>/<i>'."""
    summary = v1.Summary()
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
            summary.value.add(tag=name, simple_value=float(value))
        elif isinstance(value, bytes):
            try:
                parsed = v1.Summary.FromString(value)
            except Exception:  # noqa: BLE001 - protobuf raises its own DecodeError
                tf.get_logger().warning("Skipping summary for %s: its bytes are not a serialized Summary.", name)
                continue
            for index, item in enumerate(parsed.value):
                item.tag = f"{name}/{index}"
            summary.value.extend(parsed.value)
        elif isinstance(value, np.ndarray):
            item = summary.value.add(tag=name, node_name=name)
            item.tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            tf.get_logger().warning(
                "Skipping summary for %s: a metric must be a number, a NumPy array or a serialized Summary; "
                "received %s.", name, type(value).__name__,
            )
    return summary


def checkpoint_path_summary(checkpoint_path: str) -> v1.Summary:
    """The 'checkpoint_path' string summary the original wrote next to evaluation results."""
    summary = v1.Summary()
    summary.value.add(tag="checkpoint_path", tensor=tf.make_tensor_proto(checkpoint_path, dtype=tf.string))
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

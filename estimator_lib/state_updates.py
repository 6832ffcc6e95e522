"""Keeps the state updates a `model_fn` builds in training (Keras 3 BatchNormalization's moving statistics).

A Keras 3 layer updates its non-trainable variables by plain `variable.assign(...)` calls. In a graph
those are ops nobody fetches: they are not in `UPDATE_OPS` and Keras 3 layers have no `.updates`, so
without help the moving mean and variance never move and evaluation, prediction and export use their
initial values. The Estimator therefore watches the ops each TRAIN-mode `model_fn` call creates and
makes the returned `train_op` also run every write to a non-trainable model variable that it does not
already run. Initializers (including `init_from_checkpoint`'s) and metric accumulators are left alone.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

v1 = tf.compat.v1

_WRITE_TYPES = {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "Assign", "AssignAdd", "AssignSub"}


class OpWindow:
    """Remembers where the current graph's op list ends, to list the ops created after it."""

    def __init__(self):
        self.graph = v1.get_default_graph()
        self._start = len(self.graph.get_operations())

    def new_ops(self) -> list:
        return self.graph.get_operations()[self._start :]


def _outermost(graph):
    while getattr(graph, "outer_graph", None) is not None:
        graph = graph.outer_graph
    return graph


def _source_handle(tensor: tf.Tensor) -> tf.Tensor:
    """The outermost-graph tensor a captured resource handle stands for (itself when not captured)."""
    graph = tensor.graph
    while getattr(graph, "outer_graph", None) is not None:
        external = None
        for outer, inner in getattr(graph, "captures", ()):
            if inner is tensor:
                external = outer
                break
        if external is None:
            return tensor
        tensor, graph = external, graph.outer_graph
    return tensor


def _plain_variables(variables: list) -> list:
    """Each variable, or the per-replica copies behind a distributed one."""
    plain = []
    for variable in variables:
        parts = getattr(variable, "values", None)
        plain.extend(parts if isinstance(parts, tuple) else [variable])
        plain.append(variable)
    return plain


def _handle_op_name(variable: Any) -> str | None:
    handle = getattr(variable, "handle", None)
    if handle is None:
        op = getattr(variable, "op", None)
        return getattr(op, "name", None)
    try:
        return handle.op.name
    except (AttributeError, ValueError):
        return None


def _ancestors(op) -> set:
    seen, pending = set(), [op]
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        pending.extend(tensor.op for tensor in current.inputs)
        pending.extend(current.control_inputs)
    return seen


_RESTORE_TYPES = ("RestoreV2", "Restore", "RestoreSlice")


def _fed_by_a_checkpoint(ops: list) -> set:
    """Names of the ops downstream of a checkpoint read (a Saver's restore, init_from_checkpoint): writes
    that load a checkpoint, not state updates."""
    pending = [op for op in ops if op.type in _RESTORE_TYPES]
    seen: set = set()
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        for output in op.outputs:
            pending.extend(output.consumers())
    return seen


def pending_state_updates(window: OpWindow, train_op: Any) -> list:
    """Writes to non-trainable model variables created in `window` that `train_op` does not run."""
    outer = _outermost(window.graph)
    with outer.as_default():
        model_vars = _plain_variables(outer.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
        trainable = _plain_variables(outer.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES))
        excluded = _plain_variables(
            outer.get_collection(v1.GraphKeys.LOCAL_VARIABLES) + outer.get_collection(v1.GraphKeys.METRIC_VARIABLES)
        )
    state_handles = {_handle_op_name(v) for v in model_vars} - {_handle_op_name(v) for v in trainable + excluded}
    state_handles.discard(None)
    initializers = set()
    for variable in model_vars:
        initializer = getattr(variable, "initializer", None)
        if initializer is not None:
            initializers.add(initializer.name)
    candidates = []
    new_ops = window.new_ops()
    restored = _fed_by_a_checkpoint(new_ops)
    for op in new_ops:
        if op.type not in _WRITE_TYPES or not op.inputs or op.name in initializers or op.name in restored:
            continue
        target = _source_handle(op.inputs[0]).op.name
        if target not in state_handles or op.name == f"{target}/Assign" or "checkpoint_initializer" in op.name:
            continue
        candidates.append(op)
    if not candidates:
        return []
    train_op_graph_op = getattr(train_op, "op", train_op)
    already = _ancestors(train_op_graph_op) if train_op_graph_op.graph is window.graph else set()
    return [op for op in candidates if op.name not in already]


def with_state_updates(spec: Any, window: OpWindow) -> Any:
    """The spec with a train_op that also runs the model's pending state updates (none: spec unchanged)."""
    train_op = getattr(spec, "train_op", None)
    if train_op is None or not hasattr(spec, "_replace"):
        return spec
    if not isinstance(train_op, (tf.Operation, tf.Tensor, tf.Variable)):
        return spec  # the spec's own validation names the bad train_op
    updates = pending_state_updates(window, train_op)
    if not updates:
        return spec
    updates += _replica_average(updates)
    return spec._replace(train_op=tf.group(train_op, *updates, name="train_op_with_state_updates"))


def _mirrored_targets(updates: list) -> list:
    """The mirrored variables (one copy per replica, no aggregation) that these writes change."""
    outer = _outermost(updates[0].graph)
    by_component = {}
    for variable in outer.get_collection(v1.GraphKeys.GLOBAL_VARIABLES):
        parts = getattr(variable, "values", None)
        if isinstance(parts, tuple) and len(parts) > 1:
            for part in parts:
                by_component[_handle_op_name(part)] = variable
    targets = []
    for op in updates:
        variable = by_component.get(_source_handle(op.inputs[0]).op.name)
        if variable is not None and all(variable is not seen for seen in targets):
            targets.append(variable)
    return targets


def _replica_average(updates: list) -> list:
    """Under a strategy, each replica writes its own copy of a Keras 3 state variable (aggregation
    'none'), so copies drift apart and a checkpoint keeps replica 0's. After every replica's writes,
    set all copies to their mean: the value the original's tf.keras layers saved (ON_READ, MEAN)."""
    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return []
    targets = _mirrored_targets(updates)
    if not targets:
        return []
    local_writes = tf.group(*updates)

    def average(strategy, writes):
        all_writes = list(strategy.experimental_local_results(writes))
        assigns = []
        with tf.control_dependencies(all_writes):
            for variable in targets:
                copies = list(variable.values)
                mean = tf.add_n([copy.read_value() for copy in copies]) / float(len(copies))
                assigns.extend(copy.assign(mean, read_value=False) for copy in copies)
        return tf.group(*assigns)

    synced = tf.distribute.get_replica_context().merge_call(average, args=(local_writes,))
    return [synced]

"""host_call: a function run on the host with tensors gathered from every replica (summaries, mostly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib.tpu.tpu_spec import call_fn_with_tensors

v1 = tf.compat.v1


class HostCallHook(v1.train.SessionRunHook):
    """Builds the host function over the gathered tensors and runs it with every training run.

    TF2 summary writers created inside the host function are initialised when the session starts and
    flushed at the end, so `tf.summary` events land in TensorBoard files.
    """

    def __init__(self, host_fn: Callable, gathered: Any, *, collection: str | None = None):
        """gathered: the concatenated tensors; or None, and they are read from the graph `collection` when
        the session is built (evaluation gathers them after model_fn has returned its spec)."""
        self._host_fn = host_fn
        self._gathered = gathered
        self._collection = collection
        self._fetches = None
        self._init_ops = []
        self._flush_ops = []

    def begin(self):
        graph = v1.get_default_graph()
        gathered = self._gathered
        if gathered is None and self._collection is not None:
            found = graph.get_collection(self._collection)
            gathered = found[0] if found else None
        if gathered is None:
            self._fetches = []
            return
        before = set(graph.get_collection(_WRITER_INIT))
        first_new_op = len(graph.get_operations())
        with tf.device("/cpu:0"):
            result = call_fn_with_tensors(self._host_fn, gathered)
        _writes_wait_for(graph.get_operations()[first_new_op:], gathered)
        fetches = [item for item in tf.nest.flatten(result) if item is not None]
        summary_ops = v1.summary.all_v2_summary_ops() or []
        self._fetches = fetches + [op for op in summary_ops if op not in fetches]
        self._init_ops = [op for op in graph.get_collection(_WRITER_INIT) if op not in before]
        # Each writer's init op takes the writer resource as its first input; flush those at the end.
        self._flush_ops = [tf.raw_ops.FlushSummaryWriter(writer=op.inputs[0]) for op in self._init_ops if op.inputs]

    def after_create_session(self, session, coord):
        if self._init_ops:
            session.run(self._init_ops)

    def before_run(self, run_context):
        return v1.train.SessionRunArgs(self._fetches)

    def end(self, session):
        if self._flush_ops:
            session.run(self._flush_ops)


_WRITER_INIT = "_SUMMARY_WRITER_V2"
EVAL_HOST_CALL = "estimator_lib_eval_host_call"  # evaluate(): the gathered host_call tensors


_WRITE_TYPES = {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "Assign", "AssignAdd", "If", "Case"}


def _writes_wait_for(ops: list, gathered: Any) -> None:
    """Summary writes (and variable writes) made by the host function wait for the gathered tensors.

    A summary of a value known from static shapes (tf.size of a fixed batch) reads no input, so on the
    run that reaches the end of the input it would still be written, once too often.
    """
    data_ops = [t.op for t in tf.nest.flatten(gathered)]
    for op in ops:
        if op.type.startswith("Write") or op.type in _WRITE_TYPES:
            op._add_control_inputs([d for d in data_ops if d not in op.control_inputs])  # noqa: SLF001

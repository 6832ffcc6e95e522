"""host_call: a function run on the host with tensors gathered from every replica (summaries, mostly)."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from estimator_lib.tpu.tpu_spec import call_fn_with_tensors

v1 = tf.compat.v1


class HostCallHook(v1.train.SessionRunHook):
    """Builds the host function over the gathered tensors and runs it with every training run.

    TF2 summary writers created inside the host function are initialised when the session starts and
    flushed at the end, so `tf.summary` events land in TensorBoard files.
    """

    def __init__(self, host_fn: Callable, gathered: Any):
        self._host_fn = host_fn
        self._gathered = gathered
        self._fetches = None
        self._init_ops = []
        self._flush_ops = []

    def begin(self):
        graph = v1.get_default_graph()
        before = set(graph.get_collection(_WRITER_INIT))
        with tf.device("/cpu:0"):
            result = call_fn_with_tensors(self._host_fn, self._gathered)
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

"""host_call: a function run on the host with tensors gathered from every replica (summaries, mostly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from estimator_lib import step_outfeed
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.tpu.tpu_spec import call_fn_with_tensors

v1 = tf.compat.v1


class HostCallHook(v1.train.SessionRunHook):
    """Builds the host function over the gathered tensors and runs it once per training step.

    `gathered` is either the tensors themselves (one step per run: the function runs in the same
    `session.run`) or a `StepOutfeed` filled by an iterations_per_loop loop (the function then runs once per
    queued step after each run, in step order, as the original's outfeed thread did). TF2 summary writers
    created inside the host function are initialised when the session starts and flushed at the end, so
    `tf.summary` events land in TensorBoard files.
    """

    def __init__(self, host_fn: Callable, gathered: Any, *, every_n_steps: int = 1):
        """every_n_steps: with a StepOutfeed, run the function on loop steps 0, n, 2n, ... only
        (TPUConfig.experimental_host_call_every_n_steps, counted within each loop as the original did)."""
        self._host_fn = host_fn
        self._every_n_steps = every_n_steps
        self._outfeed = gathered if isinstance(gathered, step_outfeed.StepOutfeed) else None
        self._gathered = gathered.dequeued if self._outfeed is not None else gathered
        self._fetches = None
        self._init_ops = []
        self._flush_ops = []

    def begin(self):
        graph = v1.get_default_graph()
        before = set(graph.get_collection(_WRITER_INIT))
        first_new_op = len(graph.get_operations())
        with tf.device("/cpu:0"):
            result = call_fn_with_tensors(self._host_fn, self._gathered)
        _writes_wait_for(graph.get_operations()[first_new_op:], self._gathered)
        fetches = [item for item in tf.nest.flatten(result) if item is not None]
        summary_ops = v1.summary.all_v2_summary_ops() or []
        self._fetches = fetches + [op for op in summary_ops if op not in fetches]
        if self._outfeed is not None:  # a step's function run must take its element off the queue
            self._fetches.append(tf.group(*tf.nest.flatten(self._gathered)))
        self._init_ops = [op for op in graph.get_collection(_WRITER_INIT) if op not in before]
        # Each writer's init op takes the writer resource as its first input; flush those at the end.
        self._flush_ops = [tf.raw_ops.FlushSummaryWriter(writer=op.inputs[0]) for op in self._init_ops if op.inputs]

    def after_create_session(self, session, coord):
        if self._init_ops:
            session.run(self._init_ops)

    def before_run(self, run_context):
        if self._outfeed is not None:
            return v1.train.SessionRunArgs(self._outfeed.size_after_loop)
        return v1.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context, run_values):
        if self._outfeed is not None:
            self._run_queued_steps(run_context.session, int(run_values.results))

    def end(self, session):
        if self._outfeed is not None:  # a loop cut short by the end of the input left its steps queued
            self._run_queued_steps(session, int(session.run(self._outfeed.size)))
        if self._flush_ops:
            session.run(self._flush_ops)

    def _run_queued_steps(self, session, steps: int) -> None:
        for step_in_loop in range(steps):
            session.run(self._fetches if step_in_loop % self._every_n_steps == 0 else self._outfeed.discard)


class HostSide(NamedTuple):
    """What a TPUEstimatorSpec hands from each replica's step to the host (`outputs`: the host_call tensors
    in training; those and the eval_metrics tensors in evaluation), and what the host builds from them once
    they are gathered across replicas: metric pairs from `metric_fn`, and a hook that runs `host_fn`."""

    outputs: Any
    metric_fn: Callable | None = None
    host_fn: Callable | None = None
    every_n_steps: int = 1

    @classmethod
    def of(cls, raw_spec: Any, mode: str, every_n_steps: int = 1) -> HostSide | None:
        """None when the spec sends nothing to the host (an EstimatorSpec, or no host_call/eval_metrics)."""
        host_call = getattr(raw_spec, "host_call", None)
        eval_metrics = getattr(raw_spec, "eval_metrics", None) if mode == ModeKeys.EVAL else None
        if mode == ModeKeys.PREDICT or (host_call is None and eval_metrics is None):
            return None
        if mode == ModeKeys.TRAIN:
            return cls(host_call[1], host_fn=host_call[0], every_n_steps=every_n_steps)
        outputs = {}
        if eval_metrics is not None:
            outputs["eval_metrics"] = eval_metrics[1]
        if host_call is not None:
            outputs["host_call"] = host_call[1]
        return cls(outputs, metric_fn=eval_metrics and eval_metrics[0], host_fn=host_call and host_call[0])

    def train_hooks(self, gathered: Any) -> list:
        """gathered: the concatenated host_call tensors, or the StepOutfeed of an iterations_per_loop loop."""
        if self.host_fn is None or gathered is None:
            return []
        return [HostCallHook(self.host_fn, gathered, every_n_steps=self.every_n_steps)]

    def eval_results(self, per_replica_outputs: list) -> tuple[dict, list]:
        """(metric name -> (value, update_op), hooks) from each replica's `outputs` for one batch."""
        from estimator_lib import loops, metrics
        from estimator_lib.spec import check_eval_metric_ops

        hooks = []
        if self.host_fn is not None:
            gathered = loops.concat_across_replicas([outputs["host_call"] for outputs in per_replica_outputs])
            hooks.append(HostCallHook(self.host_fn, gathered))
        if self.metric_fn is None:
            return {}, hooks
        tensors = loops.concat_across_replicas([outputs["eval_metrics"] for outputs in per_replica_outputs])
        with tf.device("/cpu:0"):
            metric_ops = call_fn_with_tensors(self.metric_fn, tensors)
        if not isinstance(metric_ops, dict):
            raise TypeError(
                f"eval_metrics' metric_fn must return a dict of name -> (value, update_op) or Keras Metric; it "
                f"returned {type(metric_ops).__name__}."
            )
        pairs = metrics.as_pairs(check_eval_metric_ops(metric_ops))
        metrics.updates_wait_for(pairs, tensors)
        return pairs, hooks


_WRITER_INIT = "_SUMMARY_WRITER_V2"


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

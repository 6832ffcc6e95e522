"""Running one step replicated over the TPU cores (`tpu.replicate`), for `loops`.

Under a TPU strategy, `strategy.extended.call_for_each_replica` calls the step once, on no TPU core
(tpu_strategy.py, `TPUExtended._call_for_each_replica`). The step is replicated here instead:
- training: `strategy.run` (`TPUExtended.tpu_run` -> `tpu.replicate`), one call per step of the
  host-side iterations_per_loop loop;
- evaluation and prediction: `extended.experimental_run_steps_on_iterator`, which replicates the step the
  same way and also makes v1 metrics create their value ops outside the TPU computation, on the host.
Each core reads its own slice of the batch; per-core outputs come back to the host in core order.
See docs/tpu.md ("How a step is replicated") for the reasons and the TensorFlow sources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

v1 = tf.compat.v1


def is_tpu_strategy(strategy: Any) -> bool:
    """A TPU strategy, v1 or v2 (both have the same `TPUExtended` underneath)."""
    if strategy is None:
        return False
    tpu_types = (
        v1.distribute.experimental.TPUStrategy, tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy
    )
    return isinstance(strategy, tpu_types) or type(strategy.extended).__name__ == "TPUExtended"


def run_replicated(strategy: Any, fn: Callable[[Any], Any], element: Any) -> Any:
    """fn(per-core element) on every core inside one `tpu.replicate`; returns PerReplica values.

    fn must return tensors only (no None): tpu.replicate passes each out of the TPU computation.
    """
    graph, first = v1.get_default_graph(), len(v1.get_default_graph().get_operations())
    # strategy.run autograph-converts fn unless told not to; model_fn code is plain graph code.
    result = strategy.run(tf.autograph.experimental.do_not_convert(fn), args=(element,))
    check_no_host_only_ops(graph.get_operations()[first:])
    check_initializers_on_host()
    return result


# Ops with no TPU kernel that model_fn code commonly makes: v1 summaries and prints (the ones TF's
# tpu_replication.py lists as unsupported) and Python functions.
HOST_ONLY_OPS = frozenset({
    "AudioSummary", "AudioSummaryV2", "HistogramSummary", "ImageSummary", "MergeSummary", "ScalarSummary",
    "TensorSummary", "TensorSummaryV2", "Print", "PrintV2", "PyFunc", "PyFuncStateless", "EagerPyFunc",
})


def _has_attr(op: tf.Operation, name: str) -> bool:
    try:
        op.get_attr(name)
    except (ValueError, AttributeError):
        return False
    return True


def check_no_host_only_ops(ops: list) -> None:
    """Refuses host-only ops inside the replicated computation, rather than letting them fail on the TPU
    (or, worse, run nowhere); ops wrapped in tpu.outside_compilation run on the host and are allowed."""
    found = [
        op for op in ops
        if op.type in HOST_ONLY_OPS
        and _has_attr(op, "_tpu_replicate")
        and not _has_attr(op, "_xla_outside_compilation")
    ]
    if found:
        names = ", ".join(f"{op.name} ({op.type})" for op in found[:5])
        raise ValueError(
            f"model_fn made op(s) that cannot run on a TPU core: {names}. On a TPU, model_fn runs replicated on "
            "the cores, where summaries, prints and Python functions have no kernel. Return the tensors through "
            "TPUEstimatorSpec(host_call=...) (training) or eval_metrics=... (evaluation), which run on the host, "
            "or wrap the call in tf.compat.v1.tpu.outside_compilation(fn, *tensors)."
        )


def check_initializers_on_host() -> None:
    """Variable initialisers must run on the host before training; init_from_checkpoint called inside
    model_fn would build its restore into the TPU computation, where it cannot run."""
    for variable in v1.global_variables():
        initializer = getattr(variable, "initializer", None)
        if not isinstance(initializer, tf.Operation):
            continue
        parts = [initializer] + list(initializer.control_inputs)
        if any(_has_attr(op, "_tpu_replicate") for op in parts):
            raise ValueError(
                f"The initialiser of variable {variable.name} was built inside the TPU computation, most likely "
                "by tf.compat.v1.train.init_from_checkpoint in model_fn. On a TPU call it in a scaffold_fn, which "
                "runs on the host: def scaffold_fn(): init_from_checkpoint(...); return tf.compat.v1.train.Scaffold(), "
                "then TPUEstimatorSpec(..., scaffold_fn=scaffold_fn)."
            )


def _inside_tpu_computation(tensor: tf.Tensor) -> bool:
    """True for ops built inside a tpu.replicate (TF marks them with the `_tpu_replicate` attribute)."""
    return _has_attr(tensor.op, "_tpu_replicate")


def run_replicated_once(strategy: Any, iterator: Any, fn: Callable[[Any], Any]) -> tuple[list, tf.Operation]:
    """One replicated step of fn over the next per-core element; returns (per-core results, run_op).

    fn's result may mix three kinds of leaves: tensors computed on the core (returned per core), tensors
    built outside the TPU computation (v1 metric values, which TF creates on the host; shared by every
    core's result) and operations (run with the step). The i-th result is fn's structure for core i.
    """
    captured: dict = {}
    graph, first = v1.get_default_graph(), len(v1.get_default_graph().get_operations())

    def step_fn(ctx, element):
        result = strategy.extended.call_for_each_replica(fn, args=(element,))
        flat = tf.nest.flatten(result, expand_composites=False)
        ops = [leaf for leaf in flat if isinstance(leaf, tf.Operation)]
        captured.update(structure=result, flat=flat)
        for index, leaf in enumerate(flat):
            if isinstance(leaf, tf.Tensor) and _inside_tpu_computation(leaf):
                # One output per tensor: TF hands each back as a PerReplica of its per-core values.
                ctx.set_last_step_output(_per_core_name(index), leaf)
        return tf.group(*ops) if ops else tf.no_op()

    context = strategy.extended.experimental_run_steps_on_iterator(step_fn, iterator, iterations=1)
    check_no_host_only_ops(graph.get_operations()[first:])
    check_initializers_on_host()
    per_core_values = {
        name: strategy.experimental_local_results(value) for name, value in context.last_step_outputs.items()
    }
    results = []
    for core in range(strategy.num_replicas_in_sync):
        leaves = []
        for index, leaf in enumerate(captured["flat"]):
            if _per_core_name(index) in per_core_values:
                leaves.append(per_core_values[_per_core_name(index)][core])
            elif isinstance(leaf, tf.Operation):
                leaves.append(context.run_op)
            else:
                leaves.append(leaf)
        results.append(tf.nest.pack_sequence_as(captured["structure"], leaves))
    return results, context.run_op


def _per_core_name(index: int) -> str:
    return f"per_core_{index}"


def session_target(strategy: Any) -> str:
    """The session target of a TPU strategy: its resolver's master ('' on a TPU VM, grpc://... for a node)."""
    resolver = getattr(strategy.extended, "_tpu_cluster_resolver", None)  # TPUExtended keeps it here (v1 and v2)
    return resolver.master() if resolver is not None else ""


def host_device(strategy: Any) -> str:
    """The CPU of the TPU host that runs the loop (the first worker's), where host-side state lives."""
    worker = tf.DeviceSpec.from_string(strategy.extended.worker_devices[0])
    return worker.replace(device_type="CPU", device_index=0).to_string()

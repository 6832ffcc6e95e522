"""How to run one or K model steps on any strategy; the Estimator decides when and how often.

A "step function" calls model_fn for one batch and returns its spec. This module wraps it:
- one device, K=1: the spec's tensors are used as they are, so every hook can fetch them;
- K>1: a `tf.while_loop` runs K steps inside one `session.run` (stopping early at `stop_at`);
- a strategy: `call_for_each_replica` runs the step on every replica, the loss is averaged;
- a TPU strategy: the step is replicated over the cores with `tpu.replicate` (`tpu/replication.py`),
  since the TPU strategy's `call_for_each_replica` runs it only once, on no core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from estimator_lib import inputs, step_outfeed, validation

v1 = tf.compat.v1

StepFn = Callable[[Any, Any], Any]  # (features, labels) -> spec


class TrainComputation(NamedTuple):
    loss: tf.Tensor  # the last step's loss (mean over replicas)
    train_op: Any
    input_hooks: list
    specs: list  # the spec of each replica (one per traced call)
    # The steps' extra outputs, concatenated across replicas (None when there are none): with one step per
    # run, tensors fetched with the run; in an iterations_per_loop loop, a StepOutfeed with one element a step.
    gathered: Any


def is_default_strategy(strategy: Any) -> bool:
    """None or TF's default (no-op) strategy; compared by type because inside a strategy's scope
    tf.distribute.get_strategy() returns that strategy, not the default."""
    return strategy is None or type(strategy).__name__.startswith("_DefaultDistributionStrategy")


def make_replica_iterator(strategy: Any, dataset: tf.data.Dataset):
    """A v1 per-replica iterator; works for v1 and v2 strategy objects in graph mode."""
    make = getattr(strategy, "make_dataset_iterator", None)
    if make is not None:
        return make(dataset)
    return strategy.extended._make_dataset_iterator(dataset)  # noqa: SLF001 - same object v1 strategies call


def _step_count_guard(global_step: tf.Variable, stop_at: int | None, i: tf.Tensor, steps_per_run: Any) -> tf.Tensor:
    keep_going = i < steps_per_run
    if stop_at is not None:
        keep_going = tf.logical_and(keep_going, global_step.read_value() < stop_at)
    return keep_going


def build_train(
    *,
    input_result: Any,
    step_fn: StepFn,
    strategy: Any,
    steps_per_run: Any,
    stop_at: int | None,
    global_step: tf.Variable,
) -> TrainComputation:
    """step_fn(features, labels) -> (spec, extra); extra (or None) is gathered across replicas, and in an
    iterations_per_loop loop queued on the host once per step."""
    replicated = not is_default_strategy(strategy)
    one_step_per_run = isinstance(steps_per_run, int) and steps_per_run == 1
    if not replicated and one_step_per_run:
        features, labels, hooks = inputs.features_and_labels(input_result)
        spec, extra = step_fn(features, labels)
        return TrainComputation(spec.loss, spec.train_op, hooks, [spec], extra)
    if not one_step_per_run and not isinstance(input_result, tf.data.Dataset):
        # Tensors (an iterator's get_next(), a queue) are read once per session.run, not once per loop step;
        # tf.estimator's TPUEstimator fed them one step per run (off the TPU, and through its infeed thread's
        # one enqueue run per step on it), and so does this.
        raise OneStepPerRunNeeded("an input_fn that returns tensors instead of a tf.data.Dataset")

    iterator, hooks = _input_iterator(input_result, strategy)
    specs: list = []
    one_step = _one_step(iterator, step_fn, strategy, specs)
    if one_step_per_run:
        loss, extra = one_step()
        return TrainComputation(loss, loss.op, hooks, specs, extra)

    loss, outfeed = _loop(one_step, strategy, steps_per_run, stop_at, global_step)
    construct = loop_incompatible_construct(v1.get_default_graph(), specs)
    if construct is not None:
        raise OneStepPerRunNeeded(construct)
    return TrainComputation(loss, loss.op, hooks, specs, outfeed)


def _input_iterator(input_result: Any, strategy: Any) -> tuple[Any, list]:
    if isinstance(input_result, inputs.PerReplicaInputs):
        return input_result.iterator(strategy), []
    dataset = inputs.as_dataset(input_result)
    if is_default_strategy(strategy):
        iterator = v1.data.make_initializable_iterator(dataset)
    else:
        iterator = make_replica_iterator(strategy, dataset)
    return iterator, [inputs.IteratorInitializerHook(iterator)]


def _one_step(iterator: Any, step_fn: StepFn, strategy: Any, specs: list) -> Callable[[], tuple[tf.Tensor, Any]]:
    """A function building one training step over the next element: (loss, extra gathered on the host)."""
    replicated = not is_default_strategy(strategy)

    def one_step_on_replica(element):
        features, labels = inputs.split_features_labels(element)
        inputs.check_features(features)
        spec, extra = step_fn(features, labels)
        specs.append(spec)
        with tf.control_dependencies([spec.train_op]):
            outputs = {"loss": tf.cast(tf.identity(spec.loss), tf.float32)}
            if extra is not None:  # left out, not None: a replicated TPU computation returns tensors only
                outputs["extra"] = tf.nest.map_structure(tf.identity, extra)
        return outputs

    def one_step():
        element = iterator.get_next()
        if not replicated:
            outputs = one_step_on_replica(element)
            return outputs["loss"], outputs.get("extra")
        per_replica = _run_on_replicas(strategy, one_step_on_replica, element)
        per_replica_extra = per_replica.get("extra")
        loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica["loss"], axis=None)
        extra = None
        if per_replica_extra is not None:
            extra = concat_across_replicas(
                [strategy.experimental_local_results(part) for part in tf.nest.flatten(per_replica_extra)],
                structure=per_replica_extra,
                strategy=strategy,
            )
        return loss, extra

    return one_step


def _loop(
    one_step: Callable[[], tuple[tf.Tensor, Any]],
    strategy: Any,
    steps_per_run: Any,
    stop_at: int | None,
    global_step: tf.Variable,
) -> tuple[tf.Tensor, step_outfeed.StepOutfeed | None]:
    """Up to steps_per_run steps in one while_loop, stopping at stop_at; each step's extra outputs go to a
    queue on the host. Returns the last step's loss and the queue (None without extra outputs)."""
    outfeeds: list = []
    host = _host_device(strategy)

    def body(i, _):
        loss, extra = one_step()
        if extra is None:
            return i + 1, loss
        if not outfeeds:
            capacity = steps_per_run if isinstance(steps_per_run, int) else step_outfeed.MAX_STEPS_PER_LOOP
            outfeeds.append(step_outfeed.StepOutfeed(extra, capacity=capacity, device=host))
        with tf.device(host):
            enqueued = outfeeds[0].enqueue(extra)
        with tf.control_dependencies([enqueued]):
            return i + 1, tf.identity(loss)

    _, loss = v1.while_loop(
        lambda i, _: _step_count_guard(global_step, stop_at, i, steps_per_run),
        body,
        [tf.constant(0), tf.constant(0.0, dtype=tf.float32)],
        parallel_iterations=1,
        name="iterations_per_loop",
    )
    if not outfeeds:
        return loss, None
    outfeeds[0].set_loop_result(loss)
    return loss, outfeeds[0]


class OneStepPerRunNeeded(Exception):
    """model_fn made something that cannot live inside the iterations_per_loop loop (named by `construct`);
    the caller rebuilds the graph with one step per session.run."""

    def __init__(self, construct: str):
        super().__init__(construct)
        self.construct = construct


_V1_SUMMARY_OPS = {"ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary", "AudioSummaryV2",
                   "TensorSummary", "TensorSummaryV2", "MergeSummary"}


def _from_other_graph(value: Any, graph: tf.Graph) -> bool:
    return isinstance(value, (tf.Tensor, tf.Operation)) and value.graph is not graph


def _graph_elements(obj: Any) -> list:
    """Tensors and operations an object (a hook, a scaffold) holds, one level into dicts and lists."""
    found = []
    for value in vars(obj).values() if hasattr(obj, "__dict__") else []:
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        found += [item for item in items if isinstance(item, (tf.Tensor, tf.Operation))]
    return found


def loop_incompatible_construct(graph: tf.Graph, specs: list) -> str | None:
    """What model_fn built inside the loop body (a function graph) that the session needs in `graph`:
    variable initialisers changed by init_from_checkpoint, v1 summaries (merged by the summary saver),
    hooks or scaffold ops holding model tensors. None when everything can stay in the loop."""
    for variable in v1.global_variables() + v1.local_variables():
        initializer = getattr(variable, "initializer", None)
        if _from_other_graph(initializer, graph):
            return "tf.compat.v1.train.init_from_checkpoint in model_fn"
    for summary in graph.get_collection(v1.GraphKeys.SUMMARIES):
        if _from_other_graph(summary, graph):
            kind = summary.op.type if summary.op.type in _V1_SUMMARY_OPS else "summary"
            return f"tf.compat.v1.summary ({kind} '{summary.op.name}') in model_fn"
    for spec in specs[:1]:
        for hook in list(spec.training_hooks) + list(spec.training_chief_hooks):
            if any(_from_other_graph(item, graph) for item in _graph_elements(hook)):
                return f"{type(hook).__name__} on model_fn tensors"
        if spec.scaffold is not None and any(_from_other_graph(item, graph) for item in _graph_elements(spec.scaffold)):
            return "a Scaffold holding ops built in model_fn"
    return None


class ReplicatedEval(NamedTuple):
    per_replica_outputs: list  # what each replica's step returned, for host-side gathering
    specs: list
    input_hooks: list


def _host_device(strategy: Any) -> str | None:
    """Where host-side state of the loop lives: the TPU host's CPU on a TPU, else wherever TF places it."""
    from estimator_lib.tpu import replication

    if replication.is_tpu_strategy(strategy):
        return replication.host_device(strategy)
    return None


def _run_on_replicas(strategy: Any, fn: Callable[[Any], Any], element: Any) -> Any:
    """fn on every replica: replicated over the cores on a TPU, call_for_each_replica elsewhere."""
    from estimator_lib.tpu import replication

    if replication.is_tpu_strategy(strategy):
        return replication.run_replicated(strategy, fn, element)
    return strategy.extended.call_for_each_replica(fn, args=(element,))


def build_eval(*, input_result: Any, step_fn: Callable[[Any, Any], tuple[Any, Any]], strategy: Any) -> ReplicatedEval:
    """Runs step_fn (returning (spec, outputs_to_gather)) once per replica for one batch."""
    specs: list = []
    if is_default_strategy(strategy):
        features, labels, hooks = inputs.features_and_labels(input_result)
        spec, outputs = step_fn(features, labels)
        return ReplicatedEval([outputs], [spec], hooks)

    iterator, hooks = _input_iterator(input_result, strategy)

    def on_replica(element):
        features, labels = inputs.split_features_labels(element)
        inputs.check_features(features)
        spec, outputs = step_fn(features, labels)
        specs.append(spec)
        return outputs

    from estimator_lib.tpu import replication

    if replication.is_tpu_strategy(strategy):
        per_core, _ = replication.run_replicated_once(strategy, iterator, on_replica)
        return ReplicatedEval(per_core, specs, hooks)
    per_replica = strategy.extended.call_for_each_replica(on_replica, args=(iterator.get_next(),))
    local = list(strategy.experimental_local_results(per_replica))
    return ReplicatedEval(local, specs, hooks)


def concat_across_replicas(per_replica: list, *, structure: Any = None, strategy: Any = None) -> Any:
    """Host-side gather: each replica's batch-major tensors concatenated along axis 0, in replica order.

    This is the one place where eval_metrics tensors, host_call tensors and predictions are merged.
    Called either with a list of per-replica structures, or (with `structure`) with a list holding, for
    each flattened tensor, the tuple of its per-replica parts.
    """
    if structure is not None:
        merged = [parts[0] if len(parts) == 1 else _concat(parts) for parts in per_replica]
        template = tf.nest.map_structure(lambda _: 0, structure, expand_composites=False)
        return tf.nest.pack_sequence_as(template, merged)
    if len(per_replica) == 1:
        return per_replica[0]
    return tf.nest.map_structure(lambda *parts: _concat(parts), *per_replica)


def _concat(parts: Any) -> tf.Tensor:
    validation.check_batch_major(list(parts), "Tensors gathered from replicas (eval_metrics, host_call, predictions)")
    return tf.concat(list(parts), axis=0)

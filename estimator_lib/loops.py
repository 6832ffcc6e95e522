"""How to run one or K model steps on any strategy; the Estimator decides when and how often.

A "step function" calls model_fn for one batch and returns its spec. This module wraps it:
- one device, K=1: the spec's tensors are used as they are, so every hook can fetch them;
- K>1: a `tf.while_loop` runs K steps inside one `session.run` (stopping early at `stop_at`);
- a strategy: `call_for_each_replica` runs the step on every replica, the loss is averaged.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import tensorflow as tf

from estimator_lib import inputs

v1 = tf.compat.v1

StepFn = Callable[[Any, Any], Any]  # (features, labels) -> spec


class TrainComputation(NamedTuple):
    loss: tf.Tensor  # the last step's loss (mean over replicas)
    train_op: Any
    input_hooks: list
    specs: list  # the spec of each replica (one per traced call)


def is_default_strategy(strategy: Any) -> bool:
    return strategy is None or strategy is tf.distribute.get_strategy()


def make_replica_iterator(strategy: Any, dataset: tf.data.Dataset):
    """A v1 per-replica iterator; works for v1 and v2 strategy objects in graph mode."""
    make = getattr(strategy, "make_dataset_iterator", None)
    if make is not None:
        return make(dataset)
    return strategy.extended._make_dataset_iterator(dataset)  # noqa: SLF001 - same object v1 strategies call


def _step_count_guard(global_step: tf.Variable, stop_at: int | None, i: tf.Tensor, steps_per_run: int) -> tf.Tensor:
    keep_going = i < steps_per_run
    if stop_at is not None:
        keep_going = tf.logical_and(keep_going, global_step.read_value() < stop_at)
    return keep_going


def build_train(
    *,
    input_result: Any,
    step_fn: StepFn,
    strategy: Any,
    steps_per_run: int,
    stop_at: int | None,
    global_step: tf.Variable,
) -> TrainComputation:
    specs: list = []
    replicated = not is_default_strategy(strategy)

    if not replicated and steps_per_run == 1:
        features, labels, hooks = inputs.features_and_labels(input_result)
        spec = step_fn(features, labels)
        return TrainComputation(spec.loss, spec.train_op, hooks, [spec])

    dataset = inputs.as_dataset(input_result)
    hooks: list = []
    if replicated:
        iterator = make_replica_iterator(strategy, dataset)
        hooks.append(inputs._IteratorInitializerHook(iterator))  # noqa: SLF001
    else:
        iterator = v1.data.make_initializable_iterator(dataset)
        hooks.append(inputs._IteratorInitializerHook(iterator))  # noqa: SLF001

    def one_step_on_replica(element):
        features, labels = inputs.split_features_labels(element)
        inputs.check_features(features)
        spec = step_fn(features, labels)
        specs.append(spec)
        with tf.control_dependencies([spec.train_op]):
            return tf.identity(spec.loss)

    def one_step():
        element = iterator.get_next()
        if not replicated:
            return one_step_on_replica(element)
        per_replica_loss = strategy.extended.call_for_each_replica(one_step_on_replica, args=(element,))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica_loss, axis=None)

    if steps_per_run == 1:
        loss = one_step()
        return TrainComputation(loss, loss.op, hooks, specs)

    def body(i, _):
        return i + 1, tf.cast(one_step(), tf.float32)

    _, loss = v1.while_loop(
        lambda i, _: _step_count_guard(global_step, stop_at, i, steps_per_run),
        body,
        [tf.constant(0), tf.constant(0.0, dtype=tf.float32)],
        parallel_iterations=1,
        name="iterations_per_loop",
    )
    return TrainComputation(loss, loss.op, hooks, specs)


class ReplicatedEval(NamedTuple):
    update_op: Any
    per_replica_outputs: list  # what each replica's step returned, for host-side gathering
    specs: list
    input_hooks: list


def build_eval(*, input_result: Any, step_fn: Callable[[Any, Any], tuple[Any, Any]], strategy: Any) -> ReplicatedEval:
    """Runs step_fn (returning (spec, outputs_to_gather)) once per replica for one batch."""
    specs: list = []
    if is_default_strategy(strategy):
        features, labels, hooks = inputs.features_and_labels(input_result)
        spec, outputs = step_fn(features, labels)
        return ReplicatedEval(None, [outputs], [spec], hooks)

    dataset = inputs.as_dataset(input_result)
    iterator = make_replica_iterator(strategy, dataset)
    hooks = [inputs._IteratorInitializerHook(iterator)]  # noqa: SLF001

    def on_replica(element):
        features, labels = inputs.split_features_labels(element)
        inputs.check_features(features)
        spec, outputs = step_fn(features, labels)
        specs.append(spec)
        return outputs

    per_replica = strategy.extended.call_for_each_replica(on_replica, args=(iterator.get_next(),))
    local = list(strategy.experimental_local_results(per_replica))
    return ReplicatedEval(None, local, specs, hooks)


def concat_across_replicas(per_replica: list) -> Any:
    """Host-side gather: each replica's batch-major tensors concatenated along axis 0, in replica order.

    This is the one place where eval_metrics tensors, host_call tensors and predictions are merged.
    """
    if len(per_replica) == 1:
        return per_replica[0]
    return tf.nest.map_structure(lambda *parts: tf.concat(parts, axis=0), *per_replica)

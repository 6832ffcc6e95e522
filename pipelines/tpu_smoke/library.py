"""Stage (d): this library on the TPU, through its public API only: TPUEstimator(use_tpu=True) trains a
linear model with iterations_per_loop=4 to max_steps=9 (loops of 4, 4 and a partial 1) with a host_call,
then evaluates and predicts. It checks the final step, a finite falling loss, a TPUReplicateMetadata in
the training graph and TPU execute ops in the partition graphs that ran, which catches a silent CPU
fallback."""

from __future__ import annotations

import glob
import math
import os
from typing import Any

from . import probe
from .graph import TPU_EXECUTE_OPS

ITERATIONS_PER_LOOP = 4
MAX_STEPS = 9
PER_CORE_BATCH = 8
PREDICT_EXAMPLES = 21  # not a multiple of the batch: the last batch is padded, padding must be dropped


def _data(n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32") + 0.5).astype("float32")
    return x, y


def _input_fn(n: int, seed: int, *, repeat: bool, labels: bool = True):
    def input_fn(params):
        import tensorflow as tf

        x, y = _data(n, seed)
        dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, y) if labels else {"x": x})
        if repeat:
            dataset = dataset.repeat()
        return dataset.batch(params["batch_size"], drop_remainder=repeat)

    return input_fn


def _model_fn(features, labels, mode, params):
    import tensorflow as tf

    from estimator_lib import ModeKeys
    from estimator_lib.tpu import TPUEstimatorSpec

    v1 = tf.compat.v1
    w = v1.get_variable("w", [4, 1], initializer=v1.zeros_initializer())
    b = v1.get_variable("b", [1], initializer=v1.zeros_initializer())
    prediction = tf.matmul(features["x"], w) + b
    if mode == ModeKeys.PREDICT:
        return TPUEstimatorSpec(mode, predictions={"y": prediction})
    loss = tf.reduce_mean(tf.square(prediction - labels))
    if mode == ModeKeys.EVAL:
        def metric_fn(labels, prediction):
            return {"mae": v1.metrics.mean_absolute_error(labels, prediction)}

        return TPUEstimatorSpec(mode, loss=loss, eval_metrics=(metric_fn, [labels, prediction]))
    # The step this update completes, read before the optimizer increments it (an unordered read of the
    # global step races with the increment and can log one step twice).
    completed_step = v1.train.get_global_step().read_value() + 1
    with tf.control_dependencies([completed_step]):
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=v1.train.get_global_step())
    summary_dir = params["summary_dir"]

    def host_call(step, loss):
        with tf.summary.create_file_writer(summary_dir).as_default():
            return [tf.summary.scalar("loss", loss[0], step=step[0])]

    return TPUEstimatorSpec(mode, loss=loss, train_op=train_op,
                            host_call=(host_call, [tf.reshape(completed_step, [1]), tf.reshape(loss, [1])]))


def _graph_probe():
    """A SessionRunHook that records the replicated computations of the graph and the op types of
    every partition graph that ran (RunOptions(output_partition_graphs=True))."""
    import tensorflow as tf

    from estimator_lib import SessionRunHook

    from .graph import partition_op_types, replicate_metadata

    class GraphProbe(SessionRunHook):
        def __init__(self):
            self.replicate_metadata: list[int] = []
            self.partition_ops: set[str] = set()

        def begin(self):
            self.replicate_metadata = replicate_metadata(tf.compat.v1.get_default_graph())

        def before_run(self, run_context):
            options = tf.compat.v1.RunOptions(output_partition_graphs=True)
            return tf.compat.v1.train.SessionRunArgs(fetches=None, options=options)

        def after_run(self, run_context, run_values):
            self.partition_ops |= partition_op_types(run_values.run_metadata)

    return GraphProbe()


def _logged_losses(summary_dir: str) -> list[tuple[int, float]]:
    import tensorflow as tf

    losses = []
    for path in sorted(glob.glob(os.path.join(summary_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "loss":
                    losses.append((int(event.step), float(tf.make_ndarray(value.tensor))))
    return sorted(losses)


def run(expected_cores: int | None = None, *, workdir: str, use_tpu: bool = True) -> dict[str, Any]:
    """use_tpu=False runs the same checks on this machine's CPU: they must then report the fallback."""
    missing = probe.missing_pjrt_plugin()
    if missing:
        return probe.failed_without_tpu("library", FileNotFoundError(missing), pjrt=probe.pjrt_requested())
    details: dict[str, Any] = {"pjrt": probe.pjrt_requested(), "use_tpu": use_tpu}
    cores = expected_cores or 1
    batch = PER_CORE_BATCH * cores
    model_dir = os.path.join(workdir, "model")
    summary_dir = os.path.join(model_dir, "host_call")
    try:
        from estimator_lib.tpu import RunConfig, TPUConfig, TPUEstimator

        config = RunConfig(model_dir=model_dir, tf_random_seed=1,
                           tpu_config=TPUConfig(iterations_per_loop=ITERATIONS_PER_LOOP))
        estimator = TPUEstimator(_model_fn, config=config, use_tpu=use_tpu, params={"summary_dir": summary_dir},
                                 train_batch_size=batch, eval_batch_size=batch, predict_batch_size=batch)
        train_probe, eval_probe = _graph_probe(), _graph_probe()
        estimator.train(_input_fn(256, 0, repeat=True), max_steps=MAX_STEPS, hooks=[train_probe])
        metrics = estimator.evaluate(_input_fn(256, 1, repeat=True), steps=2, hooks=[eval_probe])
        predictions = list(estimator.predict(_input_fn(PREDICT_EXAMPLES, 2, repeat=False, labels=False)))
    except Exception as error:  # noqa: BLE001 - the stage reports whatever stops it
        return probe.failed_without_tpu("library", error, **details)
    losses = _logged_losses(summary_dir)
    final_step = int(estimator.get_variable_value("global_step"))
    executed = sorted((train_probe.partition_ops | eval_probe.partition_ops) & TPU_EXECUTE_OPS)
    values = [loss for _, loss in losses]
    checks = {
        "final_step_is_9": final_step == MAX_STEPS,
        "host_call_logged_each_step": [step for step, _ in losses] == list(range(1, MAX_STEPS + 1)),
        "loss_finite_and_falling": bool(values) and all(math.isfinite(v) for v in values) and values[-1] < values[0],
        "evaluate_finite": all(math.isfinite(float(v)) for v in metrics.values()) and int(metrics["global_step"]) == 9,
        "predict_keeps_every_example": len(predictions) == PREDICT_EXAMPLES,
        # Without partition graphs the next check could not see TPU ops even where they ran.
        "partition_graphs_captured": bool(train_probe.partition_ops) and bool(eval_probe.partition_ops),
        "tpu_replicate_metadata_in_train_graph": bool(train_probe.replicate_metadata),
        "tpu_execute_ops_in_partition_graphs": bool(executed),
    }
    details.update(final_step=final_step, losses=losses, eval={k: float(v) for k, v in metrics.items()},
                   predictions=len(predictions), replicate_metadata_num_replicas=train_probe.replicate_metadata,
                   tpu_execute_ops=executed)
    return probe.checked("library", checks, **details)

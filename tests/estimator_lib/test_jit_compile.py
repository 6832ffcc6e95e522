"""RunConfig(jit_compile=True) compiles the model_fn's training step with XLA, and only that."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig
from estimator_lib.tpu import RunConfig as TPURunConfig
from estimator_lib.tpu import TPUConfig, TPUEstimator, TPUEstimatorSpec

v1 = tf.compat.v1


class _TracedNodes(v1.train.SessionRunHook):
    """Traces the second training run and keeps the names of the nodes that executed."""

    def __init__(self):
        self.runs = 0
        self.names: set = set()

    def before_run(self, run_context):
        self.runs += 1
        if self.runs == 2:
            return v1.train.SessionRunArgs(None, options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE))
        return None

    def after_run(self, run_context, run_values):
        if self.runs == 2:
            stats = run_values.run_metadata.step_stats.dev_stats
            self.names = {node.node_name for device in stats for node in device.node_stats}


def _compiled(names: set) -> bool:
    return any(name.endswith("xla_compile") or "_XlaCompile" in name for name in names)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_jit_compile_must_be_a_bool(value):
    with pytest.raises(ValueError, match=r"jit_compile must be True .* or False; received"):
        RunConfig(jit_compile=value)


def test_jit_compile_is_replaceable_and_kept_by_the_tpu_config():
    config = RunConfig().replace(jit_compile=True)
    assert config.jit_compile and not RunConfig().jit_compile
    tpu_config = TPURunConfig(tpu_config=TPUConfig(iterations_per_loop=3), jit_compile=True).replace(model_dir="/tmp/x")
    assert tpu_config.jit_compile and tpu_config.tpu_config.iterations_per_loop == 3


@pytest.mark.parametrize("jit", [False, True])
def test_the_training_step_runs_as_an_xla_cluster_only_when_asked(tmp_path, jit):
    hook = _TracedNodes()
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=RunConfig(jit_compile=jit))
    estimator.train(make_input_fn(), steps=4, hooks=[hook])
    assert _compiled(hook.names) is jit, sorted(hook.names)
    assert estimator.get_variable_value("global_step") == 4
    # Evaluation and prediction build a new session per call; they are not compiled (a compile per call).
    assert "mae" in estimator.evaluate(make_input_fn(), steps=2)


def test_ops_xla_cannot_compile_stay_outside_the_cluster(tmp_path):
    """py_function, string ops and summaries have no XLA kernels: they run as ordinary ops beside the
    compiled step, so such a model_fn trains (and learns) the same way with and without the switch."""

    def model_fn(features, labels, mode, params):
        x = tf.py_function(lambda t: t, [features["x"]], tf.float32)
        x.set_shape([None, 2])
        text_length = tf.strings.length(tf.strings.as_string(tf.reduce_sum(x)))
        v1.summary.scalar("text_length", text_length)
        return linear_model_fn({"x": x + 0.0 * tf.cast(text_length, tf.float32)}, labels, mode, params)

    losses = {}
    for jit in (False, True):
        estimator = Estimator(model_fn, model_dir=str(tmp_path / str(jit)), config=RunConfig(jit_compile=jit))
        hook = _TracedNodes()
        estimator.train(make_input_fn(), steps=30, hooks=[hook])
        assert _compiled(hook.names) is jit
        losses[jit] = estimator.evaluate(make_input_fn(), steps=4)["loss"]
    assert losses[True] < 0.05 and np.isclose(losses[True], losses[False], rtol=1e-3, atol=1e-5)


def test_tpu_estimator_loop_on_two_virtual_replicas_compiles_each_step(tmp_path):
    def model_fn(features, labels, mode, params):
        spec = linear_model_fn(features, labels, mode, params)
        return TPUEstimatorSpec(mode=mode, loss=spec.loss, train_op=spec.train_op)

    def input_fn(params):
        return make_input_fn(batch=params["batch_size"])().unbatch().batch(params["batch_size"], drop_remainder=True)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = TPURunConfig(
        tpu_config=TPUConfig(iterations_per_loop=5), jit_compile=True, train_distribute=strategy
    )
    hook = _TracedNodes()
    estimator = TPUEstimator(model_fn, model_dir=str(tmp_path), config=config, use_tpu=False, train_batch_size=8)
    estimator.train(input_fn, max_steps=15, hooks=[hook])
    assert estimator.get_variable_value("global_step") == 15
    assert _compiled(hook.names), sorted(hook.names)

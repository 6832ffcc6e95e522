"""Keras 3 layers that update non-trainable state (BatchNormalization) keep those updates in training,
on one device, under MirroredStrategy and inside the iterations_per_loop loop; compared with NumPy."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from estimator_lib import tpu
from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
MOMENTUM = 0.5
BATCH = 8
STEPS = 10


def _data():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 3)) * [1.0, 2.0, 3.0] + 5.0).astype(np.float32)
    y = (rng.uniform(size=64) > 0.5).astype(np.int32)
    return x, y


def _input_fn(params=None):
    x, y = _data()
    return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH, drop_remainder=True)


def _bn_model_fn(features, labels, mode, params):
    normalized = keras.layers.BatchNormalization(momentum=MOMENTUM)(features, training=mode == ModeKeys.TRAIN)
    logits = keras.layers.Dense(2)(normalized)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
    spec_class = tpu.TPUEstimatorSpec if params.get("tpu_spec") else EstimatorSpec
    return spec_class(mode, loss=loss, train_op=train_op)


def _expected_moving_stats(replicas: int):
    """Keras' rule moving = moving * momentum + batch_stat * (1 - momentum), per replica shard, averaged."""
    x, _ = _data()
    mean, variance = np.zeros(3), np.ones(3)
    for step in range(STEPS):
        start = (step * BATCH) % len(x)
        shards = np.split(x[start : start + BATCH].astype(np.float64), replicas)
        mean = mean * MOMENTUM + np.mean([s.mean(0) for s in shards], axis=0) * (1 - MOMENTUM)
        variance = variance * MOMENTUM + np.mean([s.var(0) for s in shards], axis=0) * (1 - MOMENTUM)
    return mean, variance


def _check_moving_stats(estimator, replicas: int) -> None:
    mean, variance = _expected_moving_stats(replicas)
    got_mean = estimator.get_variable_value("batch_normalization/moving_mean")
    got_variance = estimator.get_variable_value("batch_normalization/moving_variance")
    np.testing.assert_allclose(got_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(got_variance, variance, rtol=1e-4)


def test_batch_norm_moving_statistics_follow_numpy_on_one_device(tmp_path):
    estimator = Estimator(_bn_model_fn, str(tmp_path), params={}, config=RunConfig(log_step_count_steps=0))
    estimator.train(_input_fn, max_steps=STEPS)
    _check_moving_stats(estimator, replicas=1)


def test_batch_norm_moving_statistics_follow_numpy_under_mirrored_strategy(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = RunConfig(train_distribute=strategy, log_step_count_steps=0)
    estimator = Estimator(_bn_model_fn, str(tmp_path), params={}, config=config)
    estimator.train(_input_fn, max_steps=STEPS)
    # Each replica normalises its half of the global batch; the saved statistics are the replicas' mean.
    _check_moving_stats(estimator, replicas=2)


def test_batch_norm_moving_statistics_follow_numpy_inside_the_iterations_loop(tmp_path):
    config = tpu.RunConfig(log_step_count_steps=0, tpu_config=tpu.TPUConfig(iterations_per_loop=5))
    estimator = tpu.TPUEstimator(
        _bn_model_fn, str(tmp_path), use_tpu=False, train_batch_size=BATCH, params={"tpu_spec": True}, config=config
    )
    estimator.train(_input_fn, max_steps=STEPS)
    _check_moving_stats(estimator, replicas=1)


class _StepCounter(keras.layers.Layer):
    """A layer whose only state is a non-trainable counter it bumps on every training call."""

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, inputs, training=False):
        if training:
            self.count.assign_add(1.0)
        return inputs


def test_any_layer_state_update_runs_once_per_step_and_checkpoint_initializers_do_not(tmp_path):
    """A non-trainable variable initialised from a checkpoint keeps counting from there: its initializer is
    not mistaken for a state update and replayed each step."""
    start_dir = tmp_path / "start"
    with tf.Graph().as_default():
        seed = v1.get_variable("seed_count", initializer=10.0)
        with v1.Session() as session:
            session.run(seed.initializer)
            v1.train.Saver([seed]).save(session, str(start_dir / "model.ckpt"))

    def model_fn(features, labels, mode):
        counter = _StepCounter(name="counter")
        out = counter(features, training=mode == ModeKeys.TRAIN)
        v1.train.init_from_checkpoint(str(start_dir), {"seed_count": counter.count.value})
        w = v1.get_variable("w", [3, 1], initializer=v1.zeros_initializer())
        loss = tf.reduce_mean(tf.square(tf.matmul(out, w) - tf.cast(labels[:, None], tf.float32)))
        train_op = v1.train.GradientDescentOptimizer(0.0).minimize(loss, v1.train.get_global_step())
        return EstimatorSpec(mode, loss=loss, train_op=train_op)

    estimator = Estimator(model_fn, str(tmp_path / "model"), config=RunConfig(log_step_count_steps=0))
    estimator.train(_input_fn, max_steps=7)
    assert estimator.get_variable_value("counter/count") == pytest.approx(17.0)


def test_eval_after_training_uses_the_learned_statistics(tmp_path):
    """Evaluation normalises with the moving statistics; had they stayed at 0/1 the inputs (mean 5) would not
    be centred. The mean of the normalised eval batch is near zero only with learned statistics."""

    def model_fn(features, labels, mode):
        normalized = keras.layers.BatchNormalization(momentum=MOMENTUM)(features, training=mode == ModeKeys.TRAIN)
        logits = keras.layers.Dense(2)(normalized)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        if mode == ModeKeys.EVAL:
            return EstimatorSpec(mode, loss=loss, eval_metric_ops={"centred": v1.metrics.mean(normalized)})
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
        return EstimatorSpec(mode, loss=loss, train_op=train_op)

    estimator = Estimator(model_fn, str(tmp_path), config=RunConfig(log_step_count_steps=0))
    estimator.train(_input_fn, max_steps=40)
    result = estimator.evaluate(_input_fn, steps=8)
    assert abs(result["centred"]) < 0.5


def test_batch_norm_moving_statistics_with_replicas_inside_the_iterations_loop(tmp_path):
    """TPUEstimator on two replicas (virtual CPUs) with iterations_per_loop=5: the loop body calls model_fn
    once per replica, and the replicas' copies are averaged after each step, inside the loop."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = tpu.RunConfig(
        log_step_count_steps=0, train_distribute=strategy, tpu_config=tpu.TPUConfig(iterations_per_loop=5)
    )
    estimator = tpu.TPUEstimator(
        _bn_model_fn, str(tmp_path), use_tpu=True, train_batch_size=BATCH, params={"tpu_spec": True}, config=config
    )
    estimator.train(_input_fn, max_steps=STEPS)
    _check_moving_stats(estimator, replicas=2)

"""A tiny linear-regression model_fn and inputs for the train_and_evaluate tests (a few ms per step)."""

import numpy as np
import tensorflow as tf

from estimator_lib.export import ServingInputReceiver
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
TRUE_W = np.array([[1.0], [-2.0], [0.5], [3.0]], dtype=np.float32)


def data(n: int = 64, seed: int = 0):
    x = np.random.RandomState(seed).uniform(-1, 1, size=(n, 4)).astype(np.float32)
    return x, x @ TRUE_W


def train_input_fn(batch_size: int = 8):
    def input_fn():
        x, y = data()
        return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).repeat().batch(batch_size)

    return input_fn


def eval_input_fn(seed: int = 1):
    def input_fn():
        x, y = data(32, seed)
        return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(16)

    return input_fn


def model_fn(features, labels, mode, params):
    w = v1.get_variable("w", [4, 1], initializer=v1.zeros_initializer())
    predictions = tf.matmul(features["x"], w)
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions={"y": predictions})
    loss = tf.reduce_mean(tf.square(predictions - labels))
    if mode == ModeKeys.EVAL:
        return EstimatorSpec(mode, loss=loss, eval_metric_ops={"mae": v1.metrics.mean_absolute_error(labels, predictions)})
    optimizer = v1.train.GradientDescentOptimizer(params.get("learning_rate", 0.1))
    train_op = optimizer.minimize(loss, global_step=v1.train.get_global_step())
    return EstimatorSpec(mode, loss=loss, train_op=train_op)


def serving_input_receiver_fn():
    x = v1.placeholder(tf.float32, [None, 4], name="x")
    return ServingInputReceiver({"x": x}, {"x": x})


def make_estimator(model_dir, **config):
    """An Estimator over model_fn with test-friendly defaults (checkpoint every 10 steps, quiet logs)."""
    from estimator_lib.estimator import Estimator
    from estimator_lib.run_config import RunConfig

    config.setdefault("save_checkpoints_steps", 10)
    config.setdefault("log_step_count_steps", 0)
    config.setdefault("save_summary_steps", 0)
    return Estimator(model_fn, model_dir=str(model_dir), config=RunConfig(**config))

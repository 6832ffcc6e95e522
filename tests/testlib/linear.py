"""The tiny linear regression most tests train: raw TF ops, `tf.compat.v1.get_variable`, a v1 optimizer and a
v1 metric, as the seeds' model_fns are written. It learns y = x @ [1, -2] + 0.5 in a few dozen steps of a
few milliseconds each, so tests can afford to train it for real."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from estimator_lib.export import ServingInputReceiver
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1

TRUE_W = np.array([[1.0], [-2.0]], dtype=np.float32)
TRUE_B = 0.5


def make_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(-1, 1) in 2-D and y = x @ [1, -2] + 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    y = (x @ TRUE_W + TRUE_B).astype(np.float32)
    return x, y


def make_input_fn(n: int = 64, batch: int = 8, repeat: bool = True, labels: bool = True, seed: int = 0):
    """An input_fn returning a Dataset of ({'x': [b, 2]}, y [b, 1]) (or features only)."""
    x, y = make_data(n, seed)

    def input_fn():
        if labels:
            dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, y))
        else:
            dataset = tf.data.Dataset.from_tensor_slices({"x": x})
        if repeat:
            dataset = dataset.repeat()
        return dataset.batch(batch)

    return input_fn


def train_input_fn(batch_size: int = 8):
    """Endless training batches of the 64 examples of seed 0."""
    return make_input_fn(batch=batch_size)


def eval_input_fn(seed: int = 1):
    """One pass over 32 held-out examples (another seed gives another evaluation set), 16 a batch."""
    return make_input_fn(n=32, batch=16, repeat=False, seed=seed)


def linear_net(features) -> tf.Tensor:
    x = features["x"] if isinstance(features, dict) else features
    w = v1.get_variable("w", [2, 1], initializer=v1.zeros_initializer())
    b = v1.get_variable("b", [1], initializer=v1.zeros_initializer())
    return tf.matmul(x, w) + b


def linear_model_fn(features, labels, mode, params):
    """Linear regression with a mean-squared-error loss, plain SGD (`params['learning_rate']`, default 0.2)
    and a mean-absolute-error metric."""
    y = linear_net(features)
    predictions = {"y": y, "doubled": 2.0 * y}
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode=mode, predictions=predictions)
    loss = tf.reduce_mean(tf.square(y - labels))
    optimizer = v1.train.GradientDescentOptimizer(params.get("learning_rate", 0.2))
    train_op = optimizer.minimize(loss, global_step=v1.train.get_global_step())
    return EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op,
        eval_metric_ops={"mae": v1.metrics.mean_absolute_error(labels, y)},
    )


model_fn = linear_model_fn


def serving_input_receiver_fn() -> ServingInputReceiver:
    """A float placeholder `x` of shape [None, 2], fed to the model as features['x']."""
    x = v1.placeholder(tf.float32, [None, 2], name="x")
    return ServingInputReceiver({"x": x}, {"x": x})


def make_estimator(model_dir, **config):
    """An Estimator over the linear model with test-friendly defaults: a checkpoint every 10 steps, no step
    logging, no summaries. Keyword arguments go to RunConfig."""
    from estimator_lib.estimator import Estimator
    from estimator_lib.run_config import RunConfig

    config.setdefault("save_checkpoints_steps", 10)
    config.setdefault("log_step_count_steps", 0)
    config.setdefault("save_summary_steps", 0)
    return Estimator(linear_model_fn, model_dir=str(model_dir), config=RunConfig(**config))

"""Tiny real models, input_fns, a recording hook and event-file readers shared by the estimator tests."""

from __future__ import annotations

import collections
import glob
import os

import numpy as np
import tensorflow as tf

from estimator_lib.hooks import SessionRunHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1

TRUE_W = np.array([[1.0], [-2.0]], dtype=np.float32)
TRUE_B = 0.5
TRAINED_STEPS = 40  # steps of the shared trained model (conftest.trained_linear_dir)


def make_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(-1, 1) in 2-D and y = x @ [1, -2] + 0.5: a linear model learns it in a few dozen steps."""
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


def linear_net(features) -> tf.Tensor:
    x = features["x"] if isinstance(features, dict) else features
    w = v1.get_variable("w", [2, 1], initializer=v1.zeros_initializer())
    b = v1.get_variable("b", [1], initializer=v1.zeros_initializer())
    return tf.matmul(x, w) + b


def linear_model_fn(features, labels, mode, params):
    """Linear regression from raw TF ops and tf.compat.v1.get_variable, with a v1 optimizer and metric."""
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


class RecordingHook(SessionRunHook):
    """Counts every hook call, so tests can check which hooks ran and how often."""

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()

    def begin(self):
        self.calls["begin"] += 1

    def after_create_session(self, session, coord):
        self.calls["after_create_session"] += 1

    def before_run(self, run_context):
        self.calls["before_run"] += 1

    def after_run(self, run_context, run_values):
        self.calls["after_run"] += 1

    def end(self, session):
        self.calls["end"] += 1


def read_scalars(directory: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar summary in the event files of `directory`: tag -> [(step, value)], in file order."""
    found: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    found[value.tag].append((event.step, value.simple_value))
                elif value.HasField("tensor"):
                    array = tf.make_ndarray(value.tensor)
                    if array.size == 1 and np.issubdtype(array.dtype, np.number):  # not 'checkpoint_path'
                        found[value.tag].append((event.step, float(array.reshape(()))))
    return dict(found)


def checkpoint_steps(model_dir: str) -> list[int]:
    """The global steps of the checkpoints present in model_dir (from their index files), sorted."""
    steps = []
    for index in glob.glob(os.path.join(model_dir, "model.ckpt-*.index")):
        steps.append(int(os.path.basename(index)[len("model.ckpt-") : -len(".index")]))
    return sorted(steps)

"""The EstimatorSpec examples of the seed documents (shared/seeds/002_*.txt and 003_*.txt), run as written.

Only the import differs: `tf` below is TensorFlow with `tf.estimator` pointing at estimator_lib, which is
what a user gets by changing `tf.estimator` imports. The seeds' `...` are filled with a linear model.
Both documents' styles (every field in every mode / only the fields of the mode) and both argument orders
(`features, labels, mode` in 002, `mode, features, labels` in 003) run through train, evaluate, predict.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as _tensorflow
from est_testlib import make_data, make_input_fn

import estimator_lib
from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig


class _TensorFlowWithEstimator:
    """`import tensorflow as tf` after migration: tf.estimator.* resolves to estimator_lib.*."""

    def __getattr__(self, name):
        return estimator_lib if name == "estimator" else getattr(_tensorflow, name)


tf = _TensorFlowWithEstimator()


def _predictions(features):
    w = tf.compat.v1.get_variable("w", [2, 1], initializer=tf.compat.v1.zeros_initializer())
    b = tf.compat.v1.get_variable("b", [1], initializer=tf.compat.v1.zeros_initializer())
    return tf.matmul(features["x"], w) + b


def _loss(predictions, labels):
    if labels is None:  # PREDICT mode has no labels; the all-fields style still builds a loss
        labels = tf.zeros_like(predictions)
    return tf.reduce_mean(tf.square(predictions - labels))


def _train_op(loss):
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.2)
    return optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())


# ---- 002, first example: every field whatever the mode -----------------------------------------------------
def my_model_fn_002_all_fields(features, labels, mode):
    predictions = _predictions(features)
    loss = _loss(predictions, labels)
    train_op = _train_op(loss)
    return tf.estimator.EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op)


# ---- 002, second example: only the fields of the mode ----------------------------------------------------
def my_model_fn_002_per_mode(features, labels, mode):
    if (mode == tf.estimator.ModeKeys.TRAIN or
        mode == tf.estimator.ModeKeys.EVAL):
        loss = _loss(_predictions(features), labels)
    else:
        loss = None
    if mode == tf.estimator.ModeKeys.TRAIN:
        train_op = _train_op(loss)
    else:
        train_op = None
    if mode == tf.estimator.ModeKeys.PREDICT:
        predictions = _predictions(features)
    else:
        predictions = None

    return tf.estimator.EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op)


# ---- 003: the same two examples with the arguments in the order (mode, features, labels) -------------------
def my_model_fn_003_all_fields(mode, features, labels):
    predictions = _predictions(features)
    loss = _loss(predictions, labels)
    train_op = _train_op(loss)
    return tf.estimator.EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op)


def my_model_fn_003_per_mode(mode, features, labels):
    if (mode == tf.estimator.ModeKeys.TRAIN or
        mode == tf.estimator.ModeKeys.EVAL):
        loss = _loss(_predictions(features), labels)
    else:
        loss = None
    if mode == tf.estimator.ModeKeys.TRAIN:
        train_op = _train_op(loss)
    else:
        train_op = None
    if mode == tf.estimator.ModeKeys.PREDICT:
        predictions = _predictions(features)
    else:
        predictions = None

    return tf.estimator.EstimatorSpec(
        mode=mode,
        predictions=predictions,
        loss=loss,
        train_op=train_op)


@pytest.mark.parametrize(
    "model_fn",
    [my_model_fn_002_all_fields, my_model_fn_002_per_mode, my_model_fn_003_all_fields, my_model_fn_003_per_mode],
)
def test_seed_example_trains_evaluates_predicts(model_fn, tmp_path):
    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=RunConfig(log_step_count_steps=0, tf_random_seed=1))
    estimator.train(make_input_fn(), steps=30)
    assert estimator.get_variable_value("global_step") == 30
    w, b = estimator.get_variable_value(["w", "b"])

    results = estimator.evaluate(make_input_fn(n=16, repeat=False, seed=1))
    x, y = make_data(16, seed=1)
    assert set(results) == {"loss", "global_step"}
    assert results["loss"] == pytest.approx(float(np.mean((x @ w + b - y) ** 2)), rel=1e-4)
    assert results["loss"] < 0.1

    predictions = np.stack(list(estimator.predict(make_input_fn(n=16, repeat=False, labels=False, seed=1))))
    np.testing.assert_allclose(predictions, x @ w + b, rtol=1e-5, atol=1e-6)

    # train_op was returned in every mode by the all-fields style: evaluate and predict never ran it.
    assert estimator.get_variable_value("global_step") == 30
    np.testing.assert_array_equal(estimator.get_variable_value("w"), w)

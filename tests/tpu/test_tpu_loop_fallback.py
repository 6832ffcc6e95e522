"""Constructs that cannot be built inside the iterations_per_loop loop (issue 13, item 1).

`scaffold_fn` runs outside the loop, as in the original, so init_from_checkpoint there keeps the loop.
init_from_checkpoint, v1 summaries and LoggingTensorHook on model tensors in model_fn make training fall
back to one step per session.run with a one-line warning naming the construct, never a crash.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import StepRecorder, read_event_scalars

from estimator_lib import tpu

v1 = tf.compat.v1
K, MAX_STEPS = 10, 20


@pytest.fixture(scope="module")
def init_checkpoint(tmp_path_factory) -> str:
    """A checkpoint holding w = [3.0], to initialise from."""
    directory = tmp_path_factory.mktemp("init_from")
    with tf.Graph().as_default():
        v1.get_variable("w", [1], initializer=tf.constant_initializer(3.0))
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return v1.train.Saver().save(session, str(directory / "init.ckpt"))


def input_fn(params):
    x = np.ones([64, 1], np.float32)
    return tf.data.Dataset.from_tensor_slices((x, 2 * x)).repeat().batch(params["batch_size"], drop_remainder=True)


def make_model_fn(construct: str, checkpoint: str):
    def model_fn(features, labels, mode, params):
        w = v1.get_variable("w", [1], initializer=v1.zeros_initializer())
        if construct == "init_from_checkpoint":
            v1.train.init_from_checkpoint(checkpoint, {"w": "w"})
        loss = tf.reduce_mean(tf.square(features * w - labels))
        if construct == "summary":
            v1.summary.scalar("my_loss", loss)
        hooks = [v1.train.LoggingTensorHook({"my_loss": loss}, every_n_iter=1)] if construct == "logging" else []

        def scaffold_fn():
            v1.train.init_from_checkpoint(checkpoint, {"w": "w"})
            return v1.train.Scaffold()

        # Learning rate 0: w keeps whatever it was initialised to.
        train_op = v1.train.GradientDescentOptimizer(0.0).minimize(loss, v1.train.get_global_step())
        return tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op, training_hooks=hooks,
                                    scaffold_fn=scaffold_fn if construct == "scaffold_fn" else None)

    return model_fn


def train(construct: str, checkpoint: str, model_dir) -> tuple[tpu.TPUEstimator, StepRecorder]:
    config = tpu.RunConfig(
        model_dir=str(model_dir), save_summary_steps=5, tpu_config=tpu.TPUConfig(iterations_per_loop=K)
    )
    estimator = tpu.TPUEstimator(make_model_fn(construct, checkpoint), use_tpu=False, train_batch_size=8, config=config)
    recorder = StepRecorder()
    estimator.train(input_fn, max_steps=MAX_STEPS, hooks=[recorder])
    return estimator, recorder


def _fallback_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "training runs one step per session.run" in r.getMessage()]


def test_init_from_checkpoint_in_scaffold_fn_keeps_the_loop(init_checkpoint, tmp_path, caplog):
    estimator, recorder = train("scaffold_fn", init_checkpoint, tmp_path)
    np.testing.assert_allclose(estimator.get_variable_value("w"), [3.0])
    assert recorder.steps_after == [10, 20]
    assert not _fallback_warnings(caplog)


def test_init_from_checkpoint_in_model_fn_falls_back_to_one_step_per_run(init_checkpoint, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    estimator, recorder = train("init_from_checkpoint", init_checkpoint, tmp_path)
    np.testing.assert_allclose(estimator.get_variable_value("w"), [3.0])
    assert recorder.steps_after == list(range(1, MAX_STEPS + 1))
    (warning,) = _fallback_warnings(caplog)
    assert "iterations_per_loop=10" in warning and "tf.compat.v1.train.init_from_checkpoint in model_fn" in warning


def test_a_v1_summary_in_model_fn_falls_back_and_is_written(init_checkpoint, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    _, recorder = train("summary", init_checkpoint, tmp_path)
    assert recorder.steps_after[-1] == MAX_STEPS and recorder.runs == MAX_STEPS
    (warning,) = _fallback_warnings(caplog)
    assert "tf.compat.v1.summary (ScalarSummary 'my_loss') in model_fn" in warning
    steps = sorted(step for step, _ in read_event_scalars(str(tmp_path))["my_loss"])
    # About every save_summary_steps=5 steps (TF 2.20 and 2.21 place the points one step apart), which a
    # loop of 10 steps per run could not give.
    assert steps[0] == 1 and len(steps) >= MAX_STEPS // 5


def test_a_logging_hook_on_model_tensors_falls_back_and_logs(init_checkpoint, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _, recorder = train("logging", init_checkpoint, tmp_path)
    assert recorder.runs == MAX_STEPS
    (warning,) = _fallback_warnings(caplog)
    assert "LoggingTensorHook on model_fn tensors" in warning
    assert sum("my_loss = " in r.getMessage() for r in caplog.records) == MAX_STEPS


def test_an_input_fn_returning_tensors_falls_back_and_trains(tmp_path, caplog):
    """(features, labels) tensors from an iterator, as older TPU programs wrote input_fn: the original trained
    with them off the TPU; here too, one step per run, with the warning."""
    caplog.set_level(logging.WARNING)

    def tensor_input_fn(params):
        x = np.arange(64, dtype=np.float32).reshape([64, 1]) / 64
        dataset = tf.data.Dataset.from_tensor_slices((x, 2 * x)).repeat().batch(params["batch_size"])
        return v1.data.make_one_shot_iterator(dataset).get_next()

    def model_fn(features, labels, mode, params):
        w = v1.get_variable("w", [1], initializer=v1.zeros_initializer())
        loss = tf.reduce_mean(tf.square(features * w - labels))
        train_op = v1.train.GradientDescentOptimizer(0.5).minimize(loss, v1.train.get_global_step())
        return tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op)

    config = tpu.RunConfig(model_dir=str(tmp_path), tpu_config=tpu.TPUConfig(iterations_per_loop=K))
    estimator = tpu.TPUEstimator(model_fn, use_tpu=False, train_batch_size=8, config=config)
    recorder = StepRecorder()
    estimator.train(tensor_input_fn, max_steps=MAX_STEPS, hooks=[recorder])
    assert recorder.steps_after == list(range(1, MAX_STEPS + 1))
    assert estimator.get_variable_value("w")[0] > 0.5  # it learned towards w = 2 from the tensors it read
    (warning,) = _fallback_warnings(caplog)
    assert "an input_fn that returns tensors instead of a tf.data.Dataset" in warning


def test_a_later_train_call_starts_at_one_step_per_run_without_a_second_warning(init_checkpoint, tmp_path, caplog):
    """The fallback is remembered: the same model_fn would refuse the loop again, so later calls neither build
    the loop graph nor repeat the warning."""
    caplog.set_level(logging.WARNING)
    estimator, _ = train("summary", init_checkpoint, tmp_path)
    recorder = StepRecorder()
    estimator.train(input_fn, max_steps=MAX_STEPS + 3, hooks=[recorder])
    assert recorder.steps_after == [MAX_STEPS + 1, MAX_STEPS + 2, MAX_STEPS + 3]
    assert len(_fallback_warnings(caplog)) == 1

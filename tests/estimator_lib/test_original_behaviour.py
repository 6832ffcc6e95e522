"""Estimator behaviour that tf.estimator 2.15 documented or tested and that programs rely on: input_fn
results, loss shapes, metric names and structures, the eval event file, model_dir and task guards, and the
progress line's step numbering."""

from __future__ import annotations

import glob
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_data, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
QUIET = dict(log_step_count_steps=0, save_summary_steps=0)


def _numpy_input_fn():
    x, y = make_data(8)
    return {"x": x}, y  # NumPy arrays, no tensors


def _eval_events(eval_dir: str) -> list:
    events = []
    for path in sorted(glob.glob(os.path.join(eval_dir, "*.tfevents.*"))):
        events.extend(event for event in v1.train.summary_iterator(path) if event.HasField("summary"))
    return events


# ---- input_fn results -------------------------------------------------------------------------------------
def test_input_fn_returning_numpy_arrays_trains_evaluates_and_predicts(tmp_path):
    estimator = Estimator(linear_model_fn, str(tmp_path), config=RunConfig(**QUIET))
    estimator.train(_numpy_input_fn, steps=3)
    assert estimator.get_variable_value("global_step") == 3
    assert estimator.evaluate(_numpy_input_fn, steps=1)["global_step"] == 3
    first = next(estimator.predict(lambda: {"x": make_data(8)[0]}))
    assert first["y"].shape == (1,)


def test_input_fn_returning_python_lists_as_a_list_pair(tmp_path):
    """A two-item list is (features, labels), like a tuple; Python lists become constant tensors."""

    def input_fn():
        return [{"x": [[1.0, 0.0], [0.0, 1.0]]}, [[1.5], [-1.5]]]

    estimator = Estimator(linear_model_fn, str(tmp_path), config=RunConfig(**QUIET))
    estimator.train(input_fn, steps=2)
    assert estimator.get_variable_value("global_step") == 2


def test_input_fn_returning_three_items_is_refused(tmp_path):
    estimator = Estimator(linear_model_fn, str(tmp_path), config=RunConfig(**QUIET))
    with pytest.raises(
        ValueError, match="input_fn must return \\(features, labels\\) or features; received a list of 3"
    ):
        estimator.train(lambda: [np.zeros((2, 2)), np.zeros((2, 1)), 1], steps=1)


def test_input_fn_returning_unconvertible_values_is_refused(tmp_path):
    estimator = Estimator(linear_model_fn, str(tmp_path), config=RunConfig(**QUIET))
    with pytest.raises(TypeError, match=r"input_fn features\['x'\] must be Tensors, NumPy arrays or Python values"):
        estimator.train(lambda: ({"x": object()}, np.zeros((2, 1), np.float32)), steps=1)


# ---- loss shapes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep_shape", [[1, 1], [-1, 1]], ids=["1x1", "unknown_x1"])
def test_loss_holding_one_element_trains(tmp_path, keep_shape):
    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        loss = tf.reshape(spec.loss, [1, 1])
        if keep_shape[0] == -1:
            loss = tf.compat.v1.placeholder_with_default(loss, shape=[None, 1])
        return EstimatorSpec(mode, loss=loss, train_op=spec.train_op, eval_metric_ops=spec.eval_metric_ops)

    estimator = Estimator(model_fn, str(tmp_path), config=RunConfig(**QUIET))
    estimator.train(make_input_fn(), steps=2)
    assert np.isfinite(estimator.evaluate(make_input_fn(), steps=1)["loss"])


# ---- metrics ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reserved", ["loss", "global_step"])
def test_reserved_metric_names_refused_by_evaluate_only(trained_linear_copy, reserved):
    """Training with such a spec works; evaluate() refuses it, as the original did."""

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        if mode == ModeKeys.PREDICT:
            return spec
        return spec._replace(eval_metric_ops={reserved: v1.metrics.mean(spec.loss)})

    estimator = Estimator(model_fn, trained_linear_copy.model_dir, config=RunConfig(**QUIET))
    estimator.train(make_input_fn(), steps=1)
    with pytest.raises(ValueError, match=f"eval_metric_ops may not use the name '{reserved}'"):
        estimator.evaluate(make_input_fn(), steps=1)


def test_nested_tuple_metric_value_is_returned_as_nested_structure(trained_linear):
    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        if mode != ModeKeys.EVAL:
            return spec
        nested = ((tf.constant(2.0), tf.constant(1)), tf.constant(3.0, tf.float64))
        return spec._replace(eval_metric_ops={"nested_metric": (nested, tf.no_op())})

    estimator = Estimator(model_fn, trained_linear.model_dir, config=RunConfig(**QUIET))
    (two, one), three = estimator.evaluate(make_input_fn(), steps=1, name="nested")["nested_metric"]
    assert (two, one, three) == (2.0, 1, 3.0)
    assert isinstance(one, int)


def test_eval_event_file_holds_arrays_summary_protos_and_the_checkpoint_path(trained_linear):
    """The original wrote NumPy-array metrics as tensor summaries, merged serialized Summary metrics in as
    '<name>/<i>', and added a 'checkpoint_path' string summary at the evaluated step."""

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        if mode != ModeKeys.EVAL:
            return spec
        histogram = v1.summary.histogram("y_hist", spec.predictions["y"])
        metrics = dict(spec.eval_metric_ops)
        metrics["vector"] = (tf.constant([1.0, 2.0, 3.0]), tf.no_op())
        metrics["hist"] = (histogram, tf.no_op())
        return spec._replace(eval_metric_ops=metrics)

    estimator = Estimator(model_fn, trained_linear.model_dir, config=RunConfig(**QUIET))
    results = estimator.evaluate(make_input_fn(), steps=2, name="summaries")
    np.testing.assert_array_equal(results["vector"], [1.0, 2.0, 3.0])
    assert isinstance(results["hist"], bytes)

    events = _eval_events(estimator.eval_dir("summaries"))
    values = {value.tag: (event.step, value) for event in events for value in event.summary.value}
    step = results["global_step"]
    assert values["mae"][0] == step and values["mae"][1].simple_value == pytest.approx(results["mae"])
    np.testing.assert_array_equal(tf.make_ndarray(values["vector"][1].tensor), [1.0, 2.0, 3.0])
    assert values["hist/0"][1].HasField("histo")
    checkpoint_step, checkpoint_value = values["checkpoint_path"]
    assert checkpoint_step == step
    assert tf.make_ndarray(checkpoint_value.tensor).item().decode() == estimator.latest_checkpoint()


# ---- model_dir and task guards --------------------------------------------------------------------------
def test_empty_model_dir_means_a_temporary_folder():
    estimator = Estimator(linear_model_fn, model_dir="")
    assert estimator.model_dir and os.path.isdir(estimator.model_dir)
    assert estimator.config.model_dir == estimator.model_dir


def test_empty_model_dir_with_a_config_model_dir_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"model_dir='' differs from config.model_dir="):
        Estimator(linear_model_fn, model_dir="", config=RunConfig(model_dir=str(tmp_path)))


@pytest.mark.parametrize("task_type", ["evaluator", "ps"])
def test_train_refused_on_a_task_that_does_not_train(tmp_path, monkeypatch, task_type):
    cluster = {"chief": ["localhost:2222"], "ps": ["localhost:2223"]}
    monkeypatch.setenv(
        "TF_CONFIG", f'{{"cluster": {cluster!r}, "task": {{"type": "{task_type}", "index": 0}}}}'.replace("'", '"')
    )
    estimator = Estimator(linear_model_fn, str(tmp_path), config=RunConfig(**QUIET))
    with pytest.raises(ValueError, match=f"train\\(\\) was called on task type '{task_type}' .*train_and_evaluate"):
        estimator.train(make_input_fn(), steps=1)
    assert estimator.latest_checkpoint() is None


# ---- progress line ---------------------------------------------------------------------------------------
def test_progress_line_reports_the_step_before_the_run(tmp_path, caplog):
    """The original logged the global step read in the same run as the train op: 0, then 2, 4, ..."""
    estimator = Estimator(
        linear_model_fn, str(tmp_path), config=RunConfig(log_step_count_steps=2, save_summary_steps=0)
    )
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        estimator.train(make_input_fn(), steps=5)
    steps = [
        int(r.getMessage().split("step = ")[1].split()[0])
        for r in caplog.records
        if r.getMessage().startswith("loss = ")
    ]
    assert steps[:3] == [0, 2, 4]


# ---- NaN loss ------------------------------------------------------------------------------------------
class _LossRecorder(v1.train.SessionRunHook):
    """Fetches the loss on every run, as a user's logging hook would."""

    def begin(self):
        self.losses = []
        self._loss = v1.get_collection(v1.GraphKeys.LOSSES)[0]

    def before_run(self, run_context):
        return v1.train.SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        self.losses.append(float(run_values.results))


def test_user_hooks_see_the_nan_step_before_training_stops(tmp_path):
    """The original ran the user's hooks before its NaN check, so their after_run saw the NaN step."""
    x, y = make_data(64)
    x[18, 0] = np.nan  # third batch of 8

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        v1.add_to_collection(v1.GraphKeys.LOSSES, spec.loss)
        return spec

    estimator = Estimator(
        model_fn, str(tmp_path), config=RunConfig(save_checkpoints_steps=1, keep_checkpoint_max=10, **QUIET)
    )
    recorder = _LossRecorder()
    with pytest.raises(v1.train.NanLossDuringTrainingError, match="Loss is nan at global step 3"):
        estimator.train(lambda: tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8), hooks=[recorder])
    assert len(recorder.losses) == 3 and np.isnan(recorder.losses[-1])
    assert estimator.latest_checkpoint().endswith("model.ckpt-2")  # the NaN step is still not checkpointed


def test_a_spec_built_for_eval_returned_in_training_is_named(tmp_path):
    import estimator_lib as est

    def model_fn(features, labels, mode):
        w = tf.compat.v1.get_variable("w", [1], initializer=tf.compat.v1.zeros_initializer())
        loss = tf.reduce_mean(tf.square(features["x"] * w - labels))
        return est.EstimatorSpec(est.ModeKeys.EVAL, loss=loss)  # the mode is hard-coded, not model_fn's

    def input_fn():
        return tf.data.Dataset.from_tensors(({"x": [[1.0]]}, [[2.0]])).repeat()

    with pytest.raises(ValueError, match=r"called with mode='train' but returned a spec built for mode='eval'"):
        est.Estimator(model_fn, model_dir=str(tmp_path)).train(input_fn, max_steps=1)

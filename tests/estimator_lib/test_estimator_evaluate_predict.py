"""evaluate() and predict(): results checked against numpy on the checkpoint's own variables."""

from __future__ import annotations

import inspect
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import (
    TRAINED_STEPS,
    RecordingHook,
    linear_model_fn,
    linear_net,
    make_data,
    make_input_fn,
    read_scalars,
)

from estimator_lib.estimator import Estimator
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
EVAL_N = 32


def eval_input_fn():
    return make_input_fn(n=EVAL_N, batch=8, repeat=False, seed=1)()


def expected_outputs(estimator: Estimator, seed: int = 1, n: int = EVAL_N):
    x, y = make_data(n, seed)
    w, b = estimator.get_variable_value(["w", "b"])
    return x, y, x @ w + b


# ---- evaluate -------------------------------------------------------------------------------------------
def test_evaluate_returns_metrics_loss_and_step(trained_linear):
    results = trained_linear.evaluate(eval_input_fn)
    assert set(results) == {"mae", "loss", "global_step"}
    assert results["global_step"] == TRAINED_STEPS and isinstance(results["global_step"], int)
    _, y, predicted = expected_outputs(trained_linear)
    assert results["loss"] == pytest.approx(float(np.mean((predicted - y) ** 2)), rel=1e-4)
    assert results["mae"] == pytest.approx(float(np.mean(np.abs(predicted - y))), rel=1e-4)


def test_evaluate_writes_events_to_eval_dir(trained_linear_copy):
    estimator = trained_linear_copy
    assert estimator.eval_dir() == os.path.join(estimator.model_dir, "eval")
    assert estimator.eval_dir("holdout") == os.path.join(estimator.model_dir, "eval_holdout")
    results = estimator.evaluate(eval_input_fn, name="holdout")
    scalars = read_scalars(estimator.eval_dir("holdout"))
    assert scalars["loss"] == [(TRAINED_STEPS, pytest.approx(results["loss"]))]
    assert scalars["mae"] == [(TRAINED_STEPS, pytest.approx(results["mae"]))]
    assert "global_step" not in scalars
    estimator.evaluate(eval_input_fn)
    assert read_scalars(estimator.eval_dir())["loss"][0][0] == TRAINED_STEPS


def test_evaluate_steps_runs_that_many_batches(trained_linear):
    hook = RecordingHook()
    trained_linear.evaluate(make_input_fn(repeat=True), steps=3, hooks=[hook])
    assert hook.calls["after_run"] == 3
    hook = RecordingHook()
    trained_linear.evaluate(eval_input_fn, hooks=[hook])  # to the end of input: 32 / 8 batches
    assert hook.calls["after_run"] == 4
    assert hook.calls["begin"] == hook.calls["end"] == 1


def test_evaluate_steps_changes_the_metric(trained_linear):
    """Only the first batch counts with steps=1: its loss differs from the whole set's."""
    x, y = make_data(EVAL_N, 1)
    w, b = trained_linear.get_variable_value(["w", "b"])
    first_batch_loss = float(np.mean((x[:8] @ w + b - y[:8]) ** 2))
    assert trained_linear.evaluate(eval_input_fn, steps=1)["loss"] == pytest.approx(first_batch_loss, rel=1e-4)


def test_evaluate_older_checkpoint(trained_linear):
    path = os.path.join(trained_linear.model_dir, "model.ckpt-20")
    assert trained_linear.evaluate(eval_input_fn, checkpoint_path=path)["global_step"] == 20
    assert (
        trained_linear.evaluate(eval_input_fn, checkpoint_path=trained_linear.model_dir)["global_step"] == TRAINED_STEPS
    )


def test_evaluate_before_any_checkpoint_warns(tmp_path, caplog):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        results = estimator.evaluate(eval_input_fn)
    assert "No trained model in model_dir" in caplog.text and "freshly initialised variables" in caplog.text
    _, y = make_data(EVAL_N, 1)
    assert results["global_step"] == 0
    assert results["loss"] == pytest.approx(float(np.mean(y**2)), rel=1e-4)  # w = 0, b = 0


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": 0}, ValueError, r"steps must be a positive integer or None; received steps=0"),
        ({"name": "a/b"}, ValueError, r"name must be a non-empty string without '/'; received name='a/b'"),
        ({"name": ""}, ValueError, r"name must be a non-empty string without '/'; received name=''"),
        ({"hooks": [1]}, TypeError, r"hooks must contain only SessionRunHook instances.*received 1 of type int"),
        (
            {"checkpoint_path": "/nonexistent/model.ckpt-1"},
            ValueError,
            r"checkpoint_path='/nonexistent/model.ckpt-1' is not a checkpoint \(no /nonexistent/model.ckpt-1.index\)",
        ),
    ],
)
def test_evaluate_argument_validation(trained_linear, kwargs, error, message):
    with pytest.raises(error, match=message):
        trained_linear.evaluate(eval_input_fn, **kwargs)


def test_evaluate_checkpoint_dir_without_checkpoint(trained_linear, tmp_path):
    with pytest.raises(ValueError, match=r"checkpoint_path='.*' is a directory without a checkpoint"):
        trained_linear.evaluate(eval_input_fn, checkpoint_path=str(tmp_path))


# ---- predict --------------------------------------------------------------------------------------------
def predict_input_fn():
    return make_input_fn(n=EVAL_N, batch=8, repeat=False, labels=False, seed=1)()


def test_predict_is_a_generator_of_single_examples(trained_linear):
    generator = trained_linear.predict(predict_input_fn)
    assert inspect.isgenerator(generator)
    predictions = list(generator)
    assert len(predictions) == EVAL_N
    _, _, expected = expected_outputs(trained_linear)
    assert set(predictions[0]) == {"y", "doubled"}
    assert predictions[0]["y"].shape == (1,)
    np.testing.assert_allclose(np.stack([p["y"] for p in predictions]), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack([p["doubled"] for p in predictions]), 2 * expected, rtol=1e-5, atol=1e-6)


def test_predict_ignores_labels_from_input_fn(trained_linear):
    """An input_fn that still yields labels works: PREDICT mode gets labels=None."""
    assert len(list(trained_linear.predict(eval_input_fn))) == EVAL_N


def test_predict_keys(trained_linear):
    assert [set(p) for p in trained_linear.predict(predict_input_fn, predict_keys="y")] == [{"y"}] * EVAL_N
    first = next(trained_linear.predict(predict_input_fn, predict_keys=["doubled"]))
    assert set(first) == {"doubled"}
    with pytest.raises(ValueError, match=r"predict_keys \['nope'\] are not in the predictions \['doubled', 'y'\]"):
        next(trained_linear.predict(predict_input_fn, predict_keys=["nope"]))


def test_predict_batches(trained_linear):
    batches = list(trained_linear.predict(predict_input_fn, yield_single_examples=False))
    assert len(batches) == EVAL_N // 8
    assert all(batch["y"].shape == (8, 1) for batch in batches)
    _, _, expected = expected_outputs(trained_linear)
    np.testing.assert_allclose(np.concatenate([b["y"] for b in batches]), expected, rtol=1e-5, atol=1e-6)


def test_predict_call_time_hooks(trained_linear):
    hook = RecordingHook()
    list(trained_linear.predict(predict_input_fn, hooks=[hook]))
    assert hook.calls["begin"] == 1 and hook.calls["after_run"] == EVAL_N // 8 and hook.calls["end"] == 1
    with pytest.raises(TypeError, match=r"hooks must contain only SessionRunHook instances"):
        next(trained_linear.predict(predict_input_fn, hooks=["hook"]))


def test_predict_older_checkpoint(trained_linear):
    path = os.path.join(trained_linear.model_dir, "model.ckpt-20")
    latest = next(trained_linear.predict(predict_input_fn))["y"]
    older = next(trained_linear.predict(predict_input_fn, checkpoint_path=path))["y"]
    assert not np.allclose(latest, older)


def tensor_model_fn(features, mode):
    return EstimatorSpec(mode, predictions=linear_net(features))


def test_predict_single_tensor_predictions(trained_linear_dir):
    estimator = Estimator(tensor_model_fn, model_dir=trained_linear_dir)
    predictions = list(estimator.predict(predict_input_fn))
    assert len(predictions) == EVAL_N and predictions[0].shape == (1,)
    with pytest.raises(ValueError, match="predict_keys works only when model_fn returns predictions as a dict"):
        next(estimator.predict(predict_input_fn, predict_keys=["y"]))


def test_predict_mismatched_batch_sizes(tmp_path):
    def model_fn(features, mode):
        return EstimatorSpec(mode, predictions={"y": linear_net(features), "scalar": tf.constant(1.0)})

    estimator = Estimator(model_fn, model_dir=str(tmp_path))
    with pytest.raises(
        ValueError, match=r"Cannot yield single examples: predictions have different or missing batch sizes"
    ):
        next(estimator.predict(predict_input_fn))
    batch = next(estimator.predict(predict_input_fn, yield_single_examples=False))
    assert batch["scalar"] == 1.0


def test_predict_scalar_prediction_cannot_be_unbatched(trained_linear_dir):
    def model_fn(features, mode):
        return EstimatorSpec(mode, predictions=tf.reduce_sum(linear_net(features)))

    estimator = Estimator(model_fn, model_dir=trained_linear_dir)
    with pytest.raises(
        ValueError, match=r"Cannot yield single examples: the prediction is a scalar .*with no batch dimension"
    ):
        next(estimator.predict(predict_input_fn))
    assert len(list(estimator.predict(predict_input_fn, yield_single_examples=False))) == EVAL_N // 8


def test_predict_before_any_checkpoint_warns(tmp_path, caplog):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        first = next(estimator.predict(predict_input_fn))
    assert "No trained model in model_dir" in caplog.text
    assert first["y"] == 0.0

"""Early-stopping hooks read real eval event files and stop real training."""

import os

import pytest
import tensorflow as tf
from testlib import linear
from testlib.linear import make_estimator

from estimator_lib import early_stopping
from estimator_lib.training import EvalSpec, TrainSpec, train_and_evaluate

v1 = tf.compat.v1


def _write_evals(eval_dir, history):
    """Event files as Estimator.evaluate writes them: one scalar summary per metric at each step."""
    with tf.Graph().as_default():
        writer = v1.summary.FileWriter(eval_dir)
        for step, metrics in history.items():
            summary = v1.Summary(value=[v1.Summary.Value(tag=k, simple_value=v) for k, v in metrics.items()])
            writer.add_summary(summary, step)
        writer.close()


def _final_step(estimator, hook, max_steps=40):
    estimator.train(linear.train_input_fn(), max_steps=max_steps, hooks=[hook])
    return int(estimator.get_variable_value("global_step"))


HISTORY = {
    10: {"loss": 5.0, "acc": 0.5},
    20: {"loss": 4.0, "acc": 0.7},
    30: {"loss": 4.5, "acc": 0.6},
    40: {"loss": 4.2, "acc": 0.65},
}

CASES = [
    # (factory, kwargs, stops early?)
    (early_stopping.stop_if_higher_hook, {"metric_name": "acc", "threshold": 0.6}, True),
    (early_stopping.stop_if_higher_hook, {"metric_name": "acc", "threshold": 0.9}, False),
    (early_stopping.stop_if_higher_hook, {"metric_name": "acc", "threshold": 0.6, "min_steps": 50}, False),
    (early_stopping.stop_if_lower_hook, {"metric_name": "loss", "threshold": 4.1}, True),
    (early_stopping.stop_if_lower_hook, {"metric_name": "loss", "threshold": 3.0}, False),
    (early_stopping.stop_if_no_increase_hook, {"metric_name": "acc", "max_steps_without_increase": 20}, True),
    (early_stopping.stop_if_no_increase_hook, {"metric_name": "acc", "max_steps_without_increase": 30}, False),
    (early_stopping.stop_if_no_decrease_hook, {"metric_name": "loss", "max_steps_without_decrease": 20}, True),
    (early_stopping.stop_if_no_decrease_hook, {"metric_name": "loss", "max_steps_without_decrease": 25}, False),
]


@pytest.mark.parametrize("factory, kwargs, stops", CASES, ids=lambda c: getattr(c, "__name__", None))
def test_hook_decisions(tmp_path, factory, kwargs, stops):
    estimator = make_estimator(tmp_path / "model")
    _write_evals(estimator.eval_dir(), HISTORY)
    hook = factory(estimator, run_every_secs=None, run_every_steps=3, **kwargs)
    step = _final_step(estimator, hook, max_steps=20)
    if stops:
        assert step <= 3  # the first check, at the first step, already says stop
    else:
        assert step == 20


def test_hook_reads_a_named_eval_dir_and_names_missing_metrics(tmp_path):
    estimator = make_estimator(tmp_path / "model")
    _write_evals(estimator.eval_dir("holdout"), HISTORY)
    holdout = estimator.eval_dir("holdout")
    hook = early_stopping.stop_if_lower_hook(estimator, "loss", 4.1, eval_dir=holdout, run_every_steps=1)
    assert _final_step(estimator, hook, max_steps=5) == 1
    hook = early_stopping.stop_if_lower_hook(estimator, "auc", 4.1, eval_dir=holdout, run_every_steps=1)
    with pytest.raises(ValueError, match="watches metric 'auc'.*has only \\['acc', 'global_step', 'loss'\\]"):
        _final_step(estimator, hook, max_steps=5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metric_name": ""}, "metric_name must be a non-empty str"),
        ({"min_steps": -1}, "min_steps must be a non-negative integer; received min_steps=-1"),
        ({"run_every_steps": 0}, "run_every_steps must be a positive integer or None"),
        ({"run_every_secs": None}, "run_every_secs must be a non-negative number of seconds; received .*=None"),
    ],
)
def test_argument_errors(tmp_path, kwargs, match):
    estimator = make_estimator(tmp_path)
    args = {"metric_name": "loss", "threshold": 1.0, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        early_stopping.stop_if_lower_hook(estimator, **args)
    plateau = r"max_steps_without_decrease must be a positive integer \(steps without improvement\); received .*=0"
    with pytest.raises(ValueError, match=plateau):
        early_stopping.stop_if_no_decrease_hook(estimator, "loss", 0)
    with pytest.raises(TypeError, match="estimator must be an Estimator"):
        early_stopping.stop_if_lower_hook(object(), "loss", 1.0)


def test_early_stopping_inside_train_and_evaluate(tmp_path):
    """The first evaluation (step 10) has loss below a generous threshold, so training stops there,
    far before max_steps, and the final evaluation is of that checkpoint."""
    estimator = make_estimator(tmp_path / "model", save_checkpoints_steps=10)
    hook = early_stopping.stop_if_lower_hook(estimator, "loss", 1e6, run_every_secs=None, run_every_steps=1)
    metrics, _ = train_and_evaluate(
        estimator,
        TrainSpec(linear.train_input_fn(), max_steps=1000, hooks=[hook]),
        EvalSpec(linear.eval_input_fn(), steps=None, throttle_secs=0),
    )
    assert metrics["global_step"] <= 12
    assert os.path.basename(estimator.latest_checkpoint()) == f"model.ckpt-{metrics['global_step']}"

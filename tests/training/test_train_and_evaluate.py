"""train_and_evaluate in one process: throttle, final evaluation/export, several eval specs, task roles."""

import json
import os

import pytest
import tensorflow as tf
from testlib import linear
from testlib.linear import make_estimator

from estimator_lib.exporters import BestExporter, FinalExporter, LatestExporter, complete_exports
from estimator_lib.training import EvalSpec, TrainSpec, train_and_evaluate
from estimator_lib.training.eval_events import read_eval_results


class CountingHook(tf.compat.v1.train.SessionRunHook):
    """Counts the evaluations it is part of (one begin() per evaluation graph)."""

    def __init__(self):
        self.evaluations = 0

    def begin(self):
        self.evaluations += 1


def counting_input_fn(counter):
    inner = linear.train_input_fn()

    def input_fn():
        counter.append(1)
        return inner()

    return input_fn


@pytest.mark.parametrize("throttle_secs, evaluations", [(0, 3), (10**6, 2)])
def test_throttle_and_single_training_input(tmp_path, throttle_secs, evaluations):
    """Checkpoints at 10, 20, 30. Throttle 0 evaluates each; a long throttle evaluates the first new
    checkpoint and the final one. Either way the training input_fn is called once (not per evaluation)."""
    estimator = make_estimator(tmp_path / "model", save_checkpoints_steps=10)
    hook, calls = CountingHook(), []
    metrics, exports = train_and_evaluate(
        estimator,
        TrainSpec(counting_input_fn(calls), max_steps=30),
        EvalSpec(
            linear.eval_input_fn(), steps=None, hooks=[hook], throttle_secs=throttle_secs,
            exporters=[LatestExporter("latest", linear.serving_input_receiver_fn),
                       FinalExporter("final", linear.serving_input_receiver_fn)],
        ),
    )
    assert hook.evaluations == evaluations
    assert len(calls) == 1
    assert metrics["global_step"] == 30 and set(metrics) == {"loss", "mae", "global_step"}
    evaluated = sorted(read_eval_results(os.path.join(estimator.eval_dir(), "*.tfevents.*")))
    assert evaluated == ([10, 20, 30] if throttle_secs == 0 else [10, 30])
    # The final export holds the final checkpoint: one export per exporter in the result.
    assert len(exports) == 2 and all(isinstance(p, bytes) for p in exports)
    assert len(complete_exports(os.path.join(estimator.model_dir, "export", "final"))) == 1
    assert len(complete_exports(os.path.join(estimator.model_dir, "export", "latest"))) == evaluations


def test_several_eval_specs_and_a_finished_model(tmp_path):
    estimator = make_estimator(tmp_path / "model", save_checkpoints_steps=10)
    specs = [
        EvalSpec(linear.eval_input_fn(1), steps=None, name="a", throttle_secs=0,
                 exporters=BestExporter("best_a", linear.serving_input_receiver_fn,
                                        event_file_pattern="eval_a/*.tfevents.*")),
        EvalSpec(linear.eval_input_fn(2), steps=1, name="b", throttle_secs=10**6),
    ]
    metrics, exports = train_and_evaluate(estimator, TrainSpec(linear.train_input_fn(), max_steps=20), specs)
    assert set(metrics) == {"a", "b"} and metrics["a"]["global_step"] == metrics["b"]["global_step"] == 20
    assert metrics["a"]["loss"] != metrics["b"]["loss"]  # different data sets
    assert sorted(read_eval_results(os.path.join(estimator.eval_dir("a"), "*"))) == [10, 20]
    assert sorted(read_eval_results(os.path.join(estimator.eval_dir("b"), "*"))) == [10, 20]
    assert len(exports["a"]) == 1 and exports["b"] == []
    # Run again: training is already at max_steps, so it is skipped, but the final evaluation still runs
    # and the best exporter (new object) does not export the same model again.
    again, again_exports = train_and_evaluate(estimator, TrainSpec(linear.train_input_fn(), max_steps=20), specs)
    assert again["a"]["global_step"] == 20 and again_exports == {"a": [], "b": []}


@pytest.mark.parametrize("task_type", ["chief", "master"])
def test_a_cluster_of_one_chief_or_master(tmp_path, monkeypatch, task_type):
    """As in tf.estimator: a chief only trains (an evaluator task evaluates); a legacy master also
    evaluates. Either trains in-process (no gRPC server is needed for a one-task cluster)."""
    cluster = {task_type: ["127.0.0.1:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": 0}}))
    estimator = make_estimator(tmp_path / "model")
    metrics, exports = train_and_evaluate(
        estimator, TrainSpec(linear.train_input_fn(), max_steps=10), EvalSpec(linear.eval_input_fn(), throttle_secs=0)
    )
    assert estimator.latest_checkpoint().endswith("model.ckpt-10")
    if task_type == "chief":
        assert (metrics, exports) == (None, []) and not os.path.exists(estimator.eval_dir())
    else:
        assert metrics["global_step"] == 10


def test_evaluator_role_evaluates_until_max_steps(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    make_estimator(model_dir).train(linear.train_input_fn(), max_steps=20)
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "evaluator", "index": 0}}))
    estimator = make_estimator(model_dir)
    metrics, exports = train_and_evaluate(
        estimator,
        TrainSpec(linear.train_input_fn(), max_steps=20),
        EvalSpec(linear.eval_input_fn(), start_delay_secs=0, throttle_secs=0,
                 exporters=FinalExporter("final", linear.serving_input_receiver_fn)),
    )
    assert metrics["global_step"] == 20 and len(exports) == 1
    with pytest.raises(ValueError, match="evaluator task stops .* needs max_steps; received TrainSpec.max_steps=None"):
        train_and_evaluate(estimator, TrainSpec(linear.train_input_fn()), EvalSpec(linear.eval_input_fn()))


@pytest.mark.parametrize(
    "cluster, task, match",
    [
        ({"chief": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]}, "chief", "Parameter-server training is not supported"),
        (
            {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]},
            "worker",
            "does not span them.*MultiWorkerMirroredStrategy",
        ),
    ],
)
def test_cluster_errors(tmp_path, monkeypatch, cluster, task, match):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task, "index": 0}}))
    estimator = make_estimator(tmp_path)
    with pytest.raises(ValueError, match=match):
        train_and_evaluate(estimator, TrainSpec(linear.train_input_fn(), max_steps=5), EvalSpec(linear.eval_input_fn()))


def test_argument_errors(tmp_path):
    estimator = make_estimator(tmp_path)
    train_spec, eval_spec = TrainSpec(linear.train_input_fn(), max_steps=5), EvalSpec(linear.eval_input_fn())
    with pytest.raises(TypeError, match="estimator must be an Estimator.*lacks"):
        train_and_evaluate(object(), train_spec, eval_spec)
    with pytest.raises(TypeError, match="train_spec must be a TrainSpec"):
        train_and_evaluate(estimator, eval_spec, eval_spec)
    with pytest.raises(TypeError, match="eval_spec must be an EvalSpec"):
        train_and_evaluate(estimator, train_spec, train_spec)
    no_checkpoints = make_estimator(tmp_path / "b", save_checkpoints_steps=None, save_checkpoints_secs=None)
    with pytest.raises(ValueError, match="disables checkpoints"):
        train_and_evaluate(no_checkpoints, train_spec, eval_spec)


def test_local_run_with_a_mirrored_strategy(tmp_path):
    """Training on two (virtual CPU) replicas: evaluation still hangs off the checkpoints, training input once."""
    strategy = tf.compat.v1.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    estimator = make_estimator(tmp_path / "model", save_checkpoints_steps=10, train_distribute=strategy)
    calls = []
    metrics, _ = train_and_evaluate(
        estimator,
        TrainSpec(counting_input_fn(calls), max_steps=20),
        EvalSpec(linear.eval_input_fn(), steps=None, throttle_secs=0),
    )
    assert metrics["global_step"] == 20 and len(calls) == 1
    assert sorted(read_eval_results(os.path.join(estimator.eval_dir(), "*.tfevents.*"))) == [10, 20]

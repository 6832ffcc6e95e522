"""Estimator construction and train(): model_dir, arguments passed to user functions, input forms,
steps/max_steps, checkpoints, listeners, summaries, NaN loss and resuming."""

from __future__ import annotations

import functools
import glob
import logging
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import RecordingHook, checkpoint_steps, linear_model_fn, make_data, make_input_fn, read_scalars

from estimator_lib.estimator import Estimator
from estimator_lib.hooks import CheckpointSaverListener, NanLossDuringTrainingError, SessionRunHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1


def fast_config(**kwargs) -> RunConfig:
    kwargs.setdefault("tf_random_seed", 1)
    kwargs.setdefault("log_step_count_steps", 0)
    kwargs.setdefault("save_summary_steps", 0)
    return RunConfig(**kwargs)


# ---- construction --------------------------------------------------------------------------------------
def test_model_dir_from_argument(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path))
    assert estimator.model_dir == str(tmp_path)
    assert estimator.config.model_dir == str(tmp_path)


def test_model_dir_from_pathlib(tmp_path):
    assert Estimator(linear_model_fn, model_dir=pathlib.Path(tmp_path)).model_dir == str(tmp_path)


def test_model_dir_from_config(tmp_path):
    estimator = Estimator(linear_model_fn, config=RunConfig(model_dir=str(tmp_path)))
    assert estimator.model_dir == str(tmp_path)


def test_model_dir_same_in_both(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=RunConfig(model_dir=str(tmp_path)))
    assert estimator.model_dir == str(tmp_path)


def test_model_dir_conflict(tmp_path):
    with pytest.raises(ValueError, match=r"model_dir='.*/a' differs from config.model_dir='.*/b'; give one of them"):
        Estimator(linear_model_fn, model_dir=str(tmp_path / "a"), config=RunConfig(model_dir=str(tmp_path / "b")))


def test_model_dir_temporary():
    estimator = Estimator(linear_model_fn)
    assert os.path.isdir(estimator.model_dir)
    assert estimator.config.model_dir == estimator.model_dir
    assert Estimator(linear_model_fn).model_dir != estimator.model_dir
    os.rmdir(estimator.model_dir)


def test_properties(tmp_path):
    config = RunConfig(tf_random_seed=5)
    params = {"learning_rate": 0.1, "nested": [1]}
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config, params=params)
    assert estimator.params == params
    estimator.params["nested"].append(2)  # a copy: the estimator's params cannot be changed from outside
    params["learning_rate"] = 9.0
    assert estimator.params == {"learning_rate": 0.1, "nested": [1]}
    assert isinstance(estimator.config, RunConfig) and estimator.config.tf_random_seed == 5
    with tf.Graph().as_default():
        v1.train.get_or_create_global_step()
        x, y = make_data(4)
        spec = estimator.model_fn({"x": tf.constant(x)}, tf.constant(y), ModeKeys.EVAL)
    assert isinstance(spec, EstimatorSpec) and spec.mode == ModeKeys.EVAL


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"model_fn": "fn"}, TypeError, r"model_fn must be callable; received 'fn' of type str"),
        ({"model_fn": lambda labels, mode: None}, ValueError, r"model_fn '<lambda>' must take a 'features' argument"),
        (
            {"model_fn": lambda features, batch: None},
            ValueError,
            r"model_fn declares argument\(s\) \['batch'\] that the Estimator cannot supply",
        ),
        ({"params": [1]}, TypeError, r"params must be a dict or None; received list: \[1\]"),
        (
            {"model_fn": lambda features, labels, mode: None, "params": {"a": 1}},
            ValueError,
            r"params \['a'\] were given but model_fn '<lambda>' has no 'params' argument",
        ),
        ({"config": {"model_dir": "x"}}, ValueError, r"config must be an estimator_lib.RunConfig; received dict"),
        (
            {"warm_start_from": 3},
            ValueError,
            r"warm_start_from must be a checkpoint/SavedModel path or a WarmStartSettings; received 3",
        ),
    ],
)
def test_constructor_validation(kwargs, error, message):
    kwargs.setdefault("model_fn", linear_model_fn)
    with pytest.raises(error, match=message):
        Estimator(**kwargs)


def test_variable_accessors(trained_linear, tmp_path):
    names = trained_linear.get_variable_names()
    assert {"w", "b", "global_step"} <= set(names)
    assert trained_linear.get_variable_value("w").shape == (2, 1)
    w, step = trained_linear.get_variable_value(["w", "global_step"])
    assert w.shape == (2, 1) and step == 40
    with pytest.raises(
        ValueError, match=r"Variable 'nope' is not in checkpoint '.*model.ckpt-40'; see get_variable_names\(\)"
    ):
        trained_linear.get_variable_value("nope")
    untrained = Estimator(linear_model_fn, model_dir=str(tmp_path))
    assert untrained.latest_checkpoint() is None
    with pytest.raises(ValueError, match=r"No checkpoint in model_dir '.*' yet: call train\(\) first"):
        untrained.get_variable_names()
    with pytest.raises(ValueError, match=r"No checkpoint in model_dir"):
        untrained.get_variable_value("w")


def test_latest_checkpoint_skips_an_incomplete_one(trained_linear_copy):
    """A newest checkpoint missing its data file (a crash mid-save) is never chosen."""
    estimator = trained_linear_copy
    model_dir = estimator.model_dir
    assert estimator.latest_checkpoint() == os.path.join(model_dir, "model.ckpt-40")
    for data in glob.glob(os.path.join(model_dir, "model.ckpt-40.data-*")):
        os.remove(data)
    assert estimator.latest_checkpoint() == os.path.join(model_dir, "model.ckpt-20")
    estimator.train(make_input_fn(), steps=1)  # resumes from step 20
    assert estimator.latest_checkpoint() == os.path.join(model_dir, "model.ckpt-21")


# ---- what model_fn and input_fn receive ------------------------------------------------------------------
def test_functions_receive_only_declared_args(tmp_path):
    seen = {}
    x, y = make_data(16)

    def input_fn(params, mode, config, input_context):
        seen["input_fn"] = (params, mode, config, input_context)
        return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8)

    def model_fn(features, labels, mode, params, config):
        seen["model_fn"] = (mode, params, config)
        return linear_model_fn(features, labels, mode, params)

    estimator = Estimator(model_fn, model_dir=str(tmp_path), params={"learning_rate": 0.1}, config=fast_config())
    estimator.train(input_fn)
    params, mode, config, input_context = seen["input_fn"]
    assert params == {"learning_rate": 0.1} and mode == ModeKeys.TRAIN and input_context is None
    assert isinstance(config, RunConfig) and config.model_dir == str(tmp_path)
    mode, params, config = seen["model_fn"]
    assert mode == ModeKeys.TRAIN and params == {"learning_rate": 0.1} and config.model_dir == str(tmp_path)


def test_minimal_signatures(tmp_path):
    """model_fn(features, labels) with no mode, input_fn() with no arguments at all."""
    x, y = make_data(16)

    def model_fn(features, labels):
        spec = linear_model_fn(features, labels, ModeKeys.TRAIN, {})
        return spec

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(lambda: tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8))
    assert estimator.get_variable_value("global_step") == 2


class MethodModel:
    def __init__(self):
        self.calls = 0

    def model_fn(self, features, labels, mode, params):
        self.calls += 1
        return linear_model_fn(features, labels, mode, params)


def test_bound_method_and_partial_model_fn(tmp_path):
    holder = MethodModel()
    estimator = Estimator(holder.model_fn, model_dir=str(tmp_path / "method"), config=fast_config())
    estimator.train(make_input_fn(), steps=1)
    assert holder.calls == 1
    partial = functools.partial(linear_model_fn, params={"learning_rate": 0.0})
    estimator = Estimator(partial, model_dir=str(tmp_path / "partial"), config=fast_config())
    estimator.train(make_input_fn(), steps=2)
    np.testing.assert_array_equal(estimator.get_variable_value("w"), np.zeros([2, 1]))


def test_input_fn_with_default_argument(tmp_path):
    x, y = make_data(8)

    def input_fn(params, batch_size=4):
        return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(batch_size)

    Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config()).train(input_fn)
    assert checkpoint_steps(str(tmp_path))[-1] == 2


def test_input_fn_undeclarable_argument(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    with pytest.raises(
        TypeError, match=r"input_fn 'input_fn' declares argument\(s\) \['batch_size'\] that this library cannot supply"
    ):

        def input_fn(batch_size):
            return None

        estimator.train(input_fn, steps=1)


def test_input_fn_not_callable(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    with pytest.raises(TypeError, match=r"input_fn must be callable; received 5 of type int"):
        estimator.train(5, steps=1)


# ---- input forms ----------------------------------------------------------------------------------------
def test_input_fn_tuple_of_tensors(tmp_path):
    x, y = make_data(8)

    def input_fn():
        return {"x": tf.constant(x)}, tf.constant(y)

    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(input_fn, steps=3)
    assert estimator.get_variable_value("global_step") == 3


def test_input_fn_bare_tensor_features(tmp_path):
    """A Dataset of (Tensor, labels): model_fn receives the Tensor itself as features."""
    x, y = make_data(16)
    kinds = []

    def model_fn(features, labels, mode):
        kinds.append(type(features))
        return linear_model_fn(features, labels, mode, {})

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    assert all(issubclass(kind, tf.Tensor) for kind in kinds)


def test_input_fn_features_only(tmp_path):
    """A Dataset of features only: labels is None (an unsupervised model_fn)."""
    x, _ = make_data(16)
    seen_labels = []

    def model_fn(features, labels, mode):
        seen_labels.append(labels)
        w = v1.get_variable("center", [2], initializer=v1.zeros_initializer())
        loss = tf.reduce_mean(tf.square(features["x"] - w))
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
        return EstimatorSpec(mode, loss=loss, train_op=train_op, predictions={"center": w + 0 * features["x"]})

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(lambda: tf.data.Dataset.from_tensor_slices({"x": x}).batch(8))
    assert seen_labels == [None]
    assert estimator.get_variable_value("global_step") == 2


def test_labels_without_labels_argument(tmp_path):
    def model_fn(features, mode):
        return None

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=fast_config())
    with pytest.raises(ValueError, match="input_fn returned labels but model_fn has no 'labels' argument"):
        estimator.train(make_input_fn(), steps=1)


def test_input_fn_tuple_of_three(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    x, y = make_data(8)
    with pytest.raises(
        ValueError, match="input_fn must return \\(features, labels\\) or features; received a tuple of 3 items"
    ):
        estimator.train(lambda: ({"x": tf.constant(x)}, tf.constant(y), tf.constant(y)), steps=1)


def test_model_fn_must_return_spec(tmp_path):
    estimator = Estimator(lambda features, labels: {"loss": 1}, model_dir=str(tmp_path), config=fast_config())
    with pytest.raises(TypeError, match=r"model_fn must return an EstimatorSpec; received dict: \{'loss': 1\}"):
        estimator.train(make_input_fn(), steps=1)


# ---- steps, max_steps, end of input ------------------------------------------------------------------------
def test_steps_add_to_the_checkpoint_step(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    assert estimator.train(make_input_fn(), steps=4) is estimator
    assert estimator.get_variable_value("global_step") == 4
    estimator.train(make_input_fn(), steps=3)
    assert estimator.get_variable_value("global_step") == 7
    assert estimator.latest_checkpoint().endswith("model.ckpt-7")


def test_max_steps_absolute_and_no_op_when_reached(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(make_input_fn(), max_steps=5)
    assert estimator.get_variable_value("global_step") == 5
    estimator.train(make_input_fn(), max_steps=8)
    assert estimator.get_variable_value("global_step") == 8
    files_before = sorted(os.listdir(tmp_path))
    hook = RecordingHook()
    estimator.train(make_input_fn(), max_steps=8, hooks=[hook])
    estimator.train(make_input_fn(), max_steps=3, hooks=[hook])
    assert hook.calls["before_run"] == 0 and hook.calls["begin"] == 0  # no graph, no session, no step
    assert estimator.get_variable_value("global_step") == 8
    assert sorted(os.listdir(tmp_path)) == files_before


def test_stops_at_end_of_input(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    estimator.train(make_input_fn(n=32, batch=8, repeat=False))
    assert estimator.get_variable_value("global_step") == 4
    estimator.train(make_input_fn(n=24, batch=8, repeat=False), steps=100)
    assert estimator.get_variable_value("global_step") == 7


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": 2, "max_steps": 5}, ValueError, r"Give steps or max_steps, not both; received steps=2, max_steps=5"),
        ({"steps": 0}, ValueError, r"steps must be a positive integer or None; received steps=0"),
        ({"steps": -1}, ValueError, r"steps must be a positive integer or None; received steps=-1"),
        ({"max_steps": "5"}, ValueError, r"max_steps must be a positive integer or None; received max_steps='5'"),
        ({"steps": 1, "hooks": ["h"]}, TypeError, r"hooks must contain only SessionRunHook instances.*received 'h'"),
        (
            {"steps": 1, "saving_listeners": [SessionRunHook()]},
            TypeError,
            r"saving_listeners must be CheckpointSaverListener instances; received <.*SessionRunHook",
        ),
    ],
)
def test_train_argument_validation(tmp_path, kwargs, error, message):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=fast_config())
    with pytest.raises(error, match=message):
        estimator.train(make_input_fn(), **kwargs)


# ---- checkpoints, listeners, summaries, logging --------------------------------------------------------------
class RecordingListener(CheckpointSaverListener):
    def __init__(self):
        self.events = []

    def begin(self):
        self.events.append(("begin", None))

    def before_save(self, session, global_step_value):
        self.events.append(("before_save", int(global_step_value)))

    def after_save(self, session, global_step_value):
        self.events.append(("after_save", int(global_step_value)))

    def end(self, session, global_step_value):
        self.events.append(("end", int(global_step_value)))


def test_checkpoint_cadence_listeners_and_summaries(tmp_path, caplog):
    config = fast_config(save_checkpoints_steps=3, save_summary_steps=2, log_step_count_steps=2, keep_checkpoint_max=10)
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    listener = RecordingListener()
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        estimator.train(make_input_fn(), steps=10, saving_listeners=[listener])
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loss = ")]
    assert len(progress) >= 4 and "steps/sec" in progress[-1]  # the first line, then every 2 steps

    # Every 3 steps, plus one at the end; nothing else besides the initial state at step 0.
    steps = checkpoint_steps(str(tmp_path))
    assert {3, 6, 9, 10} <= set(steps) <= {0, 3, 6, 9, 10}
    assert estimator.latest_checkpoint() == os.path.join(str(tmp_path), "model.ckpt-10")

    saved = [step for kind, step in listener.events if kind == "after_save"]
    assert {3, 6, 9, 10} <= set(saved) and set(saved) == set(steps)
    assert listener.events[0] == ("begin", None) and listener.events[-1] == ("end", 10)
    assert [step for kind, step in listener.events if kind == "before_save"] == saved

    scalars = read_scalars(str(tmp_path))
    loss_steps = [step for step, _ in scalars["loss"]]
    assert len(loss_steps) >= 4 and all(np.isfinite(value) for _, value in scalars["loss"])
    assert all(later - earlier == 2 for earlier, later in zip(loss_steps, loss_steps[1:], strict=False))
    assert "global_step/sec" in scalars  # steps/sec written every log_step_count_steps
    assert glob.glob(os.path.join(str(tmp_path), "graph.pbtxt"))


def test_checkpoint_only_at_end_when_cadence_disabled(tmp_path):
    config = fast_config(save_checkpoints_steps=None, save_checkpoints_secs=None)
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    listener = RecordingListener()
    estimator.train(make_input_fn(), steps=5, saving_listeners=[listener])
    assert checkpoint_steps(str(tmp_path))[-1] == 5
    assert set(checkpoint_steps(str(tmp_path))) <= {0, 5}
    assert ("after_save", 5) in listener.events


def test_keep_checkpoint_max(tmp_path):
    config = fast_config(save_checkpoints_steps=1, keep_checkpoint_max=2)
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    estimator.train(make_input_fn(), steps=6)
    assert checkpoint_steps(str(tmp_path)) == [5, 6]


def nan_input_fn():
    """Batches of 8; the third batch (global step 2 -> 3) holds a NaN."""
    x, y = make_data(64)
    x[18, 0] = np.nan
    return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8)


def test_nan_loss_stops_training_and_is_not_checkpointed(tmp_path):
    config = fast_config(save_checkpoints_steps=1, keep_checkpoint_max=10)
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    with pytest.raises(
        NanLossDuringTrainingError,
        match=r"Loss is nan at global step 3: training stopped and the step was not checkpointed",
    ):
        estimator.train(nan_input_fn)
    assert max(checkpoint_steps(str(tmp_path))) == 2
    assert estimator.latest_checkpoint().endswith("model.ckpt-2")
    for name in ("w", "b"):
        assert np.all(np.isfinite(estimator.get_variable_value(name)))


class ReadVariableHook(SessionRunHook):
    """Reads a variable right after the session is created (restored or initialised)."""

    def __init__(self, name):
        self._name = name
        self.value = None

    def after_create_session(self, session, coord):
        (variable,) = [v for v in v1.global_variables() if v.op.name == self._name]
        self.value = session.run(variable)


def test_resumes_from_latest_checkpoint(trained_linear_copy):
    estimator = trained_linear_copy
    start = estimator.get_variable_value("global_step")
    trained_w = estimator.get_variable_value("w")
    assert np.any(trained_w != 0)
    fresh = Estimator(linear_model_fn, model_dir=estimator.model_dir, config=fast_config())
    hook = ReadVariableHook("w")
    fresh.train(make_input_fn(), steps=2, hooks=[hook])
    np.testing.assert_array_equal(hook.value, trained_w)
    assert fresh.get_variable_value("global_step") == start + 2


def test_tf_random_seed_makes_initialisation_repeatable(tmp_path):
    def model_fn(features, labels, mode):
        w = v1.get_variable("w", [2, 1], initializer=v1.random_normal_initializer())
        loss = tf.reduce_mean(tf.square(tf.matmul(features["x"], w) - labels))
        return EstimatorSpec(mode, loss=loss, train_op=v1.assign_add(v1.train.get_global_step(), 1))

    values = []
    for index, seed in enumerate((42, 42, 43)):
        estimator = Estimator(model_fn, model_dir=str(tmp_path / str(index)), config=fast_config(tf_random_seed=seed))
        estimator.train(make_input_fn(), steps=1)
        values.append(estimator.get_variable_value("w"))
    np.testing.assert_array_equal(values[0], values[1])
    assert not np.array_equal(values[0], values[2])


def test_training_converges(trained_linear):
    np.testing.assert_allclose(trained_linear.get_variable_value("w"), [[1.0], [-2.0]], atol=0.35)

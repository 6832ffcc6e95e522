"""Every kind of hook runs where it should, standard hooks are TensorFlow's own, and Scaffold is honoured."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import RecordingHook, checkpoint_steps, linear_model_fn, linear_net, make_data, make_input_fn

from estimator_lib import hooks as hooks_module
from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1

STANDARD_HOOKS = [
    "StopAtStepHook", "CheckpointSaverHook", "LoggingTensorHook", "StepCounterHook", "SummarySaverHook",
    "NanTensorHook", "FeedFnHook", "ProfilerHook", "FinalOpsHook", "GlobalStepWaiterHook", "SessionRunHook",
    "SessionRunArgs", "CheckpointSaverListener",
]


@pytest.mark.parametrize("name", STANDARD_HOOKS)
def test_standard_hooks_are_tensorflow_classes(name):
    """Hooks written for tf.estimator keep working: they are the very same classes."""
    assert getattr(hooks_module, name) is getattr(v1.train, name)


def test_every_hook_kind_runs(tmp_path):
    made = {}

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        made[mode] = {"spec": RecordingHook(), "chief": RecordingHook()}
        return spec._replace(
            training_hooks=[made[mode]["spec"]],
            training_chief_hooks=[made[mode]["chief"]],
            evaluation_hooks=[made[mode]["spec"]],
            prediction_hooks=[made[mode]["spec"]],
        )

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=RunConfig(log_step_count_steps=0))
    call_time = RecordingHook()
    estimator.train(make_input_fn(), steps=4, hooks=[call_time])
    for hook in (made[ModeKeys.TRAIN]["spec"], made[ModeKeys.TRAIN]["chief"], call_time):
        assert hook.calls == {"begin": 1, "after_create_session": 1, "before_run": 4, "after_run": 4, "end": 1}

    call_time = RecordingHook()
    estimator.evaluate(make_input_fn(n=24, batch=8, repeat=False), hooks=[call_time])
    for hook in (made[ModeKeys.EVAL]["spec"], call_time):
        # The run that meets the end of input calls before_run but never after_run, as in tf.estimator.
        assert hook.calls == {"begin": 1, "after_create_session": 1, "before_run": 4, "after_run": 3, "end": 1}
    assert made[ModeKeys.EVAL]["chief"].calls == {}  # chief training hooks do not run in evaluation

    call_time = RecordingHook()
    list(estimator.predict(make_input_fn(n=16, batch=8, repeat=False, labels=False), hooks=[call_time]))
    for hook in (made[ModeKeys.PREDICT]["spec"], call_time):
        assert hook.calls["begin"] == 1 and hook.calls["after_run"] == 2 and hook.calls["end"] == 1
    assert made[ModeKeys.PREDICT]["chief"].calls == {}


def test_stop_at_step_and_logging_hooks(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path))

    logged = []

    def formatter(values):
        logged.append(values["step"])
        return str(values)

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        logging_hook = v1.train.LoggingTensorHook(
            {"step": v1.train.get_global_step()}, every_n_iter=1, formatter=formatter
        )
        return spec._replace(training_hooks=[logging_hook])

    estimator = Estimator(model_fn, model_dir=str(tmp_path))
    estimator.train(make_input_fn(), hooks=[hooks_module.StopAtStepHook(num_steps=3)])
    assert estimator.get_variable_value("global_step") == 3
    assert len(logged) == 3


def test_final_ops_hook_in_evaluation(tmp_path, trained_linear_dir):
    final_hooks = []

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        final = v1.train.FinalOpsHook({"w": [v for v in v1.global_variables() if v.op.name == "w"][0]})
        final_hooks.append(final)
        return spec._replace(evaluation_hooks=[final])

    estimator = Estimator(model_fn, model_dir=trained_linear_dir)
    estimator.evaluate(make_input_fn(n=8, repeat=False))
    np.testing.assert_array_equal(final_hooks[-1].final_ops_values["w"], estimator.get_variable_value("w"))


class StepListener(hooks_module.CheckpointSaverListener):
    def __init__(self):
        self.saved = []

    def after_save(self, session, global_step_value):
        self.saved.append(int(global_step_value))


def test_user_checkpoint_saver_hook_gets_the_listeners(tmp_path):
    """A CheckpointSaverHook among the hooks replaces the Estimator's own; listeners attach to it."""
    config = RunConfig(save_checkpoints_steps=100, log_step_count_steps=0)
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path), config=config)
    saver_hook = hooks_module.CheckpointSaverHook(str(tmp_path), save_steps=2)
    listener = StepListener()
    estimator.train(make_input_fn(), steps=5, hooks=[saver_hook], saving_listeners=[listener])
    assert {2, 4, 5} <= set(listener.saved)
    assert {2, 4, 5} <= set(checkpoint_steps(str(tmp_path)))


def test_checkpoint_saver_in_training_chief_hooks_replaces_the_estimators(tmp_path):
    """As in tf.estimator: a CheckpointSaverHook among training_chief_hooks is the only saver."""

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        return spec._replace(training_chief_hooks=[hooks_module.CheckpointSaverHook(str(tmp_path), save_steps=2)])

    config = RunConfig(save_checkpoints_steps=3, keep_checkpoint_max=20, log_step_count_steps=0)
    listener = StepListener()
    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=config)
    estimator.train(make_input_fn(), steps=7, saving_listeners=[listener])
    assert {2, 4, 6, 7} <= set(checkpoint_steps(str(tmp_path))) <= {0, 2, 4, 6, 7}
    assert {2, 4, 6, 7} <= set(listener.saved)


# ---- Scaffold ----------------------------------------------------------------------------------------------
def test_scaffold_init_fn_runs_only_without_checkpoint(tmp_path):
    calls = []

    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {"learning_rate": 0.0})
        (w,) = [v for v in v1.global_variables() if v.op.name == "w"]

        def init_fn(scaffold, session):
            calls.append(mode)
            w.load(np.array([[3.0], [4.0]], dtype=np.float32), session)

        return spec._replace(scaffold=v1.train.Scaffold(init_fn=init_fn))

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=RunConfig(log_step_count_steps=0))
    estimator.train(make_input_fn(), steps=2)
    np.testing.assert_array_equal(estimator.get_variable_value("w"), [[3.0], [4.0]])
    assert calls == [ModeKeys.TRAIN]
    estimator.train(make_input_fn(), steps=2)  # restored from the checkpoint: init_fn is not called again
    assert calls == [ModeKeys.TRAIN]


def test_scaffold_saver_is_used(tmp_path):
    def model_fn(features, labels, mode):
        spec = linear_model_fn(features, labels, mode, {})
        return spec._replace(scaffold=v1.train.Scaffold(saver=v1.train.Saver(max_to_keep=1)))

    config = RunConfig(save_checkpoints_steps=1, keep_checkpoint_max=10, log_step_count_steps=0)
    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=config)
    estimator.train(make_input_fn(), steps=4)
    assert checkpoint_steps(str(tmp_path)) == [4]  # the scaffold's saver keeps one, not RunConfig's ten
    results = estimator.evaluate(make_input_fn(n=8, repeat=False))
    assert results["global_step"] == 4


def test_scaffold_local_init_op_in_predict(trained_linear_dir):
    """A scaffold's local_init_op runs before prediction: here it sets a local offset variable to 10."""

    def model_fn(features, mode):
        offset = v1.get_variable(
            "offset", [], initializer=v1.zeros_initializer(), collections=[v1.GraphKeys.LOCAL_VARIABLES]
        )
        with tf.control_dependencies([offset.initializer]):
            set_offset = offset.assign(10.0).op
        y = linear_net(features) + offset
        return EstimatorSpec(mode, predictions={"y": y}, scaffold=v1.train.Scaffold(local_init_op=set_offset))

    estimator = Estimator(model_fn, model_dir=trained_linear_dir)
    x, _ = make_data(8, seed=3)
    first = next(estimator.predict(make_input_fn(n=8, repeat=False, labels=False, seed=3)))
    w, b = estimator.get_variable_value(["w", "b"])
    np.testing.assert_allclose(first["y"], x[0] @ w + b + 10.0, rtol=1e-5)

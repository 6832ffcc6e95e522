"""training_hooks.assemble: the order and chief policy of a training session's hooks, and its one stop hook.

The order tests build the hooks over a tiny graph; the session tests run them in a real MonitoredSession.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import RecordingHook

from estimator_lib import training_hooks
from estimator_lib.hooks import StepLogHook
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


class Named(v1.train.SessionRunHook):
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _tensors(loss_value: float = 1.0) -> training_hooks.TrainTensors:
    global_step = v1.train.get_or_create_global_step()
    train_op = v1.assign_add(global_step, 1)
    with tf.control_dependencies([train_op]):
        step_after_run = tf.identity(global_step.read_value())
    loss = tf.identity(tf.constant(loss_value), name="loss")
    return training_hooks.TrainTensors(loss, global_step, step_after_run)


def _assemble(tmp_path, *, is_chief=True, config=None, **kwargs) -> training_hooks.TrainingHooks:
    config = config or RunConfig(model_dir=str(tmp_path), save_checkpoints_steps=5)
    values = {
        "input_hooks": [Named("input")],
        "extra_hooks": [Named("extra")],
        "spec_hooks": [Named("spec")],
        "spec_chief_hooks": [Named("spec_chief")],
        "user_hooks": [Named("user")],
        "stop_at": 10,
    }
    values.update(kwargs)
    return training_hooks.assemble(
        config=config, is_chief=is_chief, model_dir=str(tmp_path), tensors=_tensors(), scaffold=v1.train.Scaffold(),
        **values,
    )


def _names(hooks: list) -> list[str]:
    kinds = {
        training_hooks.NanSkippingSaverHook: "saver",
        training_hooks.FinalCheckpointHook: "final_saver",
        v1.train.SummarySaverHook: "summaries",
        StepLogHook: "log",
        training_hooks.StopAtStepAfterRunHook: "stop",
    }
    names = []
    for hook in hooks:
        name = kinds.get(type(hook)) or getattr(hook, "name", None) or type(hook).__name__
        names.append(name)
    return names


def test_chief_order_detector_first_savers_before_user_hooks_raiser_last(tmp_path):
    with tf.Graph().as_default():
        assembled = _assemble(tmp_path)
    assert _names(assembled.hooks) == [
        "_NanDetector", "spec_chief", "saver", "summaries", "input", "extra", "log", "stop", "spec", "user",
        "_NanRaiser",
    ]
    assert assembled.hooks[0] is assembled.nan_check.detector and assembled.hooks[-1] is assembled.nan_check.raiser


def test_worker_gets_no_chief_only_hooks_and_logs_without_summaries(tmp_path):
    with tf.Graph().as_default():
        assembled = _assemble(tmp_path, is_chief=False)
    assert _names(assembled.hooks) == ["_NanDetector", "input", "extra", "log", "stop", "spec", "user", "_NanRaiser"]
    log = next(hook for hook in assembled.hooks if isinstance(hook, StepLogHook))
    assert log._summary_dir is None  # noqa: SLF001 - only the chief writes global_step/sec


def test_collective_worker_mirrors_the_chiefs_saves_after_the_nan_detector(tmp_path):
    with tf.Graph().as_default():
        assembled = _assemble(tmp_path, is_chief=False, mirrors_chief=True)
    names = _names(assembled.hooks)
    assert names[0] == "_NanDetector" and "spec_chief" not in names
    assert names[1:3] == ["CheckpointSaverHook", "summaries"]  # the mirror: same schedule, scratch dir


def test_users_saver_replaces_ours_and_gets_the_listeners_once(tmp_path):
    listener = v1.train.CheckpointSaverListener()
    with tf.Graph().as_default():
        users = v1.train.CheckpointSaverHook(str(tmp_path), save_steps=2, listeners=[listener])
        assembled = _assemble(tmp_path, spec_hooks=[users], listeners=[listener])
    names = _names(assembled.hooks)
    assert "saver" not in names and "final_saver" not in names
    assert users._listeners == [listener]  # noqa: SLF001


def test_no_periodic_saving_still_saves_at_the_end_through_the_factory(tmp_path):
    made = []

    def factory(model_dir, **kwargs):
        made.append(kwargs)
        return training_hooks.NanSkippingSaverHook(model_dir, **kwargs)

    config = RunConfig(model_dir=str(tmp_path), save_checkpoints_steps=None, save_checkpoints_secs=None)
    with tf.Graph().as_default():
        assembled = _assemble(tmp_path, config=config, make_saver_hook=factory)
    assert "final_saver" in _names(assembled.hooks)
    assert made[0]["save_steps"] == training_hooks.NEVER and made[0]["save_secs"] is None
    assert made[0]["nan_check"] is assembled.nan_check


def test_no_stop_hook_without_a_stop_step_and_no_log_when_disabled(tmp_path):
    config = RunConfig(model_dir=str(tmp_path), log_step_count_steps=0, save_summary_steps=0)
    with tf.Graph().as_default():
        assembled = _assemble(tmp_path, config=config, stop_at=None)
    names = _names(assembled.hooks)
    assert "stop" not in names and "log" not in names and "summaries" not in names


def _run(hooks: list, train_op, scaffold=None) -> int:
    done = 0
    creator = v1.train.ChiefSessionCreator(scaffold=scaffold)
    with v1.train.MonitoredSession(session_creator=creator, hooks=hooks) as session:
        while not session.should_stop():
            session.run(train_op)
            done += 1
    return done


@pytest.mark.parametrize("increment", [1, 4])
def test_stop_hook_stops_after_the_run_that_reaches_the_step(increment):
    """One step per run, or a loop of 4 ending early at the stop step (as loops.build_train's guard does)."""
    with tf.Graph().as_default():
        global_step = v1.train.get_or_create_global_step()
        last_step = 10
        step = tf.minimum(global_step + increment, last_step)
        train_op = v1.assign(global_step, step)
        with tf.control_dependencies([train_op]):
            after = tf.identity(global_step.read_value())
        runs = _run([training_hooks.StopAtStepAfterRunHook(after, last_step)], train_op)
    assert runs == -(-last_step // increment)  # 10 runs of 1, or 3 loops (4 + 4 + 2)


class LossRecorder(v1.train.SessionRunHook):
    def __init__(self, loss):
        self.loss, self.seen = loss, []

    def before_run(self, run_context):
        return v1.train.SessionRunArgs(self.loss)

    def after_run(self, run_context, run_values):
        self.seen.append(run_values.results)


def test_nan_step_is_seen_by_user_hooks_and_not_checkpointed(tmp_path):
    with tf.Graph().as_default():
        global_step = v1.train.get_or_create_global_step()
        train_op = v1.assign_add(global_step, 1)
        with tf.control_dependencies([train_op]):
            step_after_run = tf.identity(global_step.read_value())
        loss = tf.where(step_after_run >= 3, np.nan, 1.0)  # the third step's loss is NaN
        tensors = training_hooks.TrainTensors(loss, global_step, step_after_run)
        user, recorder = LossRecorder(loss), RecordingHook()
        config = RunConfig(model_dir=str(tmp_path), save_checkpoints_steps=1, save_summary_steps=0)
        scaffold = v1.train.Scaffold(saver=v1.train.Saver())
        assembled = training_hooks.assemble(
            config=config, is_chief=True, model_dir=str(tmp_path), tensors=tensors, scaffold=scaffold,
            user_hooks=[user, recorder],
        )
        with pytest.raises(v1.train.NanLossDuringTrainingError, match="Loss is nan at global step 3"):
            _run(assembled.hooks, train_op, scaffold)
    assert len(user.seen) == 3 and np.isnan(user.seen[-1]) and recorder.calls["after_run"] == 3
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-2")

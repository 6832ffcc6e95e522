"""ModePlan: the values an Estimator call reads instead of asking its subclass at each turn."""

import tensorflow as tf

from estimator_lib import Estimator, RunConfig
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.mode_plan import LoopDurationHook, ModePlan, loop_steps

v1 = tf.compat.v1


def model_fn(features, mode):
    raise AssertionError("not called")


def test_the_estimators_plan_is_one_step_on_the_configured_strategy_with_nothing_for_the_host(tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    estimator = Estimator(model_fn, config=RunConfig(model_dir=str(tmp_path), train_distribute=strategy))
    train, evaluate = estimator._plan(ModeKeys.TRAIN), estimator._plan(ModeKeys.EVAL)
    assert train.strategy is strategy and evaluate.strategy is None
    assert (train.steps_per_run, train.loop_seconds, train.log_step_after_run) == (1, None, False)
    assert train.host_side(object()) is None


def test_falling_back_drops_the_loop_and_keeps_the_rest():
    plan = ModePlan(steps_per_run=10, log_step_after_run=True)
    fallback = plan.one_step_per_run()
    assert (fallback.steps_per_run, fallback.loop_seconds, fallback.log_step_after_run) == (1, None, True)
    assert plan.describe_loop() == "10"
    assert ModePlan(loop_seconds=90.0).one_step_per_run().loop_seconds is None
    assert ModePlan(loop_seconds=90.0).describe_loop() == "90s"


def test_a_fixed_loop_needs_no_hook_and_a_duration_is_fed_by_one():
    with tf.Graph().as_default():
        assert loop_steps(ModePlan(steps_per_run=5)) == (5, [])
        steps, hooks = loop_steps(ModePlan(steps_per_run=5, loop_seconds=2.0))
        assert isinstance(steps, tf.Tensor) and steps.op.type == "PlaceholderWithDefault"
        (hook,) = hooks
        assert isinstance(hook, LoopDurationHook)

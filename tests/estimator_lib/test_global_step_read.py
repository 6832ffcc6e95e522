"""The global-step read TensorFlow's hooks share is a plain read in our training graphs (no tf.cond to build)."""

from __future__ import annotations

import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn
from tensorflow.python.training import training_util

from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


class _ReadSpy(v1.train.SessionRunHook):
    """Records the shared read as TF's own hooks get it, and its value at every step."""

    def __init__(self):
        self.read = None
        self.values: list[int] = []

    def begin(self):
        self.read = training_util._get_or_create_global_step_read()  # what CheckpointSaverHook & co. call

    def before_run(self, run_context):
        return v1.train.SessionRunArgs(self.read)

    def after_run(self, run_context, run_values):
        self.values.append(int(run_values.results))


def test_hooks_share_a_plain_global_step_read_that_follows_training(tmp_path):
    spy = _ReadSpy()
    config = RunConfig(save_checkpoints_steps=2, save_summary_steps=1, tf_random_seed=3)
    Estimator(linear_model_fn, model_dir=str(tmp_path), config=config).train(make_input_fn(), steps=4, hooks=[spy])
    # Fetched with the train op and not ordered against its increment (neither was TensorFlow's cond), so each
    # run sees the step before or after it, never another, and the reads follow training.
    assert len(spy.values) == 4 and all(step in (run, run + 1) for run, step in enumerate(spy.values))
    assert spy.values == sorted(spy.values)
    graph_ops = {op.type for op in spy.read.graph.get_operations() if op.name.startswith("global_step/")}
    assert not graph_ops & {"If", "StatelessIf", "Switch", "Merge"}  # no tf.cond was built for it
    assert v1.train.latest_checkpoint(str(tmp_path)).endswith("-4")  # the saver hook read it too


def test_a_read_made_by_user_code_is_kept(tmp_path):
    made: list = []

    def model_fn(features, labels, mode, params):
        made.append(training_util._get_or_create_global_step_read())
        return linear_model_fn(features, labels, mode, params)

    spy = _ReadSpy()
    Estimator(model_fn, model_dir=str(tmp_path)).train(make_input_fn(), steps=2, hooks=[spy])
    assert spy.read is made[0]
    # TensorFlow's own read (made in model_fn, before the train op) has no ordering against the step's
    # increment in the same run, so it may see the step before or after it: as in tf.estimator.
    assert len(spy.values) == 2 and all(step in (run, run + 1) for run, step in enumerate(spy.values))

"""What a training session does before its first step: no redundant readiness checks, graph.pbtxt on a thread.

No timing here (docs/benchmarks.md has the figures): these check what the graph holds, that every case the
Scaffold's default checks exist for still fails as it did, and that graph.pbtxt is the training graph, on
disk once the first step has run.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn
from google.protobuf import text_format
from testlib.hooks import GraphSpy
from testlib.scaffolds import linear_model_fn_with_scaffold, local_init_op_skipping_a_variable, saver_of_w_only

from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


class _FirstStepSpy(GraphSpy):
    """GraphSpy, and whether graph.pbtxt existed when the first step's results reached this (user) hook."""

    def __init__(self, model_dir: str):
        super().__init__()
        self._path = os.path.join(model_dir, "graph.pbtxt")
        self.graph_file_after_first_step: bool | None = None

    def after_run(self, run_context, run_values):
        if self.graph_file_after_first_step is None:
            self.graph_file_after_first_step = os.path.isfile(self._path)


def test_training_runs_no_readiness_report_and_resumes_from_its_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    config = RunConfig(tf_random_seed=3, save_checkpoints_steps=10)
    first = _FirstStepSpy(model_dir)
    Estimator(linear_model_fn, model_dir=model_dir, config=config).train(make_input_fn(), steps=20, hooks=[first])
    assert first.op_names and not [name for name in first.op_names if "report_uninitialized" in name]
    trained = tf.train.load_variable(model_dir, "w")

    second = _FirstStepSpy(model_dir)
    est = Estimator(linear_model_fn, model_dir=model_dir, config=config)
    est.train(make_input_fn(), steps=1, hooks=[second])
    assert not [name for name in second.op_names if "report_uninitialized" in name]
    assert est.get_variable_value("global_step") == 21  # restored at 20, not initialised again
    assert np.abs(est.get_variable_value("w") - trained).max() < 0.5  # one step on from the restored weights


def test_a_user_local_init_op_keeps_the_readiness_check_in_training(tmp_path):
    est = Estimator(
        linear_model_fn_with_scaffold(ModeKeys.TRAIN, local_init_op_skipping_a_variable),
        model_dir=str(tmp_path),
        config=RunConfig(tf_random_seed=1),
    )
    with pytest.raises(RuntimeError, match="left_uninitialised"):
        est.train(make_input_fn(), steps=1)


def test_a_user_saver_over_some_variables_keeps_the_readiness_check_in_training(trained_linear_copy):
    est = Estimator(
        linear_model_fn_with_scaffold(ModeKeys.TRAIN, saver_of_w_only),
        model_dir=trained_linear_copy.model_dir,
        config=RunConfig(tf_random_seed=1),
    )
    with pytest.raises(RuntimeError, match=r"not initialized: .*\bb\b"):
        est.train(make_input_fn(), steps=1)


@pytest.mark.parametrize("periodic", [True, False], ids=["periodic saves", "saves only at start and end"])
def test_graph_pbtxt_is_the_training_graph_and_on_disk_after_the_first_step(tmp_path, periodic):
    model_dir = str(tmp_path)
    spy = _FirstStepSpy(model_dir)
    config = RunConfig(tf_random_seed=1, save_checkpoints_steps=2 if periodic else None, save_checkpoints_secs=None)
    Estimator(linear_model_fn, model_dir=model_dir, config=config).train(make_input_fn(), steps=3, hooks=[spy])
    assert spy.graph_file_after_first_step is True
    with open(os.path.join(model_dir, "graph.pbtxt")) as handle:
        graph_def = text_format.Parse(handle.read(), tf.compat.v1.GraphDef())
    assert [node.name for node in graph_def.node] == spy.op_names  # the whole finalized training graph
    assert not [name for name in os.listdir(model_dir) if name.startswith("graph.pbtxt.tmp")]


def test_no_graph_pbtxt_when_the_config_turns_graph_files_off(tmp_path):
    config = RunConfig(tf_random_seed=1, checkpoint_save_graph_def=False)
    Estimator(linear_model_fn, model_dir=str(tmp_path), config=config).train(make_input_fn(), steps=2)
    assert not os.path.exists(tmp_path / "graph.pbtxt")
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-2")


def test_a_graph_pbtxt_that_cannot_be_written_is_logged_and_training_goes_on(tmp_path, caplog):
    (tmp_path / "graph.pbtxt" / "in_the_way").mkdir(parents=True)  # a non-empty directory: the rename fails
    with caplog.at_level(logging.WARNING, logger="estimator_lib"):
        Estimator(linear_model_fn, model_dir=str(tmp_path), config=RunConfig(tf_random_seed=1)).train(
            make_input_fn(), steps=2
        )
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-2")
    assert any("Could not write graph.pbtxt in " + str(tmp_path) in record.getMessage() for record in caplog.records)

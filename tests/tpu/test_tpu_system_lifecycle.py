"""The TPU system lifecycle: which TPU the resolver is asked for, and initialisation before any restore.

No TPU here: the resolver choice is a pure function, and the session tests replace only the two calls
that would talk to a TPU (initialise / shut down) with recorders; sessions, savers and restores are real.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tpu_graph_testlib import fake_tpu_strategy

from estimator_lib import _graph
from estimator_lib.run_config import RunConfig
from estimator_lib.tpu.strategy import tpu_resolver_argument

v1 = tf.compat.v1


@pytest.mark.parametrize(
    ("master", "tpu_name", "local_chips", "expected"),
    [
        ("my-tpu", None, True, "my-tpu"),  # an explicit name wins, even on a TPU VM
        ("grpc://10.0.0.2:8470", "other", False, "grpc://10.0.0.2:8470"),
        (None, "set-by-the-platform", True, "local"),  # TPU VM: never the Cloud TPU API, even with TPU_NAME
        (None, None, True, "local"),
        (None, "my-node", False, ""),  # no chips here: TF resolves TPU_NAME
    ],
)
def test_the_resolver_is_asked_for_the_right_tpu(master, tpu_name, local_chips, expected):
    assert tpu_resolver_argument(master, tpu_name_env=tpu_name, local_chips=local_chips) == expected


def test_no_tpu_to_go_by_is_an_error_naming_the_ways_to_give_one():
    with pytest.raises(RuntimeError, match=r"no TPU name was given \(RunConfig master or cluster, or the TPU_NAME"):
        tpu_resolver_argument(None, tpu_name_env=None, local_chips=False)


class _RecordingSaver(v1.train.Saver):
    def __init__(self, calls: list, **kwargs):
        super().__init__(**kwargs)
        self._calls = calls

    def restore(self, sess, save_path):
        self._calls.append(("restore", save_path))
        return super().restore(sess, save_path)


@pytest.fixture
def calls(monkeypatch) -> list:
    recorded: list = []
    monkeypatch.setattr(_graph, "initialize_tpu_system", lambda target, config: recorded.append(("init", target)))
    monkeypatch.setattr(_graph, "shutdown_tpu_system", lambda target, config: recorded.append(("shutdown", target)))
    return recorded


def _checkpoint(model_dir) -> str:
    with tf.Graph().as_default():
        v1.get_variable("v", initializer=tf.constant([7.0]))
        v1.train.get_or_create_global_step()
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return v1.train.Saver().save(session, str(model_dir / "model.ckpt"), global_step=3)


def _graph_with_recording_saver(calls: list):
    variable = v1.get_variable("v", initializer=tf.constant([0.0]))
    v1.train.get_or_create_global_step()
    return variable, v1.train.Scaffold(saver=_RecordingSaver(calls))


def test_evaluation_initialises_the_tpu_once_before_restoring_and_shuts_it_down_after(tmp_path, calls):
    checkpoint = _checkpoint(tmp_path)
    with tf.Graph().as_default():
        variable, scaffold = _graph_with_recording_saver(calls)
        with _graph.restoring_session(
            scaffold=scaffold, config=RunConfig(), checkpoint_path=checkpoint, hooks=[], strategy=fake_tpu_strategy(2)
        ) as session:
            assert calls == [("init", ""), ("restore", checkpoint)]
            np.testing.assert_allclose(session.run(variable), [7.0])
    assert calls == [("init", ""), ("restore", checkpoint), ("shutdown", "")]


def test_training_initialises_the_tpu_before_restoring_the_newest_checkpoint(tmp_path, calls):
    checkpoint = _checkpoint(tmp_path)
    with tf.Graph().as_default():
        variable, scaffold = _graph_with_recording_saver(calls)
        with _graph.training_session(
            scaffold=scaffold, config=RunConfig(model_dir=str(tmp_path)), model_dir=str(tmp_path), hooks=[],
            strategy=fake_tpu_strategy(2),
        ) as session:
            np.testing.assert_allclose(session.run(variable), [7.0])
    assert calls == [("init", ""), ("restore", checkpoint), ("shutdown", "")]


def test_other_strategies_get_no_tpu_lifecycle(tmp_path, calls):
    config = RunConfig()
    assert _graph.tpu_system_hooks(None, config) == []
    assert _graph.tpu_system_hooks(v1.distribute.MirroredStrategy(["/cpu:0"]), config) == []
    assert len(_graph.tpu_system_hooks(fake_tpu_strategy(2), config)) == 1
    checkpoint = _checkpoint(tmp_path)
    with tf.Graph().as_default():
        _, scaffold = _graph_with_recording_saver(calls)
        with _graph.restoring_session(scaffold=scaffold, config=config, checkpoint_path=checkpoint, hooks=[]):
            pass
    assert calls == [("restore", checkpoint)]

"""Multi-worker configuration errors, checked in-process (the strategy is built inside a graph, so no
gRPC server starts)."""

import json

import pytest
import tensorflow as tf
from testlib import linear

from estimator_lib import early_stopping
from estimator_lib.distribute import multi_worker
from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig

CLUSTER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}


def _strategy(task_type):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(CLUSTER), task_type=task_type, task_id=0, rpc_layer="grpc"
    )
    with tf.Graph().as_default():
        return tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


@pytest.fixture
def worker_config(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}}))
    return lambda strategy, **kw: RunConfig(train_distribute=strategy, **kw)


def test_roles_and_distribution(worker_config):
    config = worker_config(_strategy("worker"), save_checkpoints_steps=5)
    assert multi_worker.is_distributed(config) and multi_worker.task_role(config) == multi_worker.WORKER
    assert multi_worker.is_multi_worker(config.train_distribute)
    multi_worker.check_trainer_config(config)
    multi_worker.check_step_based_saving(config)


def test_strategy_for_another_task_is_refused(worker_config):
    with pytest.raises(ValueError, match="this task is worker:0 but the strategy was built for chief:0"):
        multi_worker.check_trainer_config(worker_config(_strategy("chief")))


def test_time_based_checkpoints_are_refused(worker_config):
    with pytest.raises(ValueError, match="needs step-based saving; received save_checkpoints_secs=600"):
        multi_worker.check_step_based_saving(worker_config(_strategy("worker")))


def test_early_stopping_needs_steps_in_multi_worker(worker_config, tmp_path):
    config = worker_config(_strategy("worker"), save_checkpoints_steps=5)
    estimator = Estimator(linear.model_fn, model_dir=str(tmp_path), config=config)
    with pytest.raises(ValueError, match="pass run_every_steps=N \\(received run_every_steps=None"):
        early_stopping.stop_if_no_decrease_hook(estimator, "loss", 100)
    early_stopping.stop_if_no_decrease_hook(estimator, "loss", 100, run_every_steps=10)


def test_finished_marker_round_trip(tmp_path):
    assert multi_worker.finished_step(str(tmp_path)) is None
    multi_worker.mark_finished(str(tmp_path), 42)
    assert multi_worker.finished_step(str(tmp_path)) == 42
    multi_worker.clear_finished(str(tmp_path))
    assert multi_worker.finished_step(str(tmp_path)) is None

"""RunConfig: defaults, validation, replace() and the cluster fields read from TF_CONFIG."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from estimator_lib.run_config import RunConfig, TaskType

CLUSTER = {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"], "ps": ["host3:2222"]}


@pytest.fixture(autouse=True)
def no_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)


def set_tf_config(monkeypatch, cluster, task_type=None, index=0):
    value = {"cluster": cluster}
    if task_type is not None:
        value["task"] = {"type": task_type, "index": index}
    monkeypatch.setenv("TF_CONFIG", json.dumps(value))


# ---- defaults and plain fields -----------------------------------------------------------------------
def test_defaults():
    config = RunConfig()
    assert config.model_dir is None
    assert config.tf_random_seed is None
    assert config.save_summary_steps == 100
    assert config.save_checkpoints_steps is None
    assert config.save_checkpoints_secs == 600
    assert config.session_config is None
    assert config.keep_checkpoint_max == 5
    assert config.keep_checkpoint_every_n_hours == 10000
    assert config.log_step_count_steps == 100
    assert config.train_distribute is None and config.eval_distribute is None
    # Without TF_CONFIG: a single local worker that is the chief.
    assert config.task_type == TaskType.WORKER and config.task_id == 0
    assert config.is_chief and config.num_worker_replicas == 1 and config.num_ps_replicas == 0
    assert config.master == "" and config.cluster_spec.as_dict() == {}


def test_fields_are_kept():
    session_config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    config = RunConfig(
        model_dir="/tmp/m",
        tf_random_seed=3,
        save_summary_steps=7,
        save_checkpoints_steps=11,
        session_config=session_config,
        keep_checkpoint_max=2,
        keep_checkpoint_every_n_hours=1.5,
        log_step_count_steps=9,
    )
    assert (config.model_dir, config.tf_random_seed, config.save_summary_steps) == ("/tmp/m", 3, 7)
    assert (config.save_checkpoints_steps, config.save_checkpoints_secs) == (11, None)
    assert config.session_config is session_config
    kept = (config.keep_checkpoint_max, config.keep_checkpoint_every_n_hours, config.log_step_count_steps)
    assert kept == (2, 1.5, 9)


def test_secs_given_explicitly():
    config = RunConfig(save_checkpoints_secs=30)
    assert (config.save_checkpoints_steps, config.save_checkpoints_secs) == (None, 30)


def test_both_disabled():
    config = RunConfig(save_checkpoints_steps=None, save_checkpoints_secs=None)
    assert (config.save_checkpoints_steps, config.save_checkpoints_secs) == (None, None)


def test_steps_xor_secs():
    with pytest.raises(
        ValueError,
        match="takes save_checkpoints_steps or save_checkpoints_secs, not both; received save_checkpoints_steps=5 "
        "and save_checkpoints_secs=60",
    ):
        RunConfig(save_checkpoints_steps=5, save_checkpoints_secs=60)


def test_distribute_strategies_kept():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    config = RunConfig(train_distribute=strategy, eval_distribute=strategy)
    assert config.train_distribute is strategy and config.eval_distribute is strategy


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tf_random_seed": -1}, r"tf_random_seed must be a non-negative integer or None; received tf_random_seed=-1"),
        ({"tf_random_seed": 1.5},
         r"tf_random_seed must be a non-negative integer or None; received tf_random_seed=1.5 of type float"),
        ({"save_summary_steps": "10"},
         r"save_summary_steps must be a non-negative integer.*received save_summary_steps='10'"),
        ({"save_checkpoints_steps": 0},
         r"save_checkpoints_steps must be a positive integer or None; received save_checkpoints_steps=0"),
        ({"save_checkpoints_secs": -5},
         r"save_checkpoints_secs must be a non-negative number or None; received save_checkpoints_secs=-5"),
        ({"keep_checkpoint_max": -1},
         r"keep_checkpoint_max must be a non-negative integer.*received keep_checkpoint_max=-1"),
        ({"keep_checkpoint_every_n_hours": -1}, r"keep_checkpoint_every_n_hours must be a non-negative number"),
        ({"log_step_count_steps": True},
         r"log_step_count_steps must be a non-negative integer.*received log_step_count_steps=True"),
        ({"model_dir": ""}, r"model_dir must be a non-empty path string; received ''"),
        ({"session_config": {"a": 1}}, r"session_config must be a tf.compat.v1.ConfigProto; received \{'a': 1\}"),
        ({"train_distribute": "mirrored"}, r"train_distribute must be a tf.distribute.Strategy .*received 'mirrored'"),
        ({"eval_distribute": 3}, r"eval_distribute must be a tf.distribute.Strategy .*received 3"),
        ({"protocol": "http"}, r"protocol must be None or 'grpc'; received 'http'"),
    ],
)
def test_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**kwargs)


# ---- replace -------------------------------------------------------------------------------------------
def test_replace_returns_a_changed_copy():
    config = RunConfig(model_dir="/tmp/a", save_checkpoints_steps=10, tf_random_seed=1)
    changed = config.replace(model_dir="/tmp/b", keep_checkpoint_max=1)
    assert changed is not config and isinstance(changed, RunConfig)
    assert (changed.model_dir, changed.keep_checkpoint_max) == ("/tmp/b", 1)
    assert (changed.save_checkpoints_steps, changed.tf_random_seed) == (10, 1)
    assert (config.model_dir, config.keep_checkpoint_max) == ("/tmp/a", 5)


def test_replace_switches_checkpoint_cadence():
    by_steps = RunConfig().replace(save_checkpoints_steps=50)
    assert (by_steps.save_checkpoints_steps, by_steps.save_checkpoints_secs) == (50, None)
    by_secs = by_steps.replace(save_checkpoints_secs=20)
    assert (by_secs.save_checkpoints_steps, by_secs.save_checkpoints_secs) == (None, 20)


def test_replace_validates():
    with pytest.raises(ValueError, match=r"RunConfig.replace\(\) cannot change \['is_chief'\]"):
        RunConfig().replace(is_chief=False)
    with pytest.raises(ValueError, match="keep_checkpoint_max must be a non-negative integer"):
        RunConfig().replace(keep_checkpoint_max=-3)
    with pytest.raises(ValueError, match="not both"):
        RunConfig().replace(save_checkpoints_steps=5, save_checkpoints_secs=5)


# ---- TF_CONFIG -------------------------------------------------------------------------------------------
def test_tf_config_chief(monkeypatch):
    set_tf_config(monkeypatch, CLUSTER, "chief", 0)
    config = RunConfig()
    assert config.task_type == TaskType.CHIEF and config.task_id == 0
    assert config.is_chief
    assert config.num_worker_replicas == 3 and config.num_ps_replicas == 1
    assert config.master == "grpc://host0:2222"
    assert config.global_id_in_cluster == 0
    assert config.cluster_spec.as_dict() == CLUSTER


def test_tf_config_worker(monkeypatch):
    set_tf_config(monkeypatch, CLUSTER, "worker", 1)
    config = RunConfig()
    assert config.task_type == TaskType.WORKER and config.task_id == 1
    assert not config.is_chief
    assert config.num_worker_replicas == 3
    assert config.master == "grpc://host2:2222"
    assert config.global_id_in_cluster == 2


def test_tf_config_ps(monkeypatch):
    set_tf_config(monkeypatch, CLUSTER, "ps", 0)
    config = RunConfig()
    assert config.task_type == TaskType.PS and not config.is_chief
    assert config.master == "grpc://host3:2222"


def test_tf_config_evaluator(monkeypatch):
    set_tf_config(monkeypatch, {"chief": ["host0:2222"], "worker": ["host1:2222"]}, "evaluator", 0)
    config = RunConfig()
    assert config.task_type == TaskType.EVALUATOR and config.task_id == 0
    assert not config.is_chief
    assert config.master == ""


def test_tf_config_workers_without_chief(monkeypatch):
    set_tf_config(monkeypatch, {"worker": ["a:1", "b:1"]}, "worker", 0)
    assert RunConfig().is_chief
    set_tf_config(monkeypatch, {"worker": ["a:1", "b:1"]}, "worker", 1)
    config = RunConfig()
    assert not config.is_chief and config.num_worker_replicas == 2


def test_tf_config_survives_replace(monkeypatch):
    set_tf_config(monkeypatch, CLUSTER, "worker", 0)
    config = RunConfig().replace(model_dir="/tmp/x")
    assert config.task_type == TaskType.WORKER and not config.is_chief


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{not json", r"TF_CONFIG is not valid JSON .*received '\{not json'"),
        ('["a"]', r"TF_CONFIG must be a JSON object with 'cluster' and 'task'"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
         r"TF_CONFIG task worker:3 is not in the cluster"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}),
         r"TF_CONFIG task chief:0 is not in the cluster"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "boss", "index": 0}}),
         r"TF_CONFIG task.type 'boss' is unknown"),
        (json.dumps({"cluster": {"workers": ["a:1"]}, "task": {"type": "worker", "index": 0}}),
         r"TF_CONFIG task worker:0 is not in the cluster"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}),
         r"TF_CONFIG has a cluster but no task.index for task type 'worker'"),
        (json.dumps({"task": {"type": "ps", "index": 0}}),
         r"TF_CONFIG has no cluster, so task.type must be 'worker' \(or unset\); received 'ps'"),
        (json.dumps({"task": {"type": "worker", "index": 1}}), r"TF_CONFIG has no cluster, so task.index must be 0"),
        (json.dumps({"model_dir": ""}), r"TF_CONFIG model_dir must be a non-empty path string; received ''"),
        (json.dumps({"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}),
         r"TF_CONFIG cluster\['worker'\] must be a list of 'host:port'; received 'a:1'"),
        (json.dumps({"cluster": {"worker": ["a:1"]}}), r"TF_CONFIG has a cluster but no task.type"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": -1}}),
         r"TF_CONFIG task.index must be a non-negative integer; received index=-1"),
        (json.dumps({"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}),
         r"TF_CONFIG cluster must have exactly one chief"),
        (json.dumps({"cluster": {"worker": ["a:1"], "evaluator": ["e:1"]}, "task": {"type": "evaluator", "index": 0}}),
         r"TF_CONFIG cluster must not list 'evaluator'"),
        (json.dumps({"cluster": ["a:1"], "task": {}}), r"TF_CONFIG 'cluster' and 'task' must be objects"),
    ],
)
def test_tf_config_errors(monkeypatch, raw, message):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ValueError, match=message):
        RunConfig()


# ---- TF_CONFIG fields and rules of the original RunConfig ----------------------------------------------------
def test_tf_config_worker_without_cluster_is_a_single_chief(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "worker", "index": 0}}))
    config = RunConfig()
    assert (config.task_type, config.task_id, config.is_chief, config.master) == ("worker", 0, True, "")
    assert (config.num_worker_replicas, config.num_ps_replicas, config.global_id_in_cluster) == (1, 0, 0)


def test_tf_config_session_masters_without_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"session_master": "grpc://m:1", "eval_session_master": "grpc://e:1"}))
    config = RunConfig()
    assert (config.master, config.evaluation_master) == ("grpc://m:1", "grpc://e:1")


def test_tf_config_session_master_overrides_the_cluster_address(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}, "session_master": "grpc://x:9"})
    )
    assert RunConfig().master == "grpc://x:9"


def test_tf_config_eval_session_master_for_the_evaluator(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": CLUSTER, "task": {"type": "evaluator", "index": 0}, "eval_session_master": "grpc://e:7"}),
    )
    config = RunConfig()
    assert (config.master, config.evaluation_master) == ("", "grpc://e:7")


def test_tf_config_single_node_cluster_runs_locally(monkeypatch):
    """One chief and nothing else: master '' (an in-process session), not the chief's gRPC address."""
    set_tf_config(monkeypatch, {"chief": ["host0:2222"]}, "chief", 0)
    config = RunConfig()
    assert config.master == "" and config.is_chief


def test_tf_config_any_job_name(monkeypatch):
    set_tf_config(monkeypatch, {"chief": ["c:1"], "local": ["l0:1", "l1:1"], "ps": ["p:1"]}, "local", 1)
    config = RunConfig()
    assert (config.task_type, config.task_id, config.master) == ("local", 1, "grpc://l1:1")
    assert config.global_id_in_cluster == 2 and not config.is_chief


def test_tf_config_global_ids_follow_the_original_order(monkeypatch):
    """Chief first, then the other jobs by name, parameter servers last."""
    set_tf_config(monkeypatch, CLUSTER, "ps", 0)
    assert RunConfig().global_id_in_cluster == 3


def test_tf_config_evaluator_with_any_index(monkeypatch):
    set_tf_config(monkeypatch, {"chief": ["host0:2222"]}, "evaluator", 1)
    config = RunConfig()
    assert (config.task_type, config.task_id, config.is_chief) == ("evaluator", 1, False)


def test_tf_config_model_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"model_dir": str(tmp_path)}))
    assert RunConfig().model_dir == str(tmp_path)
    assert RunConfig(model_dir=str(tmp_path)).model_dir == str(tmp_path)
    with pytest.raises(ValueError, match=r"RunConfig model_dir='/elsewhere' differs from TF_CONFIG model_dir="):
        RunConfig(model_dir="/elsewhere")


def test_tf_config_service(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"service": {"name": "svc"}}))
    assert RunConfig().service == {"name": "svc"}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"service": "svc"}))
    with pytest.raises(TypeError, match="TF_CONFIG service must be an object"):
        RunConfig()
    monkeypatch.delenv("TF_CONFIG")
    assert RunConfig().service is None


def test_replace_keeps_the_cluster_role_after_tf_config_is_unset(monkeypatch):
    set_tf_config(monkeypatch, CLUSTER, "worker", 1)
    config = RunConfig()
    monkeypatch.delenv("TF_CONFIG")
    changed = config.replace(model_dir="/tmp/x")
    assert (changed.task_type, changed.task_id, changed.is_chief) == ("worker", 1, False)
    assert changed.master == "grpc://host2:2222"


class _TeamConfig(RunConfig):
    """A subclass with its own constructor and attribute, as teams wrote them."""

    def __init__(self, team: str):
        super().__init__(save_checkpoints_steps=7)
        self.team = team


def test_replace_keeps_a_subclass_and_its_attributes():
    changed = _TeamConfig("ranking").replace(model_dir="/tmp/team")
    assert type(changed) is _TeamConfig and changed.team == "ranking"
    assert (changed.model_dir, changed.save_checkpoints_steps) == ("/tmp/team", 7)


def test_estimator_accepts_a_run_config_subclass(tmp_path):
    from estimator_lib.estimator import Estimator

    estimator = Estimator(lambda features, labels, mode: None, model_dir=str(tmp_path), config=_TeamConfig("ads"))
    assert type(estimator.config) is _TeamConfig and estimator.config.team == "ads"
    assert estimator.config.model_dir == str(tmp_path)

"""TPUConfig and the TPU RunConfig: every accepted form and every validation error."""

from __future__ import annotations

import pytest

from estimator_lib.run_config import RunConfig as BaseRunConfig
from estimator_lib.tpu.tpu_config import InputPipelineConfig, RunConfig, TPUConfig, parse_iterations_per_loop


@pytest.mark.parametrize(
    "value, expected",
    [(1, (1, None)), (100, (100, None)), ("30s", (None, 30.0)), ("5m", (None, 300.0)), ("1h", (None, 3600.0)),
     ("2.5s", (None, 2.5)), (" 10 s ", (None, 10.0))],
)
def test_iterations_per_loop_steps_or_duration(value, expected):
    assert parse_iterations_per_loop(value) == expected
    assert TPUConfig(iterations_per_loop=value).iterations_per_loop == value


@pytest.mark.parametrize("value", [0, -3, True, 1.5, None, "30", "5d", "0s", "s", "-1m", "1 hour", [10]])
def test_iterations_per_loop_bad_values(value):
    with pytest.raises(ValueError, match=r"iterations_per_loop must be a positive integer \(steps\) or a duration "
                                         r"such as '30s', '5m' or '1h'; received"):
        TPUConfig(iterations_per_loop=value)


def test_iterations_per_loop_message_shows_the_value():
    with pytest.raises(ValueError, match=r"received '5d'\."):
        TPUConfig(iterations_per_loop="5d")


def test_defaults():
    config = TPUConfig()
    assert config.iterations_per_loop == 2
    assert config.num_shards is None
    assert config.per_host_input_for_training == InputPipelineConfig.PER_HOST_V1


@pytest.mark.parametrize("value", [0, -1, True, "8", 2.0])
def test_num_shards_bad(value):
    with pytest.raises(ValueError, match=r"TPUConfig num_shards must be a positive integer or None; received"):
        TPUConfig(num_shards=value)


def test_num_shards_ok():
    assert TPUConfig(num_shards=8).num_shards == 8


@pytest.mark.parametrize("value", [3, 0, 256, "2"])
def test_num_cores_per_replica_must_be_a_topology_size(value):
    with pytest.raises(ValueError, match=r"num_cores_per_replica must be one of 1, 2, 4, .* received"):
        TPUConfig(num_cores_per_replica=value)


@pytest.mark.parametrize("value", [2, 8])
def test_num_cores_per_replica_model_parallelism_is_refused(value):
    with pytest.raises(ValueError, match=rf"num_cores_per_replica={value} asks for model parallelism.*use 1"):
        TPUConfig(num_cores_per_replica=value)


def test_num_cores_per_replica_one():
    assert TPUConfig(num_cores_per_replica=1).num_cores_per_replica == 1


@pytest.mark.parametrize(
    "given, stored",
    [
        (True, InputPipelineConfig.PER_HOST_V1),
        (False, InputPipelineConfig.PER_SHARD_V1),
        (InputPipelineConfig.PER_HOST_V1, InputPipelineConfig.PER_HOST_V1),
        (InputPipelineConfig.PER_HOST_V2, InputPipelineConfig.PER_HOST_V2),
        (InputPipelineConfig.BROADCAST, InputPipelineConfig.BROADCAST),
    ],
)
def test_per_host_input_for_training(given, stored):
    assert TPUConfig(per_host_input_for_training=given).per_host_input_for_training == stored


@pytest.mark.parametrize("value", [7, "PER_HOST_V2", None])
def test_per_host_input_for_training_bad(value):
    with pytest.raises(ValueError, match=r"per_host_input_for_training must be True, False or an InputPipelineConfig"):
        TPUConfig(per_host_input_for_training=value)


def test_other_tpu_config_errors():
    with pytest.raises(ValueError, match=r"input_partition_dims \(spatial partitioning\) is not supported"):
        TPUConfig(input_partition_dims=[[1, 2, 2, 1]])
    with pytest.raises(ValueError, match=r"eval_training_input_configuration must be an InputPipelineConfig"):
        TPUConfig(eval_training_input_configuration=9)
    with pytest.raises(ValueError, match=r"experimental_host_call_every_n_steps must be a positive integer; "
                                         r"received experimental_host_call_every_n_steps=0"):
        TPUConfig(experimental_host_call_every_n_steps=0)


def test_tpu_run_config_fields(tmp_path):
    tpu_config = TPUConfig(iterations_per_loop=50, num_shards=8)
    config = RunConfig(tpu_config=tpu_config, master="grpc://10.0.0.2:8470", model_dir=str(tmp_path),
                       save_checkpoints_steps=100)
    assert isinstance(config, BaseRunConfig)
    assert config.tpu_config is tpu_config
    assert config.master == "grpc://10.0.0.2:8470"
    assert config.tpu_master == "grpc://10.0.0.2:8470"
    assert config.cluster is None
    assert config.save_checkpoints_steps == 100
    default = RunConfig()
    assert default.tpu_config == TPUConfig()
    assert default.tpu_master is None
    assert default.master == BaseRunConfig().master


def test_tpu_run_config_cluster():
    resolver = object()
    config = RunConfig(cluster=resolver)
    assert config.cluster is resolver
    with pytest.raises(ValueError, match=r"Give master or cluster \(a TPUClusterResolver\), not both"):
        RunConfig(master="my-tpu", cluster=resolver)


def test_tpu_run_config_errors():
    with pytest.raises(ValueError, match=r"tpu_config must be a TPUConfig; received dict"):
        RunConfig(tpu_config={"iterations_per_loop": 10})
    with pytest.raises(ValueError, match=r"save_checkpoints_steps must be a positive integer"):
        RunConfig(save_checkpoints_steps=0)


def test_replace_keeps_tpu_fields(tmp_path):
    config = RunConfig(tpu_config=TPUConfig(iterations_per_loop=7), master="grpc://10.0.0.2:8470")
    moved = config.replace(model_dir=str(tmp_path))
    assert isinstance(moved, RunConfig)
    assert moved.model_dir == str(tmp_path)
    assert moved.tpu_config.iterations_per_loop == 7
    assert moved.master == "grpc://10.0.0.2:8470"
    changed = moved.replace(tpu_config=TPUConfig(iterations_per_loop="30s"), master="other-tpu")
    assert changed.tpu_config.iterations_per_loop == "30s"
    assert changed.tpu_master == "other-tpu"
    assert changed.model_dir == str(tmp_path)
    local = RunConfig().replace(save_checkpoints_steps=5)
    assert local.tpu_master is None and local.save_checkpoints_steps == 5
    with pytest.raises(ValueError, match=r"replace\(\) cannot change \['iterations_per_loop'\]"):
        config.replace(iterations_per_loop=3)


def test_a_grpc_master_is_also_the_evaluation_master_unless_one_is_given():
    from estimator_lib.tpu import RunConfig as TPURunConfig

    assert TPURunConfig(master="grpc://10.0.0.2:8470").evaluation_master == "grpc://10.0.0.2:8470"
    assert TPURunConfig(master="grpc://10.0.0.2:8470", evaluation_master="").evaluation_master == ""
    assert TPURunConfig(master="grpc://10.0.0.2:8470", evaluation_master="grpc://h:1").evaluation_master == "grpc://h:1"
    # A TPU name is not a session target: the resolver turns it into one on the TPU path.
    assert TPURunConfig(master="my-tpu").evaluation_master == ""
    assert TPURunConfig(master="grpc://10.0.0.2:8470").replace(save_summary_steps=5).evaluation_master == (
        "grpc://10.0.0.2:8470")

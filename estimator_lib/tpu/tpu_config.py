"""`TPUConfig` and the TPU `RunConfig`: loop length, sharding and input placement."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from estimator_lib.run_config import RunConfig as _BaseRunConfig


class InputPipelineConfig:
    """How input_fn is deployed; on tf.distribute every mode reads one host-side dataset (see docs)."""

    PER_SHARD_V1 = 1
    PER_HOST_V1 = 2
    PER_HOST_V2 = 3
    BROADCAST = 4
    SLICED = 5

    ALL = (PER_SHARD_V1, PER_HOST_V1, PER_HOST_V2, BROADCAST, SLICED)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_iterations_per_loop(value: Any) -> tuple[int | None, float | None]:
    """(steps, seconds): an int is a step count, a string such as "30s", "5m" or "1h" a duration."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value > 0:
        return value, None
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match and float(match.group(1)) > 0:
            return None, float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(
        f"iterations_per_loop must be a positive integer (steps) or a duration such as '30s', '5m' or '1h'; "
        f"received {value!r}."
    )


class TPUConfig(
    NamedTuple(
        "TPUConfig",
        [
            ("iterations_per_loop", Any),
            ("num_shards", Any),
            ("num_cores_per_replica", Any),
            ("per_host_input_for_training", Any),
            ("tpu_job_name", Any),
            ("initial_infeed_sleep_secs", Any),
            ("input_partition_dims", Any),
            ("eval_training_input_configuration", Any),
            ("experimental_host_call_every_n_steps", Any),
        ],
    )
):
    """TPU settings. `iterations_per_loop` steps (or seconds, as "30s") run inside one session.run."""

    def __new__(
        cls,
        iterations_per_loop=2,
        num_shards=None,
        num_cores_per_replica=None,
        per_host_input_for_training=True,
        tpu_job_name=None,
        initial_infeed_sleep_secs=None,
        input_partition_dims=None,
        eval_training_input_configuration=InputPipelineConfig.PER_HOST_V1,
        experimental_host_call_every_n_steps=1,
    ):
        parse_iterations_per_loop(iterations_per_loop)
        if num_shards is not None and (isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1):
            raise ValueError(f"TPUConfig num_shards must be a positive integer or None; received {num_shards!r}.")
        if num_cores_per_replica is not None and num_cores_per_replica not in (1, 2, 4, 8, 16, 32, 64, 128):
            raise ValueError(
                "TPUConfig num_cores_per_replica must be one of 1, 2, 4, 8, 16, 32, 64, 128 (a TPU topology size); "
                f"received {num_cores_per_replica!r}."
            )
        if num_cores_per_replica not in (None, 1):
            raise ValueError(
                f"TPUConfig num_cores_per_replica={num_cores_per_replica} asks for model parallelism, which this "
                "library does not implement on tf.distribute; use 1 (data parallelism) or None."
            )
        if per_host_input_for_training is True:
            per_host_input_for_training = InputPipelineConfig.PER_HOST_V1
        elif per_host_input_for_training is False:
            per_host_input_for_training = InputPipelineConfig.PER_SHARD_V1
        if per_host_input_for_training not in InputPipelineConfig.ALL:
            raise ValueError(
                "TPUConfig per_host_input_for_training must be True, False or an InputPipelineConfig value "
                f"(PER_SHARD_V1, PER_HOST_V1, PER_HOST_V2, BROADCAST, SLICED); received {per_host_input_for_training!r}."
            )
        if input_partition_dims is not None:
            raise ValueError("TPUConfig input_partition_dims (spatial partitioning) is not supported; leave it None.")
        if eval_training_input_configuration not in InputPipelineConfig.ALL:
            raise ValueError(
                f"TPUConfig eval_training_input_configuration must be an InputPipelineConfig value; "
                f"received {eval_training_input_configuration!r}."
            )
        if (
            isinstance(experimental_host_call_every_n_steps, bool)
            or not isinstance(experimental_host_call_every_n_steps, int)
            or experimental_host_call_every_n_steps < 1
        ):
            raise ValueError(
                "TPUConfig experimental_host_call_every_n_steps must be a positive integer; "
                f"received {experimental_host_call_every_n_steps!r}."
            )
        return super().__new__(
            cls,
            iterations_per_loop,
            num_shards,
            num_cores_per_replica,
            per_host_input_for_training,
            tpu_job_name,
            initial_infeed_sleep_secs,
            input_partition_dims,
            eval_training_input_configuration,
            experimental_host_call_every_n_steps,
        )


class RunConfig(_BaseRunConfig):
    """A RunConfig with `tpu_config`, `master` (the TPU address or name) and `cluster` (a cluster resolver)."""

    _REPLACEABLE = _BaseRunConfig._REPLACEABLE + ("tpu_config", "master", "cluster", "evaluation_master")

    def __init__(self, tpu_config: TPUConfig | None = None, evaluation_master: str | None = None,
                 master: str | None = None, cluster: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if tpu_config is None:
            tpu_config = TPUConfig()
        if not isinstance(tpu_config, TPUConfig):
            raise ValueError(f"tpu_config must be a TPUConfig; received {type(tpu_config).__name__}: {tpu_config!r}.")
        if master is not None and cluster is not None:
            raise ValueError("Give master or cluster (a TPUClusterResolver), not both.")
        self._tpu_config = tpu_config
        self._tpu_master = master
        self._cluster_resolver = cluster
        if evaluation_master is not None:
            self._evaluation_master = evaluation_master
        elif (
            not self._evaluation_master
            and self.task_type != "evaluator"
            and master
            and master.startswith("grpc://")
        ):
            # As tf.estimator's TPU RunConfig: without a cluster manager's TF_CONFIG, evaluation uses the same
            # session target as training. Only an address is a target; a TPU name (or a cluster resolver,
            # asked only when a session starts) goes through the resolver on the TPU path.
            self._evaluation_master = master

    @property
    def tpu_config(self) -> TPUConfig:
        return self._tpu_config

    @property
    def cluster(self) -> Any:
        return self._cluster_resolver

    @property
    def master(self) -> str:
        return self._tpu_master if self._tpu_master is not None else super().master

    @property
    def tpu_master(self) -> str | None:
        """The TPU address or name given by the user (None: resolve from the environment)."""
        return self._tpu_master

    def _rebuild(self, values: dict) -> RunConfig:
        if values.get("master") == _BaseRunConfig.master.fget(self):
            values["master"] = self._tpu_master
        return type(self)(**values)

"""`TPUConfig` and the TPU `RunConfig`: loop length, sharding and input placement."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from estimator_lib import validation
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
    """TPU settings. `iterations_per_loop` steps (or seconds, as "30s") run inside one session.run.

    Running several steps per `session.run` is what keeps a TPU busy: between runs the host has to
    feed it, and hooks and summaries run. Hooks therefore see loop boundaries, not every step.

    Args:
        iterations_per_loop: Steps per `session.run` (a positive int), or a duration such as '30s', '5m' or
            '1h' after which the loop ends at the next step boundary.
        num_shards: Accepted for compatibility; the replica count comes from the resolved strategy.
        num_cores_per_replica: None or 1; model parallelism (more cores per replica) is not supported.
        per_host_input_for_training: How `input_fn`'s batches reach the replicas: True (PER_HOST_V1, one
            global batch split across replicas), False (PER_SHARD_V1, per-replica batches) or an
            `InputPipelineConfig` value; see docs/tpu.md for the batch size each sees.
        tpu_job_name: Accepted for compatibility and unused.
        initial_infeed_sleep_secs: Accepted for compatibility and unused (there is no separate infeed).
        input_partition_dims: Spatial partitioning is not supported; must be None.
        eval_training_input_configuration: An `InputPipelineConfig` value, accepted for compatibility.
        experimental_host_call_every_n_steps: A positive int, accepted for compatibility; `host_call` runs
            every step, or at the end of each loop when `iterations_per_loop` > 1.

    Raises:
        ValueError: `iterations_per_loop` is neither a positive int nor a duration; `num_shards` is not a
            positive int; `num_cores_per_replica` is above 1; `per_host_input_for_training` or
            `eval_training_input_configuration` is not a known value; `input_partition_dims` is given;
            `experimental_host_call_every_n_steps` is not a positive int.
    """

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
        validation.check_int("TPUConfig num_shards", num_shards, allow_none=True)
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
                "(PER_SHARD_V1, PER_HOST_V1, PER_HOST_V2, BROADCAST, SLICED); "
                f"received {per_host_input_for_training!r}."
            )
        if input_partition_dims is not None:
            raise ValueError("TPUConfig input_partition_dims (spatial partitioning) is not supported; leave it None.")
        if eval_training_input_configuration not in InputPipelineConfig.ALL:
            raise ValueError(
                f"TPUConfig eval_training_input_configuration must be an InputPipelineConfig value; "
                f"received {eval_training_input_configuration!r}."
            )
        validation.check_int("TPUConfig experimental_host_call_every_n_steps", experimental_host_call_every_n_steps)
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
    """A RunConfig with `tpu_config`, `master` (the TPU address or name) and `cluster` (a cluster resolver).

    Args:
        tpu_config: The loop length and input placement; `TPUConfig()` when None.
        evaluation_master: The session target for evaluation; by default the training `master` when that
            is a `grpc://` address (as tf.estimator's TPU RunConfig did), else the local target.
        master: The TPU's address (`grpc://host:port`) or name; None resolves it from the environment (on
            a TPU VM, the local TPU).
        cluster: A `TPUClusterResolver` to use instead of `master`.
        **kwargs: Every `estimator_lib.RunConfig` argument.

    Raises:
        ValueError: `tpu_config` is not a `TPUConfig`, both `master` and `cluster` are given, or a
            `RunConfig` argument is refused.
    """

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

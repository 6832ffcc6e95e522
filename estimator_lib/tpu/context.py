"""`TPUContext`: what `params['context']` tells input_fn and model_fn about the replicas and their hosts.

The original TPUEstimator put one in `params` only when the step ran on the TPU (use_tpu=True, and for
evaluation eval_on_tpu=True); with use_tpu=False input_fn got none, and programs such as tensorflow/tpu's
`imagenet_input.py` test `'context' in params` to decide whether to shard their files by host. The
public surface is the original's (tensorflow/estimator r2.15, tpu/tpu_context.py): the deployment tuple,
replica and host counts, the replica -> (host device, ordinal) map and the host placement function.
Here the numbers come from the tf.distribute strategy's devices instead of the TPU system metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from estimator_lib import validation

_LOCAL_HOST = "/job:localhost/replica:0/task:0/device:CPU:0"


def host_of(device: str) -> str:
    """The CPU device of the task that owns `device` (a replica's TPU, GPU or CPU device)."""
    spec = tf.DeviceSpec.from_string(device)
    if spec.job is None:
        return _LOCAL_HOST
    return tf.DeviceSpec(job=spec.job, replica=spec.replica or 0, task=spec.task or 0,
                         device_type="CPU", device_index=0).to_string()


class TPUContext:
    """Replica and host layout of the current run, as `params['context']` (built by TPUEstimator only).

    `from_input_fn` says which function received it: the original allowed `current_input_fn_deployment`
    and `current_host` only in input_fn and `device_assignment` only in model_fn, and raised
    RuntimeError otherwise; so does this one.
    """

    def __init__(
        self,
        *,
        replica_devices: Sequence[str],
        mode: str,
        global_batch_size: int | None,
        per_replica_batch_size: int | None,
        from_input_fn: bool,
        invocation_index: int = 0,
        num_invocations: int = 1,
    ):
        """invocation_index / num_invocations: which of the input_fn calls of this run gets this context (one
        call feeds every replica; with per-shard input of tensors, one call per replica)."""
        if not replica_devices:
            raise ValueError("TPUContext needs at least one replica device; received none.")
        self._hosts_of_replicas = [host_of(device) for device in replica_devices]
        self._hosts = list(dict.fromkeys(self._hosts_of_replicas))
        self._from_input_fn = from_input_fn
        self._invocation_index, self._num_invocations = invocation_index, num_invocations
        self.mode = mode
        self.global_batch_size = global_batch_size
        self.batch_size_for_model_fn = per_replica_batch_size

    # ---- counts ---------------------------------------------------------------------------------------
    @property
    def num_replicas(self) -> int:
        """All replicas of the step (TPU cores without model parallelism)."""
        return len(self._hosts_of_replicas)

    @property
    def num_hosts(self) -> int:
        """Distinct tasks that own replica devices (1 on one machine)."""
        return len(self._hosts)

    @property
    def num_of_replicas_per_host(self) -> int:
        return self.num_replicas // self.num_hosts

    # ---- input_fn only --------------------------------------------------------------------------------
    @property
    def current_host(self) -> int:
        """Index of the host this input_fn call runs on (0 on one machine)."""
        self._require(input_fn=True, what="current_host")
        return self._hosts.index(self._host_of_this_call())

    def current_input_fn_deployment(self) -> tuple[str, int, int, int]:
        """(host device, this call's index, number of input_fn calls, replicas fed by this call).

        input_fn is called once per run on the host that feeds every replica (tf.distribute splits its
        batches): (host, 0, 1, num_replicas) on one host, as the original gave for per-host input. With
        per-shard input (per_host_input_for_training=False) of tensors it is called once per replica:
        (host, i, num_replicas, 1), as the original's per-core input_fn calls.
        """
        self._require(input_fn=True, what="current_input_fn_deployment()")
        fed = self.num_replicas // self._num_invocations
        return self._host_of_this_call(), self._invocation_index, self._num_invocations, fed

    def _host_of_this_call(self) -> str:
        return self._hosts_of_replicas[self._invocation_index * (self.num_replicas // self._num_invocations)]

    # ---- model_fn only --------------------------------------------------------------------------------
    @property
    def device_assignment(self) -> None:
        """None: there is no model parallelism (num_cores_per_replica), as in the original without it."""
        self._require(input_fn=False, what="device_assignment")
        return None

    # ---- either ---------------------------------------------------------------------------------------
    def device_for_replica(self, replica_id: int) -> tuple[str, int]:
        """(host CPU device, ordinal of the replica among its host's replicas)."""
        validation.check_int(
            "replica_id", replica_id, minimum=0, below=self.num_replicas, rule=f"num_replicas={self.num_replicas}"
        )
        host = self._hosts_of_replicas[replica_id]
        return host, self._hosts_of_replicas[:replica_id].count(host)

    @property
    def tpu_host_placement_function(self) -> Callable[..., str]:
        """A function host_id -> that host's CPU device, for placing per-host ops."""

        def placement(host_id: int = 0) -> str:
            validation.check_int(
                "host_id", host_id, minimum=0, below=self.num_hosts, rule=f"num_hosts={self.num_hosts}"
            )
            return self._hosts[host_id]

        return placement

    def _require(self, *, input_fn: bool, what: str) -> None:
        if self._from_input_fn != input_fn:
            here, there = ("model_fn", "input_fn") if input_fn else ("input_fn", "model_fn")
            raise RuntimeError(
                f"TPUContext.{what} is only available in {there}; this context was passed to {here}."
            )

    def __repr__(self) -> str:
        return (
            f"TPUContext(num_replicas={self.num_replicas}, num_hosts={self.num_hosts}, mode={self.mode!r}, "
            f"global_batch_size={self.global_batch_size})"
        )


def replica_devices(strategy: Any) -> list[str]:
    """The devices the strategy runs replicas on; the default strategy's one device otherwise."""
    if strategy is None:
        return [_LOCAL_HOST]
    return [str(device) for device in strategy.extended.worker_devices]

"""Making tf.distribute strategies run in tf.compat.v1 graph sessions."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

v1 = tf.compat.v1


def prepare(strategy: Any) -> Any:
    """Gives a MirroredStrategy that was left on its default all-reduce one that works in graph mode.

    MirroredStrategy defaults to collective all-reduce ops, which never complete inside a v1 Session on
    local devices (checked on TF 2.21: a 2-replica SGD step hangs). The original Estimator era used
    reduction to one device (CPUs) or NCCL (GPUs), which do work; a choice the user made is kept.
    """
    if strategy is None:
        return None
    extended = strategy.extended
    if type(extended).__name__ != "MirroredExtended":
        return strategy
    if getattr(extended, "_cross_device_ops", None) is not getattr(extended, "_collective_ops", object()):
        return strategy
    devices = [str(d).lower() for d in extended.worker_devices]
    if all("gpu" in d for d in devices):
        replacement = tf.distribute.NcclAllReduce()
    else:
        replacement = tf.distribute.ReductionToOneDevice()
    extended._cross_device_ops = replacement  # noqa: SLF001 - the strategy reads it on every reduce
    tf.get_logger().info(
        "MirroredStrategy over %s: using %s for graph-mode all-reduce (collective ops do not run in v1 "
        "sessions). Pass cross_device_ops= to choose another.", devices, type(replacement).__name__
    )
    return strategy


def session_config(strategy: Any, proto: v1.ConfigProto) -> v1.ConfigProto:
    """The strategy's own session settings (e.g. isolate_session_state for MirroredStrategy)."""
    if strategy is None or not hasattr(strategy, "update_config_proto"):
        return proto
    return strategy.update_config_proto(proto)


def mean_gradients(strategy: Any):
    """Context in which v1 optimizers average gradients over replicas instead of summing them.

    v1 optimizers sum per-replica gradients; the original Estimator turned on TF's "scale the loss by
    1/replicas" switch so a model trains the same on N replicas as on one with the same global batch.
    """
    import contextlib

    if strategy is None or not hasattr(strategy, "_scale_loss_for_estimator_enabled"):
        return contextlib.nullcontext()
    return strategy._scale_loss_for_estimator_enabled()  # noqa: SLF001 - the switch TF kept for Estimator

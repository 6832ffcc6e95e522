"""Choosing the tf.distribute strategy: an explicit one, a TPU, several GPUs, or the default device."""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

v1 = tf.compat.v1


class Deployment(NamedTuple):
    strategy: Any  # None: the default strategy (one device)
    is_tpu: bool


def _explicit(config: Any) -> Any:
    return config.train_distribute or config.eval_distribute


def tpu_resolver_argument(master: str | None, *, tpu_name_env: str | None, local_chips: bool) -> str:
    """What to pass as TPUClusterResolver(tpu=...): an explicit name or address first; then "local" on a
    TPU VM (its own chips; with tpu="" a TPU_NAME in the environment would send the resolver to the Cloud
    TPU API instead); then "" to let TF resolve TPU_NAME (a TPU node). Nothing to go by is an error."""
    if master:
        return master
    if local_chips:
        return "local"
    if tpu_name_env:
        return ""
    raise RuntimeError(
        "no TPU name was given (RunConfig master or cluster, or the TPU_NAME environment variable) and "
        "this machine has no TPU chips (no TPU devices, no /dev/accel*, no libtpu)"
    )


def _resolve_tpu(config: Any) -> Any:
    import os

    resolver = config.cluster
    if resolver is None:
        argument = tpu_resolver_argument(
            config.tpu_master, tpu_name_env=os.environ.get("TPU_NAME"), local_chips=_local_tpu_present()
        )
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=argument)
    # Built in a graph, the strategy reads the cores from Session(resolver.master()).list_devices(), the
    # target the training session will use (tpu_system_metadata.py); the TPU system itself is initialised
    # in that session's process before each session restores variables (_graph.TPUSystemHook).
    with tf.Graph().as_default():
        return v1.distribute.experimental.TPUStrategy(resolver, steps_per_run=1)


def _local_tpu_present() -> bool:
    """Cheap, offline check before initialising a TPU system that may not exist (TPU VMs expose
    /dev/accel* or have libtpu installed)."""
    import glob
    import importlib.util

    if glob.glob("/dev/accel*") or importlib.util.find_spec("libtpu") is not None:
        return True
    return bool(tf.config.list_physical_devices("TPU"))


def resolve_strategy(config: Any, *, use_tpu: bool) -> Deployment:
    """use_tpu=True: the explicit strategy or a TPU, else a clear error; use_tpu=False: the explicit
    strategy, a mirrored strategy over 2+ visible GPUs, or the default device."""
    from estimator_lib.distribute import graph_mode

    explicit = graph_mode.prepare(_explicit(config))
    if explicit is not None:
        return Deployment(
            explicit, is_tpu=isinstance(explicit, (tf.distribute.TPUStrategy, v1.distribute.experimental.TPUStrategy))
        )
    if use_tpu:
        try:
            return Deployment(_resolve_tpu(config), is_tpu=True)
        except (ValueError, RuntimeError, OSError, tf.errors.OpError) as error:  # OSError: metadata server unreachable
            raise RuntimeError(
                f"use_tpu=True but no TPU could be reached ({type(error).__name__}: {_first_line(error)}). On a TPU "
                "VM or Vertex TPU node pass tpu_config RunConfig(master=<tpu name or grpc address>) or "
                "cluster=TPUClusterResolver(...). "
                "To run on CPU/GPU instead, construct TPUEstimator(use_tpu=False, ...); to run replicas on other "
                "devices pass RunConfig(train_distribute=tf.compat.v1.distribute.MirroredStrategy([...]))."
            ) from None
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        mirrored = v1.distribute.MirroredStrategy([d.name for d in gpus])
        return Deployment(graph_mode.prepare(mirrored), is_tpu=False)
    return Deployment(None, is_tpu=False)


def _first_line(error: Exception) -> str:
    """TF's TPU errors carry a kernel registry dump; its first line says what went wrong."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

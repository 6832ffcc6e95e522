"""Stage (b): the TF2 baseline a TPU VM must pass before anything of ours: initialise the TPU system
through TPUClusterResolver("local"), list the cores, run a replica sum with TPUStrategy.run."""

from __future__ import annotations

from typing import Any

from . import probe


def run(expected_cores: int | None = None) -> dict[str, Any]:
    missing = probe.missing_pjrt_plugin()
    if missing:
        return probe.failed_without_tpu("eager", FileNotFoundError(missing), pjrt=probe.pjrt_requested())
    try:
        import tensorflow as tf

        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        devices = [d.name for d in tf.config.list_logical_devices("TPU")]
        strategy = tf.distribute.TPUStrategy(resolver)

        @tf.function
        def replica_sum():
            def one_replica():
                replica = tf.distribute.get_replica_context().replica_id_in_sync_group
                return tf.cast(replica, tf.float32) + 1.0

            return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(one_replica), axis=None)

        total = float(replica_sum())
        replicas = strategy.num_replicas_in_sync
        tf.tpu.experimental.shutdown_tpu_system(resolver)
    except Exception as error:  # noqa: BLE001 - the stage reports whatever stops it
        return probe.failed_without_tpu("eager", error, pjrt=probe.pjrt_requested())
    checks = {
        "devices_equal_replicas": len(devices) == replicas,
        "replica_sum_is_1_to_n": total == replicas * (replicas + 1) / 2,
        "cores_as_expected": expected_cores is None or replicas == expected_cores,
    }
    return probe.checked("eager", checks, pjrt=probe.pjrt_requested(), devices=devices, replicas=replicas, sum=total)

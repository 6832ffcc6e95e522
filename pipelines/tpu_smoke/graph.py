"""Stage (c): the graph path TPUEstimator relies on, without the library: in a tf.compat.v1 Session on
target '' (a TPU VM's own chips), initialise the TPU system, run tpu.replicate of
cross_replica_sum(1.0) over every core and expect the core count from each, on TPU ops."""

from __future__ import annotations

from typing import Any

from . import probe

# Ops that only appear once TensorFlow compiled and ran a replicated computation on TPU cores; a graph
# that ran on the CPU instead has none of them in its partition graphs.
TPU_EXECUTE_OPS = frozenset({
    "TPUExecute", "TPUExecuteAndUpdateVariables", "_TPUCompileMlir", "TPUCompile", "TPUPartitionedCall",
    "TPUCompileSucceededAssert", "_TPUExecute",
})


def replicate_metadata(graph) -> list[int]:
    """num_replicas of every TPUReplicateMetadata op in `graph` (one per replicated computation)."""
    return [op.get_attr("num_replicas") for op in graph.get_operations() if op.type == "TPUReplicateMetadata"]


def partition_op_types(run_metadata) -> set[str]:
    return {node.op for partition in run_metadata.partition_graphs for node in partition.node}


def run(expected_cores: int | None = None) -> dict[str, Any]:
    missing = probe.missing_pjrt_plugin()
    if missing:
        return probe.failed_without_tpu("graph", FileNotFoundError(missing), pjrt=probe.pjrt_requested())
    details: dict[str, Any] = {"pjrt": probe.pjrt_requested()}
    try:
        import tensorflow as tf

        v1 = tf.compat.v1
        def replicated_sum(graph, cores):
            with graph.as_default():
                return v1.tpu.replicate(lambda: v1.tpu.cross_replica_sum(tf.constant(1.0)),
                                        inputs=[[] for _ in range(cores)])

        graph = tf.Graph()
        with graph.as_default():
            initialize = v1.tpu.initialize_system()
            shutdown = v1.tpu.shutdown_system()
        # Built before the TPU starts when the core count is known, so a host without a TPU still checks it.
        outputs = replicated_sum(graph, expected_cores) if expected_cores else None
        details["replicate_metadata_num_replicas"] = replicate_metadata(graph)
        with v1.Session("", graph=graph) as session:
            topology = tf.tpu.experimental.Topology(serialized=session.run(initialize))
            cores = topology.num_tasks * topology.num_tpus_per_task
            details["cores"] = cores
            if cores != expected_cores:  # unknown or different (cores_as_expected then fails): build for the real count
                outputs = replicated_sum(graph, cores)
                details["replicate_metadata_num_replicas"] = replicate_metadata(graph)
            run_metadata = v1.RunMetadata()
            values = session.run(outputs, options=v1.RunOptions(output_partition_graphs=True),
                                 run_metadata=run_metadata)
            session.run(shutdown)
    except Exception as error:  # noqa: BLE001 - the stage reports whatever stops it
        return probe.failed_without_tpu("graph", error, **details)
    flat = [float(v) for replica in values for v in (replica if isinstance(replica, (list, tuple)) else [replica])]
    executed = sorted(partition_op_types(run_metadata) & TPU_EXECUTE_OPS)
    checks = {
        "every_replica_sees_the_core_count": len(flat) == cores and all(v == cores for v in flat),
        "replicate_metadata_has_every_core": cores in details["replicate_metadata_num_replicas"],
        "tpu_execute_ops_in_partition_graphs": bool(executed),
        "cores_as_expected": expected_cores is None or cores == expected_cores,
    }
    return probe.checked("graph", checks, values=flat, tpu_execute_ops=executed, **details)

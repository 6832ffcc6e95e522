"""Building TPU graphs on a machine without a TPU, and reading them back.

`fake_tpu_strategy(n)` is TensorFlow's own TPUStrategy (v1), given a cluster resolver that reports n TPU
cores on this host instead of asking a TPU for them. Graph construction never touches a device, so the
library's TPU path builds its real graph (tpu.replicate, cross-replica sums, per-core inputs and outputs);
running it needs a TPU. `capture_graph()` is a hook that keeps the finished graph and stops before any
session is created.
"""

from __future__ import annotations

import collections

import tensorflow as tf
from tensorflow.python.client import session as session_lib

v1 = tf.compat.v1
HOST = "/job:localhost/replica:0/task:0"


class FakeTPUResolver(tf.distribute.cluster_resolver.ClusterResolver):
    """Reports `cores` TPU cores on the local host; master '' as on a TPU VM."""

    def __init__(self, cores: int):
        self._cores = cores

    def get_tpu_system_metadata(self):
        devices = [session_lib._DeviceAttributes(f"{HOST}/device:TPU:{i}", "TPU", 0, 0) for i in range(self._cores)]  # noqa: SLF001
        devices.append(session_lib._DeviceAttributes(f"{HOST}/device:CPU:0", "CPU", 0, 0))  # noqa: SLF001
        return tf.tpu.experimental.TPUSystemMetadata(self._cores, 1, self._cores, None, devices)

    def cluster_spec(self):
        return tf.train.ClusterSpec({})

    def master(self, task_type=None, task_id=None, rpc_layer=None):
        return ""

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        return {"TPU": self._cores}


def fake_tpu_strategy(cores: int):
    return v1.distribute.experimental.TPUStrategy(FakeTPUResolver(cores), steps_per_run=1)


class GraphCaptured(Exception):
    """Raised by CaptureGraphHook once it holds the graph, so no session is created."""


class CaptureGraphHook(v1.train.SessionRunHook):
    def __init__(self):
        self.graph_def = None

    def begin(self):
        self.graph_def = v1.get_default_graph().as_graph_def()
        raise GraphCaptured()


class GraphIndex:
    """Every node of a GraphDef, with the function (while body, ...) that holds it ('' for the top level)."""

    def __init__(self, graph_def):
        self.nodes = [("", node) for node in graph_def.node]
        for function in graph_def.library.function:
            self.nodes += [(function.signature.name, node) for node in function.node_def]

    def of_type(self, op_type: str) -> list:
        return [(where, node) for where, node in self.nodes if node.op == op_type]

    def types_in(self, where: str) -> collections.Counter:
        return collections.Counter(node.op for place, node in self.nodes if place == where)


def inputs_named(node) -> list[str]:
    """A node's data inputs by op name (':output:0' and '^' control edges stripped)."""
    return [name.split(":")[0] for name in node.input if not name.startswith("^")]

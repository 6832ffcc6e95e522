"""Where predict() pads its last batch: in the graph on one device, inside the dataset before a replica split.

Both give model_fn the same static batch and `is_padding`, and refuse a batch larger than predict_batch_size
(test_tpu_gather.py checks the padded rows are dropped in order on 1 and 4 replicas).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import estimator

from estimator_lib.hooks import SessionRunHook
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1


class _DatasetOps(SessionRunHook):
    def __init__(self):
        self.types: set[str] = set()

    def after_create_session(self, session, coord):
        self.types = {op.type for op in session.graph.get_operations()}


def _model_fn(features, labels, mode, params):
    seen.append((features["id"].shape.as_list(), "is_padding" in features))
    scale = v1.get_variable("scale", [], initializer=v1.constant_initializer(2.0))
    return TPUEstimatorSpec(mode=mode, predictions={"double": scale * tf.cast(features["id"], tf.float32)})


seen: list = []


def _ids(batch: int):
    def input_fn(params):
        return tf.data.Dataset.from_tensor_slices({"id": np.arange(20, dtype=np.int64)}).batch(batch)

    return input_fn


@pytest.mark.parametrize("replicas", [1, 2])
def test_padding_happens_in_the_graph_on_one_device_and_in_the_dataset_with_replicas(tmp_path, replicas):
    seen.clear()
    spy = _DatasetOps()
    est = estimator(_model_fn, str(tmp_path), replicas=replicas, predict_batch_size=8)
    values = [float(item["double"]) for item in est.predict(_ids(8), hooks=[spy])]
    assert values == [2.0 * i for i in range(20)]  # 8 + 8 + 4 rows, the padded 4 dropped
    assert seen == [([8 // replicas], True)] * replicas
    assert ("MapDataset" in spy.types) == (replicas > 1)


@pytest.mark.parametrize("replicas", [1, 2])
def test_a_batch_larger_than_predict_batch_size_is_refused(tmp_path, replicas):
    est = estimator(_model_fn, str(tmp_path), replicas=replicas, predict_batch_size=8)
    too_large = r"a batch is larger than predict_batch_size=8: rows =.*12"
    with pytest.raises(tf.errors.InvalidArgumentError, match=too_large):
        list(est.predict(_ids(12)))

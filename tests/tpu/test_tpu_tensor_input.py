"""An input_fn that returns (features, labels) tensors (an iterator's get_next()) on several replicas.

The original TPUEstimator fed such tensors through its infeed, one enqueue run per step: with per-host input
(per_host_input_for_training=True, PER_HOST_V1) it called input_fn once and split the global batch across
the cores; with per-shard input (False) it called input_fn once per core, each call told its index by
params['context']; PER_HOST_V2 required a Dataset (tensorflow/estimator r2.15 tpu_estimator.py,
generate_per_host_enqueue_ops_fn_for_host, generate_per_core_enqueue_ops_fn_for_host,
generate_per_host_v2_enqueue_ops_fn_for_host). Tensors give the next batch on each session.run, so training
runs one step per run, with the fallback warning when iterations_per_loop > 1.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from tpu_graph_testlib import CaptureGraphHook, GraphCaptured, GraphIndex, fake_tpu_strategy
from tpu_testlib import (
    EVAL_X,
    EVAL_Y,
    N_EVAL,
    TRAIN_X,
    TRAIN_Y,
    StepRecorder,
    estimator,
    logits_of,
    loss_of,
    model_fn_list,
    numpy_eval,
    read_event_scalars,
    train_input_fn,
    train_op_for,
)

from estimator_lib.tpu import RunConfig, TPUConfig, TPUEstimator
from estimator_lib.tpu.tpu_config import InputPipelineConfig
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1


def tensor_train_input_fn(params):
    """The same batches as tpu_testlib.train_input_fn, as tensors of a one-shot iterator."""
    return v1.data.make_one_shot_iterator(train_input_fn(params)).get_next()


def tensor_eval_input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices(({"x": EVAL_X, "id": np.arange(N_EVAL)}, EVAL_Y))
    return v1.data.make_one_shot_iterator(dataset.batch(params["batch_size"], drop_remainder=True)).get_next()


@pytest.mark.parametrize("replicas", [2, 4])
def test_per_host_tensors_are_split_across_replicas(tmp_path, replicas):
    # One input_fn call with the global batch, split across the replicas: the mean gradient over the replicas
    # is the gradient of the global batch, so the weights equal one device trained on the same batches.
    reference = estimator(model_fn_list, str(tmp_path / "one"), replicas=1, use_tpu=False)
    reference.train(train_input_fn, max_steps=4)
    recorder = StepRecorder()
    est = estimator(model_fn_list, str(tmp_path / "many"), replicas=replicas)
    est.train(tensor_train_input_fn, max_steps=4, hooks=[recorder])
    assert recorder.steps_after == [1, 2, 3, 4]
    np.testing.assert_allclose(est.get_variable_value("w"), reference.get_variable_value("w"), atol=1e-5)


def test_tensors_with_iterations_per_loop_train_one_step_per_run_with_the_warning(tmp_path, caplog):
    recorder = StepRecorder()
    est = estimator(model_fn_list, str(tmp_path), replicas=2, iterations_per_loop=5)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        est.train(tensor_train_input_fn, max_steps=6, hooks=[recorder])
    assert recorder.steps_after == [1, 2, 3, 4, 5, 6]
    warnings = [r.getMessage() for r in caplog.records if "one step per session.run" in r.getMessage()]
    assert len(warnings) == 1 and "an input_fn that returns tensors" in warnings[0]


@pytest.mark.parametrize("replicas", [2, 4])
def test_per_shard_input_fn_is_called_once_per_replica_with_its_index(tmp_path, replicas):
    calls = []

    def sharded_input_fn(params):
        context = params["context"]
        host, index, invocations, fed = context.current_input_fn_deployment()
        calls.append((index, invocations, fed, params["batch_size"]))
        dataset = tf.data.Dataset.from_tensor_slices(({"x": TRAIN_X, "id": np.arange(len(TRAIN_X))}, TRAIN_Y))
        dataset = dataset.shard(invocations, index).repeat().batch(params["batch_size"], drop_remainder=True)
        return v1.data.make_one_shot_iterator(dataset).get_next()

    def model_fn(features, labels, mode, config, params):
        loss = loss_of(labels, logits_of(features))

        def host_call(ids):  # the ids of every replica, concatenated in replica order
            shard_of_rows = tf.math.floormod(ids, replicas)
            expected = tf.repeat(tf.range(replicas, dtype=ids.dtype), tf.size(ids) // replicas)
            in_shards = tf.cast(tf.reduce_all(tf.equal(shard_of_rows, expected)), tf.float32)
            with tf.summary.create_file_writer(os.path.join(config.model_dir, "host_call")).as_default():
                return [tf.summary.scalar("in_shards", in_shards, step=0)]

        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss), host_call=(host_call, [features["id"]]))

    model_dir = str(tmp_path)
    est = estimator(model_fn, model_dir, replicas=replicas, per_host=False)
    est.train(sharded_input_fn, max_steps=3)
    assert calls == [(index, replicas, 1, 16 // replicas) for index in range(replicas)]
    assert [value for _, value in read_event_scalars(os.path.join(model_dir, "host_call"))["in_shards"]] == [1.0] * 3


def test_per_host_v2_needs_a_dataset_as_in_the_original(tmp_path):
    est = estimator(model_fn_list, str(tmp_path), replicas=2, per_host=InputPipelineConfig.PER_HOST_V2)
    with pytest.raises(TypeError, match=r"per_host_input_for_training=PER_HOST_V2 and several replicas, input_fn must "
                                        r"return a tf.data.Dataset .* received tuple"):
        est.train(tensor_train_input_fn, max_steps=1)


def test_evaluate_splits_tensors_across_replicas(tmp_path, trained_dir, trained_weights):
    est = estimator(model_fn_list, str(tmp_path), replicas=2)
    results = est.evaluate(tensor_eval_input_fn, checkpoint_path=trained_dir)
    expected = numpy_eval(*trained_weights, EVAL_X, EVAL_Y)
    assert results["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert results["accuracy"] == pytest.approx(expected["accuracy"], rel=1e-5)


def test_on_the_tpu_graph_each_core_gets_its_slice_of_the_tensors(tmp_path):
    # The same split on the real 4-core TPU graph (built without a TPU): every per-core data input of the
    # replicated step is one output of a Split of the input_fn tensors, in core order.
    config = RunConfig(model_dir=str(tmp_path), train_distribute=fake_tpu_strategy(4), save_summary_steps=0,
                       tpu_config=TPUConfig(iterations_per_loop=1))
    hook = CaptureGraphHook()
    with pytest.raises(GraphCaptured):
        TPUEstimator(model_fn_list, config=config, use_tpu=True, train_batch_size=16).train(
            tensor_train_input_fn, max_steps=2, hooks=[hook])
    index = GraphIndex(hook.graph_def)
    assert len(index.of_type("TPUReplicateMetadata")) == 1
    splits = {node.name for _, node in index.of_type("Split")}
    from_splits = []
    for _, node in index.of_type("TPUReplicatedInput"):
        sources = [name for name in node.input if not name.startswith("^")]
        if sources and all(name.split(":")[0] in splits for name in sources):
            from_splits.append(sources)
    assert len(from_splits) == 3  # x, id and the labels
    for sources in from_splits:
        assert len({name.split(":")[0] for name in sources}) == 1
        assert [int(name.split(":")[1]) if ":" in name else 0 for name in sources] == [0, 1, 2, 3]

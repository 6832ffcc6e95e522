"""What crosses from replicas to the host: eval_metrics tensors in dataset order, Keras metrics,
host_call summaries (every step, at any iterations_per_loop), predictions with padding removed,
the eval_on_tpu=False path, and a CPU SavedModel exported from a TPUEstimator."""

from __future__ import annotations

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import (
    DIM,
    EVAL_X,
    EVAL_Y,
    N_EVAL,
    N_TRAIN,
    StepRecorder,
    estimator,
    eval_input_fn,
    logits_of,
    loss_of,
    mirrored,
    model_fn_list,
    numpy_eval,
    read_event_scalars,
    train_input_fn,
    train_op_for,
)

from estimator_lib.export.export_output import PredictOutput
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec
from estimator_lib.tpu.tpu_config import InputPipelineConfig, RunConfig, TPUConfig
from estimator_lib.tpu.tpu_estimator import TPUEstimator
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1


# ---- eval_metrics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("replicas", [1, 4])
def test_metric_fn_sees_examples_in_dataset_order(tmp_path, trained_dir, replicas):
    seen: list[np.ndarray] = []

    def record(ids):
        seen.append(np.array(ids))
        return np.int64(len(ids))

    def metric_fn(ids, labels):
        rows = v1.py_func(record, [ids], tf.int64, stateful=True)
        return {"rows": v1.metrics.mean(tf.cast(rows, tf.float32)),
                "label_mean": v1.metrics.mean(tf.cast(labels, tf.float32))}

    def model_fn(features, labels, mode):
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        return TPUEstimatorSpec(mode=mode, loss=loss, eval_metrics=(metric_fn, {"ids": features["id"],
                                                                                 "labels": labels}))

    est = estimator(model_fn, str(tmp_path), replicas=replicas, use_tpu=replicas > 1, eval_batch_size=16)
    results = est.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    # One host call per global batch, each holding all 16 rows of the batch in order.
    assert [len(batch) for batch in seen] == [16] * (N_EVAL // 16)
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(N_EVAL))
    assert results["rows"] == 16
    assert results["label_mean"] == pytest.approx(EVAL_Y.mean())


def test_scalar_eval_metrics_tensors_cannot_be_concatenated(tmp_path, trained_dir):
    def model_fn(features, labels, mode):
        loss = loss_of(labels, logits_of(features))
        return TPUEstimatorSpec(mode=mode, loss=loss, eval_metrics=(lambda loss: {"l": v1.metrics.mean(loss)}, [loss]))

    # One device: nothing to concatenate, metric_fn gets the scalar as it is.
    cpu = estimator(model_fn, str(tmp_path / "cpu"), replicas=1, use_tpu=False)
    results = cpu.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    assert results["l"] == pytest.approx(results["loss"])
    replicated = estimator(model_fn, str(tmp_path / "two"), replicas=2)
    with pytest.raises(ValueError, match=r"concatenated along the batch axis, so each must have rank >= 1; .* is a "
                                         r"scalar\. Return a batch-major tensor, or reshape it: tf\.reshape"):
        replicated.evaluate(eval_input_fn, steps=1, checkpoint_path=trained_dir)


def test_keras_metrics_from_metric_fn(tmp_path, trained_dir, trained_weights):
    def metric_fn(labels, logits):
        accuracy = keras.metrics.SparseCategoricalAccuracy()
        accuracy.update_state(labels, logits)
        mean_logit = keras.metrics.Mean()
        mean_logit.update_state(tf.reduce_max(logits, axis=1))
        return {"keras_accuracy": accuracy, "keras_mean_max_logit": mean_logit}

    def model_fn(features, labels, mode):
        logits = logits_of(features)
        return TPUEstimatorSpec(mode=mode, loss=loss_of(labels, logits), eval_metrics=(metric_fn, [labels, logits]))

    est = estimator(model_fn, str(tmp_path), replicas=2, eval_batch_size=16)
    results = est.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    w, b = trained_weights
    logits = EVAL_X @ w + b
    assert results["keras_accuracy"] == pytest.approx(float(np.mean(logits.argmax(1) == EVAL_Y)), rel=1e-6)
    assert results["keras_mean_max_logit"] == pytest.approx(float(logits.max(1).mean()), rel=1e-5)


def test_metric_fn_must_return_a_dict(tmp_path, trained_dir):
    def model_fn(features, labels, mode):
        logits = logits_of(features)
        return TPUEstimatorSpec(mode=mode, loss=loss_of(labels, logits),
                                eval_metrics=(lambda labels: [v1.metrics.mean(labels)], [labels]))

    est = estimator(model_fn, str(tmp_path), replicas=2)
    with pytest.raises(TypeError, match=r"metric_fn must return a dict of name -> \(value, update_op\) or Keras "
                                        r"Metric; it returned list"):
        est.evaluate(eval_input_fn, steps=1, checkpoint_path=trained_dir)


def test_eval_on_tpu_false_uses_estimator_spec(tmp_path, trained_dir, trained_weights):
    seen_sizes = []

    def model_fn(features, labels, mode, params):
        seen_sizes.append((mode, params["batch_size"], features["x"].shape[0]))
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        if mode == ModeKeys.EVAL:
            predictions = tf.argmax(logits, 1)
            return EstimatorSpec(mode=mode, loss=loss,
                                 eval_metric_ops={"accuracy": v1.metrics.precision(labels, predictions)})
        return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op_for(loss))

    est = estimator(model_fn, str(tmp_path), replicas=2, eval_on_tpu=False, eval_batch_size=16)
    results = est.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    expected = numpy_eval(*trained_weights, EVAL_X, EVAL_Y)
    assert results["accuracy"] == pytest.approx(expected["accuracy"], rel=1e-6)
    assert results["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    # Evaluation ran on the host, one device: the global batch, unsplit.
    assert seen_sizes == [(ModeKeys.EVAL, 16, 16)]
    # With eval_on_tpu=True an EstimatorSpec in EVAL is refused, saying what to do.
    strict = estimator(model_fn, str(tmp_path / "strict"), replicas=2, eval_batch_size=16)
    with pytest.raises(ValueError, match=r"returned an EstimatorSpec in EVAL mode, but eval_on_tpu=True needs a "
                                         r"TPUEstimatorSpec .* or set eval_on_tpu=False"):
        strict.evaluate(eval_input_fn, steps=1, checkpoint_path=trained_dir)


# ---- host_call --------------------------------------------------------------------------------------
def host_call_model_fn(features, labels, mode, config, params):
    """The seeds' host_call use: summaries written on the host with a summary writer."""
    logits = logits_of(features)
    loss = loss_of(labels, logits)
    train_op = train_op_for(loss)
    global_step = v1.train.get_global_step()

    def host_call(gs, loss, ids):
        with tf.summary.create_file_writer(os.path.join(config.model_dir, "host_call")).as_default():
            step = gs[0]
            return [
                tf.summary.scalar("loss", tf.reduce_mean(loss), step=step),
                tf.summary.scalar("rows", tf.size(ids), step=step),
                tf.summary.scalar("first_id", ids[0], step=step),
                tf.summary.scalar("in_order", tf.cast(tf.reduce_all(tf.equal(ids[1:] - ids[:-1], 1)), tf.float32),
                                  step=step),
            ]

    return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op, host_call=(
        host_call, [tf.reshape(global_step, [1]), tf.reshape(loss, [1]), features["id"]]))


@pytest.mark.parametrize(
    "replicas, loop, per_host",
    [(2, 1, True), (2, 3, True), (2, 1, InputPipelineConfig.PER_HOST_V2), (1, 1, True), (1, 3, True)],
    ids=["2r-K1", "2r-K3", "2r-K1-PER_HOST_V2", "cpu-K1", "cpu-K3"],
)
def test_host_call_writes_tensorboard_events(tmp_path, replicas, loop, per_host):
    model_dir = str(tmp_path)
    est = estimator(host_call_model_fn, model_dir, replicas=replicas, use_tpu=replicas > 1, iterations_per_loop=loop,
                    train_batch_size=16, per_host=per_host)
    est.train(train_input_fn, max_steps=6)
    scalars = read_event_scalars(os.path.join(model_dir, "host_call"))
    steps = range(1, 7)  # every step, at any iterations_per_loop, as the original's outfeed did
    # Step s trains on ids (s-1)*16 .. (s-1)*16+15 (mod 64), concatenated from the replicas in order.
    assert [value for _, value in scalars["first_id"]] == [((s - 1) * 16) % N_TRAIN for s in steps]
    assert [value for _, value in scalars["rows"]] == [16] * len(steps)
    assert [value for _, value in scalars["in_order"]] == [1.0] * len(steps)
    assert all(np.isfinite(value) and value > 0 for _, value in scalars["loss"])


def stepped_host_call_model_fn(features, labels, mode, config, params):
    """host_call of the step each update completes: the global step read after train_op."""
    loss = loss_of(labels, logits_of(features))
    train_op = train_op_for(loss)
    with tf.control_dependencies([train_op]):
        completed = tf.identity(v1.train.get_global_step().read_value())

    def host_call(step, loss):
        with tf.summary.create_file_writer(os.path.join(config.model_dir, "host_call")).as_default():
            return [tf.summary.scalar("loss", loss[0], step=step[0])]

    return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op,
                            host_call=(host_call, [tf.reshape(completed, [1]), tf.reshape(loss, [1])]))


@pytest.mark.parametrize("replicas", [1, 2])
def test_host_call_runs_once_per_step_inside_the_loop(tmp_path, replicas):
    # The original enqueued host_call tensors to the outfeed on every step of its loop and ran host_call once
    # per dequeued step; off the TPU it ran one step per session.run. Either way: one point per step.
    model_dir = str(tmp_path)
    recorder = StepRecorder()
    est = estimator(stepped_host_call_model_fn, model_dir, replicas=replicas, iterations_per_loop=5)
    est.train(train_input_fn, max_steps=10, hooks=[recorder])
    assert recorder.steps_after == [5, 10]  # still two loops of 5 steps
    losses = read_event_scalars(os.path.join(model_dir, "host_call"))["loss"]
    assert [step for step, _ in losses] == list(range(1, 11))
    assert all(np.isfinite(value) for _, value in losses)


@pytest.mark.parametrize("use_tpu, expected", [(True, [1, 3, 5, 6, 8, 10]), (False, list(range(1, 11)))])
def test_host_call_every_n_steps_counts_within_each_tpu_loop(tmp_path, use_tpu, expected):
    # TPUConfig(experimental_host_call_every_n_steps=2): the original ran host_call on loop steps 0, 2, 4 of
    # each TPU loop (the counter restarts every loop), and on every step off the TPU.
    model_dir = str(tmp_path)
    config = RunConfig(model_dir=model_dir, train_distribute=mirrored(2) if use_tpu else None, save_summary_steps=0,
                       tpu_config=TPUConfig(iterations_per_loop=5, experimental_host_call_every_n_steps=2))
    est = TPUEstimator(stepped_host_call_model_fn, config=config, use_tpu=use_tpu, train_batch_size=16)
    est.train(train_input_fn, max_steps=10)
    assert [step for step, _ in read_event_scalars(os.path.join(model_dir, "host_call"))["loss"]] == expected


def test_host_call_runs_for_the_steps_of_a_loop_cut_short_by_the_end_of_input(tmp_path):
    def seven_batches(params):
        return train_input_fn(params).take(7)

    model_dir = str(tmp_path)
    est = estimator(stepped_host_call_model_fn, model_dir, replicas=2, iterations_per_loop=5)
    est.train(seven_batches)
    assert est.get_variable_value("global_step") == 7
    assert [step for step, _ in read_event_scalars(os.path.join(model_dir, "host_call"))["loss"]] == list(range(1, 8))


def test_host_call_in_a_loop_takes_tensors_of_unknown_batch_size(tmp_path):
    def unknown_batch_input_fn(params):
        return train_input_fn(params).unbatch().batch(params["batch_size"])  # batch dimension unknown

    model_dir = str(tmp_path)
    est = estimator(host_call_model_fn, model_dir, replicas=1, use_tpu=False, iterations_per_loop=2)
    est.train(unknown_batch_input_fn, max_steps=4)
    assert [value for _, value in read_event_scalars(os.path.join(model_dir, "host_call"))["rows"]] == [16] * 4


def test_host_call_event_file_readable_by_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    model_dir = str(tmp_path)
    est = estimator(host_call_model_fn, model_dir, replicas=2, iterations_per_loop=2, train_batch_size=16)
    est.train(train_input_fn, max_steps=4)
    accumulator = event_accumulator.EventAccumulator(os.path.join(model_dir, "host_call"))
    accumulator.Reload()
    tags = accumulator.Tags()["tensors"]
    assert {"loss", "rows", "first_id", "in_order"} <= set(tags)
    assert len(accumulator.Tensors("rows")) == 4


# ---- predict ----------------------------------------------------------------------------------------
def id_model_fn(features, labels, mode, params):
    """Predictions that name their example: the id, and a value computed from it."""
    static_rows.append(features["id"].shape.as_list())
    scale = v1.get_variable("scale", [], initializer=v1.constant_initializer(2.0))
    return TPUEstimatorSpec(mode=mode, predictions={"id": features["id"],
                                                    "double": scale * tf.cast(features["id"], tf.float32)})


static_rows: list = []


def ids_input_fn(params):
    return tf.data.Dataset.from_tensor_slices({"id": np.arange(100, dtype=np.int64)}).batch(params["batch_size"])


@pytest.mark.parametrize("replicas", [1, 4])
def test_predict_drops_padding_and_keeps_order(tmp_path, replicas):
    static_rows.clear()
    est = estimator(id_model_fn, str(tmp_path), replicas=replicas, use_tpu=replicas > 1, predict_batch_size=16)
    items = list(est.predict(ids_input_fn))
    assert [int(item["id"]) for item in items] == list(range(100))
    assert [float(item["double"]) for item in items] == [2.0 * i for i in range(100)]
    assert set(items[0]) == {"id", "double"}  # the padding mask does not leak into the output
    # model_fn sees a static batch dimension (the padded per-replica batch) on every replica.
    assert static_rows == [[16 // replicas]] * replicas
    batches = list(est.predict(ids_input_fn, yield_single_examples=False))
    assert [len(batch["id"]) for batch in batches] == [16] * 6 + [4]
    only = list(est.predict(ids_input_fn, predict_keys="double"))
    assert len(only) == 100 and set(only[0]) == {"double"}


def test_predict_single_tensor_predictions(tmp_path):
    def model_fn(features, labels, mode):
        return TPUEstimatorSpec(mode=mode, predictions=tf.cast(features["id"], tf.float32) * 3.0)

    est = estimator(model_fn, str(tmp_path), replicas=2, predict_batch_size=16)
    with pytest.raises(ValueError, match=r"With several replicas, predictions must be a dict of batch-major Tensors"):
        list(est.predict(ids_input_fn))
    cpu = estimator(model_fn, str(tmp_path / "cpu"), replicas=1, use_tpu=False, predict_batch_size=16)
    assert [float(value) for value in cpu.predict(ids_input_fn)] == [3.0 * i for i in range(100)]


def test_predict_needs_a_dataset_when_batch_sizes_are_set(tmp_path):
    est = estimator(id_model_fn, str(tmp_path), replicas=1, use_tpu=False, predict_batch_size=16)
    with pytest.raises(TypeError, match=r"TPUEstimator.predict needs input_fn to return a tf.data.Dataset .*received"):
        list(est.predict(lambda: {"id": tf.constant([1, 2], tf.int64)}))


# ---- export -----------------------------------------------------------------------------------------
def export_model_fn(features, labels, mode):
    logits = logits_of(features)
    if mode == ModeKeys.PREDICT:
        return TPUEstimatorSpec(mode=mode, predictions={"logits": logits},
                                export_outputs={"logits": PredictOutput({"logits": logits})})
    return model_fn_list(features, labels, mode, None, {})


def serving_input_receiver_fn():
    x = v1.placeholder(tf.float32, [None, DIM], name="x")
    from estimator_lib.export.receivers import ServingInputReceiver

    return ServingInputReceiver({"x": x}, {"x": x})


def test_export_cpu_graph_matches_predict(tmp_path, trained_dir, caplog):
    est = estimator(export_model_fn, str(tmp_path / "model"), replicas=2, predict_batch_size=16)
    logger = logging.getLogger("tensorflow")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(caplog.handler)
    try:
        export_dir = est.export_saved_model(str(tmp_path / "export"), serving_input_receiver_fn,
                                            checkpoint_path=trained_dir)
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old_level)
    export_dir = os.fsdecode(export_dir)
    assert "export_to_tpu: no TPU was resolved, so only the CPU serving graph is exported" in caplog.text
    # Only the CPU serving graph: one MetaGraph, tagged 'serve'.
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    assert [list(graph.meta_info_def.tags) for graph in proto.meta_graphs] == [["serve"]]

    with tf.Graph().as_default(), v1.Session() as session:
        meta = v1.saved_model.loader.load(session, ["serve"], export_dir)
        signature = meta.signature_def["logits"]
        served = session.run(signature.outputs["logits"].name, {signature.inputs["x"].name: EVAL_X})

    def predict_input_fn(params):
        return tf.data.Dataset.from_tensor_slices({"x": EVAL_X}).batch(params["batch_size"])

    predicted = np.stack([item["logits"] for item in est.predict(predict_input_fn, checkpoint_path=trained_dir)])
    np.testing.assert_allclose(served, predicted, rtol=1e-5, atol=1e-6)
    reader = tf.train.load_checkpoint(trained_dir)
    np.testing.assert_allclose(served, EVAL_X @ reader.get_tensor("w") + reader.get_tensor("b"), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("replicas", [1, 2])
def test_host_call_runs_in_evaluate(tmp_path, trained_dir, replicas):
    """The seeds: host_call works for train() and evaluate(); in evaluation it runs on every batch."""

    def model_fn(features, labels, mode, config, params):
        spec = host_call_model_fn(features, labels, mode, config, params)
        if mode != ModeKeys.EVAL:
            return spec
        return TPUEstimatorSpec(mode=mode, loss=spec.loss, host_call=spec.host_call,
                                eval_metrics=(lambda labels: {"n": v1.metrics.mean(labels)}, [labels]))

    model_dir = str(tmp_path)
    est = estimator(model_fn, model_dir, replicas=replicas, use_tpu=replicas > 1, eval_batch_size=16)
    results = est.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    assert results["n"] == pytest.approx(EVAL_Y.mean())
    scalars = read_event_scalars(os.path.join(model_dir, "host_call"))
    assert [value for _, value in scalars["first_id"]] == [0, 16, 32]
    assert [value for _, value in scalars["rows"]] == [16, 16, 16]
    assert [value for _, value in scalars["in_order"]] == [1.0, 1.0, 1.0]
    # host_call alone (no eval_metrics) runs too.
    def host_only(features, labels, mode, config, params):
        spec = host_call_model_fn(features, labels, mode, config, params)
        return spec if mode != ModeKeys.EVAL else TPUEstimatorSpec(mode=mode, loss=spec.loss, host_call=spec.host_call)

    other_dir = str(tmp_path / "host_only")
    estimator(host_only, other_dir, replicas=replicas, use_tpu=replicas > 1).evaluate(
        eval_input_fn, steps=2, checkpoint_path=trained_dir)
    assert len(read_event_scalars(os.path.join(other_dir, "host_call"))["rows"]) == 2


def test_predict_from_a_features_and_labels_dataset(tmp_path, trained_dir, trained_weights):
    """An eval-style input_fn ((features, labels) elements) works for predict; the labels are ignored."""

    def input_fn(params):
        return tf.data.Dataset.from_tensor_slices(({"x": EVAL_X[:21]}, EVAL_Y[:21])).batch(params["batch_size"])

    est = estimator(model_fn_list, str(tmp_path), replicas=2, predict_batch_size=8)
    logits = np.stack([item["logits"] for item in est.predict(input_fn, checkpoint_path=trained_dir)])
    w, b = trained_weights
    np.testing.assert_allclose(logits, EVAL_X[:21] @ w + b, rtol=1e-5, atol=1e-5)


def test_eval_with_a_short_last_batch_on_four_replicas(tmp_path, trained_dir):
    """40 examples in batches of 16: the last batch of 8 is split 2 per replica; metrics match one device."""

    def input_fn(params):
        dataset = tf.data.Dataset.from_tensor_slices(({"x": EVAL_X[:40], "id": np.arange(40)}, EVAL_Y[:40]))
        return dataset.batch(params["batch_size"])

    one = estimator(model_fn_list, str(tmp_path / "one"), replicas=1, use_tpu=False).evaluate(
        input_fn, checkpoint_path=trained_dir)
    four = estimator(model_fn_list, str(tmp_path / "four"), replicas=4).evaluate(input_fn, checkpoint_path=trained_dir)
    assert four["accuracy"] == pytest.approx(one["accuracy"], rel=1e-6)
    assert four["loss"] == pytest.approx(one["loss"], rel=1e-5)

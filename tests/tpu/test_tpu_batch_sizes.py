"""TPUEstimator arguments: reserved params, required and divisible batch sizes, what params['batch_size']
holds for input_fn and model_fn in each mode and input deployment, and the no-TPU error."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import (
    DIM,
    EVAL_X,
    estimator,
    eval_input_fn,
    logits_of,
    loss_of,
    metric_fn,
    model_fn_list,
    train_input_fn,
    train_op_for,
)

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig as BaseRunConfig
from estimator_lib.tpu.tpu_config import InputPipelineConfig, RunConfig
from estimator_lib.tpu.tpu_estimator import TPUContext, TPUEstimator
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1


class Recorder:
    """An input_fn and a model_fn that record params['batch_size'] and the batch they receive."""

    def __init__(self):
        self.input_calls: list[tuple[str, int, object]] = []
        self.model_calls: list[tuple[str, int, int]] = []

    def input_fn(self, params, mode):
        self.input_calls.append((mode, params["batch_size"], params.get("context")))
        if mode == ModeKeys.TRAIN:
            return train_input_fn(params)
        if mode == ModeKeys.EVAL:
            return eval_input_fn(params)
        return tf.data.Dataset.from_tensor_slices({"x": EVAL_X[:20]}).batch(params["batch_size"])

    def model_fn(self, features, labels, mode, params):
        self.model_calls.append((mode, params["batch_size"], features["x"].shape[0]))
        logits = logits_of(features)
        if mode == ModeKeys.PREDICT:
            return TPUEstimatorSpec(mode=mode, predictions={"logits": logits})
        loss = loss_of(labels, logits)
        if mode == ModeKeys.EVAL:
            return TPUEstimatorSpec(mode=mode, loss=loss, eval_metrics=(metric_fn, [labels, logits]))
        return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op_for(loss))


def run_all_modes(tmp_path, replicas, use_tpu=None, per_host=True):
    recorder = Recorder()
    est = estimator(recorder.model_fn, str(tmp_path), replicas=replicas, use_tpu=use_tpu, per_host=per_host,
                    train_batch_size=16, eval_batch_size=16, predict_batch_size=8)
    est.train(recorder.input_fn, max_steps=2)
    est.evaluate(recorder.input_fn, steps=1)
    predictions = list(est.predict(recorder.input_fn))
    assert len(predictions) == 20
    return recorder


def test_reserved_params_keys(tmp_path):
    for key in ("batch_size", "context"):
        with pytest.raises(ValueError, match=rf"params has reserved key\(s\) \['{key}'\]: TPUEstimator sets"):
            TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), params={key: 1},
                         use_tpu=False)


def test_train_batch_size_required_with_use_tpu(tmp_path):
    with pytest.raises(ValueError, match=r"train_batch_size is required when use_tpu=True; pass the global batch"):
        TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), use_tpu=True)
    # Without a TPU, sizes may be left to input_fn.
    TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), use_tpu=False)


@pytest.mark.parametrize("name, value", [("train_batch_size", 0), ("eval_batch_size", -8), ("predict_batch_size", 2.0),
                                         ("train_batch_size", True)])
def test_batch_sizes_must_be_positive_ints(tmp_path, name, value):
    with pytest.raises(ValueError, match=rf"{name} must be a positive integer \(the global batch size\); received"):
        TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), use_tpu=False,
                     **{name: value})


def test_config_must_be_a_tpu_run_config(tmp_path):
    with pytest.raises(ValueError, match=r"TPUEstimator needs a config"):
        TPUEstimator(model_fn=model_fn_list, use_tpu=False)
    with pytest.raises(ValueError, match=r"config must be an estimator_lib.tpu.RunConfig .*received RunConfig"):
        TPUEstimator(model_fn=model_fn_list, config=BaseRunConfig(), use_tpu=False)


def test_other_constructor_errors(tmp_path):
    config = RunConfig(model_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"use_tpu must be True or False; received use_tpu='yes' of type str"):
        TPUEstimator(model_fn=model_fn_list, config=config, use_tpu="yes")
    with pytest.raises(ValueError, match=r"batch_axis must be a tuple of ints or None; received 0"):
        TPUEstimator(model_fn=model_fn_list, config=config, use_tpu=False, batch_axis=0)
    with pytest.raises(ValueError, match=r"export_to_cpu and export_to_tpu are both False"):
        TPUEstimator(model_fn=model_fn_list, config=config, use_tpu=False, export_to_cpu=False, export_to_tpu=False)


def test_batch_sizes_not_divisible_by_replicas(tmp_path):
    est = estimator(model_fn_list, str(tmp_path / "a"), replicas=4, train_batch_size=10)
    with pytest.raises(ValueError, match=r"train_batch_size=10 must divide evenly by the number of replicas \(4\)"):
        est.train(train_input_fn, max_steps=1)
    est = estimator(model_fn_list, str(tmp_path / "b"), replicas=4, eval_batch_size=6)
    with pytest.raises(ValueError, match=r"eval_batch_size=6 must divide evenly by the number of replicas \(4\)"):
        est.evaluate(eval_input_fn, steps=1)
    est = estimator(model_fn_list, str(tmp_path / "c"), replicas=2, predict_batch_size=5)
    with pytest.raises(ValueError, match=r"predict_batch_size=5 .* replicas \(2\); use a multiple of 2, e.g. "
                                         r"predict_batch_size=6"):
        next(est.predict(eval_input_fn))


def test_per_host_v1_sizes_on_two_replicas(tmp_path):
    """PER_HOST_V1 (per_host_input_for_training=True): input_fn gets the global (per-host) size, model_fn
    the per-replica size, in every mode."""
    recorder = run_all_modes(tmp_path, replicas=2)
    inputs = {mode: {size for m, size, _ in recorder.input_calls if m == mode} for mode in ModeKeys.ALL}
    models = {mode: {(size, rows) for m, size, rows in recorder.model_calls if m == mode} for mode in ModeKeys.ALL}
    assert inputs == {ModeKeys.TRAIN: {16}, ModeKeys.EVAL: {16}, ModeKeys.PREDICT: {8}}
    assert models == {ModeKeys.TRAIN: {(8, 8)}, ModeKeys.EVAL: {(8, 8)}, ModeKeys.PREDICT: {(4, 4)}}
    context = recorder.input_calls[0][2]
    assert isinstance(context, TPUContext)
    assert (context.num_replicas, context.global_batch_size, context.batch_size_for_model_fn) == (2, 16, 8)


@pytest.mark.parametrize("per_host", [InputPipelineConfig.PER_HOST_V2, False])
def test_per_host_v2_sizes_on_four_replicas(tmp_path, per_host):
    """PER_HOST_V2 (and per-shard input): input_fn itself makes per-replica batches for training."""
    recorder = Recorder()
    est = estimator(recorder.model_fn, str(tmp_path), replicas=4, per_host=per_host, train_batch_size=16)
    est.train(recorder.input_fn, max_steps=2)
    assert {size for _, size, _ in recorder.input_calls} == {4}
    assert {(size, rows) for _, size, rows in recorder.model_calls} == {(4, 4)}
    assert est.get_variable_value("global_step") == 2


def test_use_tpu_false_passes_sizes_unmodified(tmp_path):
    recorder = run_all_modes(tmp_path, replicas=1, use_tpu=False)
    assert {(mode, size) for mode, size, _ in recorder.input_calls} == {
        (ModeKeys.TRAIN, 16), (ModeKeys.EVAL, 16), (ModeKeys.PREDICT, 8)}
    assert {(mode, size) for mode, size, _ in recorder.model_calls} == {
        (ModeKeys.TRAIN, 16), (ModeKeys.EVAL, 16), (ModeKeys.PREDICT, 8)}


def test_use_tpu_false_without_batch_sizes(tmp_path):
    """Without batch sizes params has no 'batch_size' and input_fn batches as it likes."""
    seen = []

    def input_fn(params):
        seen.append(dict(params))
        return train_input_fn({"batch_size": 4})

    est = TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), use_tpu=False,
                       params={"learning_rate": 0.1})
    est.train(input_fn, max_steps=1)
    assert seen == [{"learning_rate": 0.1}]


@pytest.fixture
def no_tpu_environment(monkeypatch):
    """Nothing that points TF at a Cloud TPU (so resolution stays local and fails fast, offline)."""
    for name in ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "TPU_WORKER_HOSTNAMES"):
        monkeypatch.delenv(name, raising=False)


def test_use_tpu_without_a_tpu_says_how_to_fall_back(tmp_path, no_tpu_environment):
    est = TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path)), use_tpu=True,
                       train_batch_size=16)
    with pytest.raises(RuntimeError, match=r"use_tpu=True but no TPU could be reached \(RuntimeError: no TPU name "
                                           r"was given .*TPUEstimator\(use_tpu=False"
                                           r".*train_distribute=tf.compat.v1.distribute.MirroredStrategy"):
        est.train(train_input_fn, max_steps=1)
    assert not os.path.exists(os.path.join(str(tmp_path), "checkpoint"))


def test_model_fn_reads_per_replica_features(tmp_path):
    """The replica's features really are the per-replica slice: 4 replicas x 4 rows of a global 16."""
    rows = []

    def model_fn(features, labels, mode, params):
        rows.append(features["x"].shape.as_list())
        return model_fn_list(features, labels, mode, None, params)

    est = estimator(model_fn, str(tmp_path), replicas=4)
    est.train(train_input_fn, max_steps=1)
    assert rows == [[4, DIM]] * 4
    assert np.isfinite(est.get_variable_value("w")).all()


def test_named_tpu_off_cloud_fails_fast(tmp_path, no_tpu_environment, monkeypatch):
    """A TPU name needs the GCE metadata server; pointed at a closed local port it fails at once, clearly."""
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    est = TPUEstimator(model_fn=model_fn_list, config=RunConfig(model_dir=str(tmp_path), master="my-tpu"),
                       use_tpu=True, train_batch_size=16)
    with pytest.raises(RuntimeError, match=r"no TPU could be reached \(URLError: .*Connection refused.*use_tpu=False"):
        est.train(train_input_fn, max_steps=1)


def test_eval_and_predict_batch_sizes_required_with_use_tpu(tmp_path, trained_dir):
    est = estimator(model_fn_list, str(tmp_path), replicas=2, eval_batch_size=None, predict_batch_size=None)
    with pytest.raises(ValueError, match=r"eval_batch_size is required for evaluate\(\) when use_tpu=True: pass "
                                         r"TPUEstimator\(eval_batch_size=<global batch size>\).*eval_on_tpu=False"):
        est.evaluate(eval_input_fn, steps=1, checkpoint_path=trained_dir)
    with pytest.raises(ValueError, match=r"predict_batch_size is required for predict\(\) when use_tpu=True"):
        next(est.predict(eval_input_fn, checkpoint_path=trained_dir))
    # On one device the input_fn may batch as it likes.
    on_host = estimator(model_fn_list, str(tmp_path / "host"), replicas=2, eval_batch_size=None, eval_on_tpu=False)
    assert "loss" in on_host.evaluate(lambda: eval_input_fn({"batch_size": 8}), steps=1, checkpoint_path=trained_dir)

"""The plain Python tasks behind each component, run directly on a tiny model (no KFP)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components.evaluate.task import build_confusion_matrix, run_evaluate
from estimator_kfp.components.export.task import run_export
from estimator_kfp.components.predict.task import run_predict
from estimator_kfp.components.train.task import TrainRequest, run_train
from estimator_kfp.components.train.task import main as train_main

from estimator_lib.checkpoints import latest_checkpoint


def _step(model_dir):
    return int(tf.train.load_variable(latest_checkpoint(model_dir), "global_step"))


def test_train_writes_checkpoint_files(trained_model_dir):
    checkpoint = latest_checkpoint(trained_model_dir)
    assert checkpoint is not None and checkpoint.endswith("model.ckpt-40")
    assert os.path.exists(checkpoint + ".index")
    assert os.path.exists(os.path.join(trained_model_dir, "checkpoint"))


def test_train_resume_continues_and_a_retry_stops_at_the_same_step(trained_model_dir, tmp_path):
    resumed = str(tmp_path / "resumed")
    request = TrainRequest(
        model_ref=MODEL_REF, output_model_dir=resumed, params_json=TINY_PARAMS_JSON, train_steps=10,
        init_model_dir=trained_model_dir, init_mode="resume",
    )
    summary = run_train(request)
    assert summary["global_step"] == 50 and _step(resumed) == 50
    # A retried attempt of the same step finds its own checkpoint and does not train past the target.
    assert run_train(request)["global_step"] == 50
    assert _step(trained_model_dir) == 40  # the input artifact is never modified


def test_train_warm_start_starts_a_new_run_from_the_weights(trained_model_dir, tmp_path):
    warm = str(tmp_path / "warm")
    # A vanishing learning rate keeps the one step from moving the weights, so they equal the source's.
    params = json.dumps({**json.loads(TINY_PARAMS_JSON), "learning_rate": 1e-9})
    summary = run_train(
        TrainRequest(
            model_ref=MODEL_REF, output_model_dir=warm, params_json=params, train_steps=1,
            init_model_dir=trained_model_dir, init_mode="warm_start",
        )
    )
    assert summary["global_step"] == 1
    name = "hidden_0/kernel"
    np.testing.assert_allclose(
        tf.train.load_variable(latest_checkpoint(warm), name),
        tf.train.load_variable(latest_checkpoint(trained_model_dir), name),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"train_steps": 0}, r"train_steps must be >= 1; received train_steps=0"),
        ({"train_steps": "10"}, r"train_steps must be an integer; received train_steps='10'"),
        ({"output_model_dir": ""}, r"output_model_dir must be a directory path or gs:// URI"),
        ({"init_mode": "continue"}, r"init_mode must be one of \('resume', 'warm_start'\)"),
        ({"train_batch_size": -1}, r"train_batch_size must be >= 0; received train_batch_size=-1"),
    ],
)
def test_train_request_validation(fields, message, tmp_path):
    base = {"model_ref": MODEL_REF, "output_model_dir": str(tmp_path / "m")}
    with pytest.raises((ValueError, TypeError), match=message):
        run_train(TrainRequest(**{**base, **fields}))


def test_train_from_an_empty_init_dir_says_what_to_connect(tmp_path):
    request = TrainRequest(model_ref=MODEL_REF, output_model_dir=str(tmp_path / "m"), init_model_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"init_model_dir=.* holds no complete checkpoint.*Connect the `model` output"):
        run_train(request)


def test_train_main_reads_a_config_file_and_flags_override_it(tmp_path, capsys):
    config = tmp_path / "train_config.json"
    config.write_text(json.dumps({"model_ref": MODEL_REF, "params_json": TINY_PARAMS_JSON, "train_steps": 99}))
    model_dir = str(tmp_path / "cli_model")
    assert train_main(["--config", str(config), "--train-steps", "3", "--output-model-dir", model_dir]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["global_step"] == 3
    config.write_text(json.dumps({"model_ref": MODEL_REF, "typo_field": 1}))
    with pytest.raises(ValueError, match=r"unknown fields \['typo_field'\]"):
        train_main(["--config", str(config), "--output-model-dir", model_dir])
    with pytest.raises(ValueError, match=r"Missing --model-ref"):
        train_main(["--output-model-dir", model_dir])


def test_evaluate_metrics_and_confusion_matrix(trained_model_dir):
    result = run_evaluate(model_ref=MODEL_REF, model_dir=trained_model_dir, params_json=TINY_PARAMS_JSON,
                          eval_batch_size=32, class_names="a,b,c")
    assert set(result.metrics) >= {"accuracy", "loss", "global_step"}
    assert result.metrics["global_step"] == 40
    assert result.gate_value == result.metrics["accuracy"]
    matrix = np.asarray(result.confusion_matrix)
    assert result.class_names == ["a", "b", "c"] and matrix.shape == (3, 3)
    assert matrix.sum() == 96  # every evaluation example once
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result.metrics["accuracy"], abs=1e-6)


def test_evaluate_with_eval_steps_counts_only_those_batches(trained_model_dir):
    result = run_evaluate(model_ref=MODEL_REF, model_dir=trained_model_dir, params_json=TINY_PARAMS_JSON,
                          eval_batch_size=16, eval_steps=2, gate_metric="loss")
    assert np.asarray(result.confusion_matrix).sum() == 32
    assert result.gate_value == result.metrics["loss"]


def test_evaluate_errors(trained_model_dir, tmp_path):
    with pytest.raises(
        ValueError, match=r"gate_metric='auc' is not among the evaluation metrics \['accuracy', 'global_step', 'loss'\]"
    ):
        run_evaluate(model_ref=MODEL_REF, model_dir=trained_model_dir, params_json=TINY_PARAMS_JSON, gate_metric="auc")
    with pytest.raises(ValueError, match=r"model_dir=.* holds no complete checkpoint"):
        run_evaluate(model_ref=MODEL_REF, model_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"class_names must be a comma-separated list"):
        run_evaluate(model_ref=MODEL_REF, model_dir=trained_model_dir, class_names="a,,b")


def test_confusion_matrix_rows_are_true_classes():
    categories, matrix = build_confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), None)
    assert categories == ["0", "1", "2"]
    assert matrix == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match=r"class_names lists 2 classes but class id 2 occurs"):
        build_confusion_matrix(np.array([0, 2]), np.array([0, 1]), ["a", "b"])


def test_export_writes_a_loadable_saved_model_with_signatures(trained_model_dir, tmp_path):
    output = str(tmp_path / "saved_model")
    metadata = run_export(
        model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=output, params_json=TINY_PARAMS_JSON
    )
    assert metadata["framework"] == "tensorflow" and metadata["framework_version"] == tf.__version__
    assert metadata["global_step"] == 40
    assert set(metadata["signatures"]) == {"serving_default", "classification"}
    assert metadata["signatures"]["serving_default"]["outputs"]["class_ids"]["dtype"] == "int32"
    loaded = tf.saved_model.load(output)
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[2.0, 0.0, 0.0, 1.0]))}
        )
    )
    outputs = loaded.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
    assert outputs["probabilities"].shape == (1, 3)
    # A retried step finds the output committed (by itself) and keeps it.
    again = run_export(
        model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=output, params_json=TINY_PARAMS_JSON
    )
    assert again["signatures"] == metadata["signatures"]
    # Files nobody published (no marker) are never overwritten.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "saved_model.pb").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match=r"already holds files \['saved_model.pb'\] that no attempt of this step"):
        run_export(
            model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=str(foreign), params_json=TINY_PARAMS_JSON
        )


def test_predict_writes_jsonl_and_tfrecord(trained_model_dir, tmp_path):
    summary = run_predict(
        model_ref=MODEL_REF,
        model_dir=trained_model_dir,
        output_dir=str(tmp_path / "p"),
        params_json=TINY_PARAMS_JSON,
        predict_batch_size=32,
        max_predictions=10,
    )
    assert summary["rows"] == 10 and summary["columns"] == ["class_ids", "logits", "probabilities"]
    rows = [json.loads(line) for line in (tmp_path / "p" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(0 <= row["class_ids"] < 3 and len(row["probabilities"]) == 3 for row in rows)
    assert not [name for name in os.listdir(tmp_path / "p") if ".tmp-" in name]
    summary = run_predict(
        model_ref=MODEL_REF,
        model_dir=trained_model_dir,
        output_dir=str(tmp_path / "t"),
        params_json=TINY_PARAMS_JSON,
        output_format="tfrecord",
        predict_keys="class_ids",
    )
    assert summary["rows"] == 96 and summary["columns"] == ["class_ids"]
    records = list(tf.data.TFRecordDataset(str(tmp_path / "t" / "predictions.tfrecord")))
    example = tf.train.Example.FromString(records[0].numpy())
    assert len(records) == 96 and len(example.features.feature["class_ids"].int64_list.value) == 1


def test_predict_validation(trained_model_dir, tmp_path):
    with pytest.raises(
        ValueError, match=r"output_format must be one of \['jsonl', 'tfrecord'\]; received output_format='csv'"
    ):
        run_predict(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=str(tmp_path), output_format="csv")
    with pytest.raises(ValueError, match=r"max_predictions must be >= 0"):
        run_predict(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=str(tmp_path), max_predictions=-5)


def test_use_tpu_builds_a_tpu_estimator_for_the_local_tpu(tmp_path):
    from estimator_kfp.components._estimator import EstimatorOptions, build_estimator
    from estimator_kfp.components._model_ref import resolve_model

    TPUEstimator = pytest.importorskip("estimator_lib.tpu").TPUEstimator  # the TPU support is optional

    options = EstimatorOptions(use_tpu=True, train_batch_size=64, iterations_per_loop=10)
    estimator = build_estimator(resolve_model(MODEL_REF), str(tmp_path), {"n_examples": 64}, options)
    assert isinstance(estimator, TPUEstimator) and estimator.use_tpu
    assert estimator.config.tpu_config.iterations_per_loop == 10
    assert estimator.config.master == "local"


def test_use_tpu_needs_a_global_batch_size(tmp_path):
    with pytest.raises(ValueError, match=r"use_tpu=True needs the global batch size"):
        TrainRequest(model_ref=MODEL_REF, output_model_dir=str(tmp_path), use_tpu=True)


def test_an_input_fn_returning_the_wrong_type_is_named(tmp_path):
    request = TrainRequest(
        model_ref=MODEL_REF,
        output_model_dir=str(tmp_path / "m"),
        train_steps=1,
        input_fn_ref="components_testlib:list_input_fn",
    )
    with pytest.raises(TypeError, match=r"input_fn must return a tf.data.Dataset.*it returned a list"):
        run_train(request)


def test_train_fails_loudly_when_user_code_exits(tmp_path):
    request = TrainRequest(
        model_ref="example_models.classifier:model_fn",
        output_model_dir=str(tmp_path / "m"),
        input_fn_ref="refs_testlib:exiting_input_fn",
        params_json=TINY_PARAMS_JSON,
        train_steps=3,
    )
    with pytest.raises(RuntimeError, match=r"User code called sys.exit\(0\) during training, before step 3"):
        run_train(request)


def test_train_with_an_input_fn_returning_none_says_what_it_must_return(tmp_path):
    request = TrainRequest(
        model_ref="example_models.classifier:model_fn",
        output_model_dir=str(tmp_path / "m"),
        input_fn_ref="refs_testlib:none_input_fn",
        params_json=TINY_PARAMS_JSON,
        train_steps=3,
    )
    with pytest.raises(TypeError, match=r"input_fn must return a tf.data.Dataset.*it returned a NoneType"):
        run_train(request)


def test_train_with_an_own_callable_instance_trains(tmp_path):
    summary = run_train(
        TrainRequest(
            model_ref="example_models.classifier:model_fn",
            output_model_dir=str(tmp_path / "m"),
            input_fn_ref="refs_testlib:callable_input_fn",
            params_json=TINY_PARAMS_JSON,
            train_steps=2,
        )
    )
    assert summary["global_step"] == 2


def test_a_second_train_step_on_a_busy_output_is_refused(tmp_path, monkeypatch):
    from estimator_kfp.components.train import task as train_task

    from estimator_lib.storage.lease import ModelDirBusyError, ModelDirLease

    monkeypatch.setattr(train_task, "LEASE_WAIT_SECS", 0.5)  # the default waits 90 s for a dead trainer's lease
    output = str(tmp_path / "m")
    with ModelDirLease(output, ttl_secs=30):  # a live trainer holds the output
        request = TrainRequest(
            model_ref=MODEL_REF, output_model_dir=output, params_json=TINY_PARAMS_JSON, train_steps=2
        )
        with pytest.raises(ModelDirBusyError, match=r"is being written by another trainer"):
            run_train(request)
    assert run_train(request)["global_step"] == 2  # free once the other trainer released it

"""The whole training pipeline on kfp.local, both ways through the gate, with its artifacts inspected.

Two pipeline runs in total (module-scoped): one through the CLI's run-local with a threshold that passes,
and one that resumes the first run's checkpoint for 5 steps with a threshold no accuracy can reach.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from estimator_kfp.pipelines import cli
from estimator_kfp.pipelines.local_run import run_local

from estimator_lib.checkpoints import latest_checkpoint

PARAMS_JSON = json.dumps({"hidden_units": [8], "learning_rate": 0.2, "n_examples": 128, "seed": 5})


@pytest.fixture(scope="module")
def passed_run(tmp_path_factory):
    """run-local through the CLI: 40 steps, gate at accuracy >= 0.5."""
    root = tmp_path_factory.mktemp("local_pass")
    summary_path = root / "summary.json"
    import io
    from contextlib import redirect_stdout

    output = io.StringIO()
    with redirect_stdout(output):
        code = cli.main([
            "run-local", "--pipeline-root", str(root / "pipeline_root"), "--train-steps", "40", "--threshold", "0.5",
            "--params-json", PARAMS_JSON, "--param", "max_predictions=12", "--param", "class_names=a,b,c",
            "--summary-json", str(summary_path),
        ])
    assert code == 0
    return json.loads(summary_path.read_text()), output.getvalue()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, passed_run):
    """Resumes the passed run's checkpoint (imported with dsl.importer) for 5 steps; gate at accuracy >= 1.01."""
    from estimator_kfp.pipelines.training_pipeline import build_training_pipeline

    summary, _ = passed_run
    return run_local(
        str(tmp_path_factory.mktemp("local_fail")), target_pipeline=build_training_pipeline("local", resume=True),
        init_model_uri=summary["artifacts"]["train"]["model"]["uri"], train_steps=5, threshold=1.01,
        params_json=PARAMS_JSON,
    )


@pytest.mark.slow
def test_train_artifact_is_a_checkpoint_directory(passed_run):
    summary, _ = passed_run
    model = summary["artifacts"]["train"]["model"]
    checkpoint = latest_checkpoint(model["uri"])
    assert checkpoint is not None and checkpoint.endswith("model.ckpt-40")
    assert os.path.exists(checkpoint + ".index")
    assert model["metadata"]["global_step"] == 40 and model["metadata"]["framework"] == "tensorflow"


@pytest.mark.slow
def test_evaluate_logs_metrics_and_a_confusion_matrix(passed_run):
    summary, _ = passed_run
    metrics = summary["artifacts"]["evaluate"]["metrics"]
    assert metrics["metadata"]["global_step"] == 40
    assert 0.5 <= metrics["metadata"]["accuracy"] <= 1.0 and metrics["metadata"]["loss"] > 0
    with open(metrics["uri"]) as handle:
        assert json.load(handle)["accuracy"] == pytest.approx(metrics["metadata"]["accuracy"])
    matrix = summary["artifacts"]["evaluate"]["classification_metrics"]["metadata"]["confusionMatrix"]
    assert [spec["displayName"] for spec in matrix["annotationSpecs"]] == ["a", "b", "c"]
    rows = np.array([row["row"] for row in matrix["rows"]])
    assert rows.sum() == 128
    assert np.trace(rows) / rows.sum() == pytest.approx(metrics["metadata"]["accuracy"], abs=1e-6)
    assert summary["parameters"]["evaluate"]["gate_value"] == pytest.approx(metrics["metadata"]["accuracy"])


@pytest.mark.slow
def test_passing_gate_exports_a_loadable_saved_model(passed_run):
    summary, _ = passed_run
    exported = summary["artifacts"]["export"]["saved_model"]
    assert exported["metadata"]["framework"] == "tensorflow"
    assert exported["metadata"]["framework_version"] == tf.__version__
    assert "serving_default" in exported["metadata"]["signatures"]
    loaded = tf.saved_model.load(exported["uri"])
    example = tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[-2.0, 1.5, 0.0, -1.0]))}))
    outputs = loaded.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
    assert outputs["class_ids"].shape == (1,)


@pytest.mark.slow
def test_passing_gate_writes_batch_predictions(passed_run):
    summary, _ = passed_run
    predictions = summary["artifacts"]["predict"]["predictions"]
    with open(os.path.join(predictions["uri"], "predictions.jsonl")) as handle:
        rows = [json.loads(line) for line in handle]
    assert len(rows) == 12 == predictions["metadata"]["rows"]
    assert all(set(row) == {"class_ids", "probabilities", "logits"} for row in rows)
    assert all(abs(sum(row["probabilities"]) - 1) < 1e-4 for row in rows)
    report = summary["artifacts"]["gate-report"]["report"]
    assert report["metadata"]["passed"] is True


@pytest.mark.slow
def test_run_local_prints_locations_metrics_and_a_prediction_sample(passed_run):
    summary, output = passed_run
    assert "step = 0" in output  # the estimator's progress lines reach the console (the first says step = 0)
    assert f"export.saved_model: {summary['artifacts']['export']['saved_model']['uri']}" in output
    assert "Final metrics:" in output and "accuracy = " in output
    assert "Gate: passed" in output
    assert "SavedModel: " in output and "Prediction sample:" in output and '"class_ids"' in output


@pytest.mark.slow
def test_failing_gate_skips_export_and_records_why(failed_run):
    assert failed_run.gate_passed is False
    assert "export" not in failed_run.artifacts and "predict" not in failed_run.artifacts
    report = failed_run.artifact("gate-report-2", "report")
    assert report["metadata"]["passed"] is False and report["metadata"]["threshold"] == 1.01
    with open(report["uri"]) as handle:
        assert "Evaluation gate failed" in handle.read()

@pytest.mark.slow
def test_resumed_training_continues_from_the_imported_checkpoint(failed_run, passed_run):
    summary, _ = passed_run
    train = failed_run.artifacts["train"]["model"]
    assert train["metadata"]["global_step"] == 45 and train["metadata"]["init_mode"] == "resume"
    assert train["metadata"]["init_model_dir"] == summary["artifacts"]["train"]["model"]["uri"]
    assert latest_checkpoint(train["uri"]).endswith("model.ckpt-45")
    assert latest_checkpoint(summary["artifacts"]["train"]["model"]["uri"]).endswith("model.ckpt-40")


def test_run_local_rejects_a_gcs_root():
    with pytest.raises(ValueError, match=r"pipeline_root must be a local directory.*estimator-pipelines submit"):
        run_local("gs://bucket/root")

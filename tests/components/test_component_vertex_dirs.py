"""Training as a Vertex CustomJob: the AIP_* directories, and no step writing into an upstream artifact."""

import os

import pytest
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components.evaluate.task import run_evaluate
from estimator_kfp.components.train.task import TrainRequest
from estimator_kfp.components.train.task import main as train_main
from estimator_kfp.components.train.vertex_dirs import (
    VertexDirs,
    publish_checkpoint,
    train_in_job,
)

from estimator_lib.checkpoints import latest_checkpoint


def _tree(directory):
    return sorted(
        (os.path.relpath(os.path.join(root, name), directory), os.path.getsize(os.path.join(root, name)))
        for root, _, files in os.walk(directory) for name in files
    )


def test_checkpoints_go_to_the_job_dir_and_the_newest_is_published_to_the_model_output(tmp_path):
    dirs = VertexDirs(checkpoint_dir=str(tmp_path / "base/checkpoints"),
                      tensorboard_log_dir=str(tmp_path / "base/logs"))
    request = TrainRequest(model_ref=MODEL_REF, output_model_dir=str(tmp_path / "model"), params_json=TINY_PARAMS_JSON,
                           train_steps=6, train_batch_size=16, save_checkpoints_steps=3)
    summary = train_in_job(request, dirs)
    assert summary["global_step"] == 6 and summary["checkpoint"] == "model.ckpt-6"
    assert summary["checkpoint_dir"] == dirs.checkpoint_dir
    assert latest_checkpoint(dirs.checkpoint_dir).endswith("model.ckpt-6")
    published = latest_checkpoint(str(tmp_path / "model"))
    assert published is not None and published.endswith("model.ckpt-6")
    assert not any(name.startswith("model.ckpt-3") for name in os.listdir(tmp_path / "model"))  # only the newest
    events = [name for _, _, files in os.walk(dirs.tensorboard_log_dir) for name in files if ".tfevents." in name]
    assert events, "the event files reach AIP_TENSORBOARD_LOG_DIR"
    # A restarted job (same AIP_CHECKPOINT_DIR) resumes there and stops at the same target step.
    assert train_in_job(request, dirs)["global_step"] == 6


def test_without_aip_variables_training_writes_into_the_output(tmp_path):
    request = TrainRequest(model_ref=MODEL_REF, output_model_dir=str(tmp_path / "model"), params_json=TINY_PARAMS_JSON,
                           train_steps=2, train_batch_size=16)
    summary = train_in_job(request, VertexDirs())
    assert summary["checkpoint_dir"] == str(tmp_path / "model") and "tensorboard_log_dir" not in summary


def test_the_cli_defaults_its_output_to_aip_model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIP_MODEL_DIR", str(tmp_path / "aip_model"))
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", str(tmp_path / "aip_checkpoints"))
    assert train_main(["--model-ref", MODEL_REF, "--params-json", TINY_PARAMS_JSON, "--train-steps", "2"]) == 0
    assert latest_checkpoint(str(tmp_path / "aip_model")).endswith("model.ckpt-2")
    assert latest_checkpoint(str(tmp_path / "aip_checkpoints")).endswith("model.ckpt-2")


def test_publishing_an_incomplete_checkpoint_is_refused(tmp_path):
    (tmp_path / "model.ckpt-5.data-00000-of-00001").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"model.ckpt-5' has no .index file; it is not a complete checkpoint"):
        publish_checkpoint(str(tmp_path), str(tmp_path / "out"), "model.ckpt-5")


def test_evaluate_does_not_write_into_the_model_it_reads(trained_model_dir):
    before = _tree(trained_model_dir)
    run_evaluate(model_ref=MODEL_REF, model_dir=trained_model_dir, params_json=TINY_PARAMS_JSON, eval_batch_size=32)
    assert _tree(trained_model_dir) == before

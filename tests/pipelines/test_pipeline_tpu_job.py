"""The TPU training path without a TPU: the planner step on kfp.local, then its worker pool command on CPU."""

import json
import os

import pytest
from kfp import dsl, local

from components.tpu_train_job.component import tpu_train_job_op
from components.train.task import main as train_main
from estimator_lib.checkpoints import latest_checkpoint

PARAMS_JSON = json.dumps({"hidden_units": [8], "n_examples": 64, "seed": 2})


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path_factory.mktemp("tpu_plan")))
    return tpu_train_job_op(
        model_ref="example_models.classifier", params_json=PARAMS_JSON, train_steps=6, train_batch_size=16,
        tpu_image="example.com/estimator-lib-tpu:1", machine_type="ct5lp-hightpu-4t", tpu_topology="2x2",
    )


def test_planner_returns_worker_pool_specs_for_the_model_artifact(planned):
    (pool,) = planned.outputs["worker_pool_specs"]
    model = planned.outputs["model"]
    config = planned.outputs["job_config"]
    assert pool["machine_spec"] == {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    assert pool["container_spec"]["args"] == ["--config", config.uri, "--output-model-dir", model.uri]
    with open(config.path) as handle:
        stored = json.load(handle)
    assert stored["use_tpu"] is True and stored["train_steps"] == 6 and stored["train_batch_size"] == 16


def test_the_custom_job_command_trains_into_the_model_artifact(planned):
    (pool,) = planned.outputs["worker_pool_specs"]
    assert pool["container_spec"]["command"] == ["python", "-m", "components.train.task"]
    # No TPU here: run the job's own arguments with --no-use-tpu, as one would to debug a TPU job on a CPU.
    assert train_main([*pool["container_spec"]["args"], "--no-use-tpu"]) == 0
    checkpoint = latest_checkpoint(planned.outputs["model"].path)
    assert checkpoint is not None and checkpoint.endswith("model.ckpt-6")
    assert os.path.exists(checkpoint + ".index")


def test_planner_rejects_a_bad_reference_before_any_tpu_starts(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), raise_on_error=True)
    with pytest.raises(RuntimeError, match="FAILURE"):
        tpu_train_job_op(model_ref="no_such_pkg_xyz.model", tpu_image="example.com/tpu:1", machine_type="ct5lp-hightpu-4t",
                         train_batch_size=16)


def test_a_second_job_resumes_the_first_jobs_checkpoint(planned):
    assert latest_checkpoint(planned.outputs["model"].path) is not None  # trained by the test above

    @dsl.pipeline(name="resume-on-tpu")
    def resume_on_tpu(init_model_uri: str) -> list:
        # kfp.local hands input artifacts only to tasks inside a pipeline, so import the checkpoint in one.
        start = dsl.importer(artifact_uri=init_model_uri, artifact_class=dsl.Model)
        return tpu_train_job_op(
            model_ref="example_models.classifier", params_json=PARAMS_JSON, train_steps=4, train_batch_size=16,
            tpu_image="example.com/estimator-lib-tpu:1", machine_type="ct5lp-hightpu-4t", tpu_topology="2x2",
            init_model=start.output, init_mode="resume",
        ).outputs["worker_pool_specs"]

    (pool,) = resume_on_tpu(init_model_uri=planned.outputs["model"].uri).output
    args = pool["container_spec"]["args"]
    assert train_main([*args, "--no-use-tpu"]) == 0
    assert latest_checkpoint(args[args.index("--output-model-dir") + 1]).endswith("model.ckpt-10")

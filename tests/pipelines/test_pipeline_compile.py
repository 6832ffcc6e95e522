"""Compiled pipeline YAML: executors, images, accelerators, TPU worker pools, retries, caching, parameters."""

import pytest
import yaml

from pipelines.placement import GpuPlacement, TpuPlacement
from pipelines.training_pipeline import build_training_pipeline, compile_pipeline

IMAGE = "us-docker.pkg.dev/p/r/estimator-lib:test"
TPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-tpu:test"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("compiled")
    documents = {}
    for target in ("local", "gpu", "tpu"):
        path = compile_pipeline(
            target, str(root / f"{target}.yaml"), image=IMAGE,
            gpu=GpuPlacement(accelerator_type="NVIDIA_L4", accelerator_count=2),
            tpu=TpuPlacement(machine_type="ct5lp-hightpu-8t", tpu_topology="2x4", replica_count=1, tpu_image=TPU_IMAGE),
        )
        with open(path) as handle:
            documents[target] = yaml.safe_load(handle)
    return documents


def _all_tasks(document):
    """Every task of the pipeline, including those inside If/Else branches, by task name."""
    tasks = dict(document["root"]["dag"]["tasks"])
    for component in document["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def test_every_step_is_a_lightweight_component_in_the_project_image(compiled):
    executors = compiled["local"]["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-train", "exec-evaluate", "exec-export", "exec-predict", "exec-gate-report",
                              "exec-gate-report-2"}
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == IMAGE
        assert "kfp.dsl.executor_main" in " ".join(container["command"])
        assert "pip install" not in " ".join(container["command"])  # the image already holds kfp and the package


def test_parameters_and_defaults(compiled):
    parameters = compiled["local"]["root"]["inputDefinitions"]["parameters"]
    assert parameters["model_ref"]["defaultValue"] == "example_models.classifier"
    assert parameters["train_steps"]["parameterType"] == "NUMBER_INTEGER"
    assert parameters["threshold"]["parameterType"] == "NUMBER_DOUBLE"
    assert {"params_json", "train_batch_size", "eval_batch_size", "predict_batch_size", "train_data", "eval_data",
            "predict_data", "gate_metric", "input_fn_ref", "serving_input_fn_ref"} <= set(parameters)


def test_training_is_retried_and_not_cached_while_the_rest_may_cache(compiled):
    tasks = _all_tasks(compiled["local"])
    train = tasks["train"]
    assert train["retryPolicy"]["maxRetryCount"] == 2
    assert not train.get("cachingOptions", {}).get("enableCache", False)
    assert tasks["evaluate"]["cachingOptions"]["enableCache"] is True
    # steps and params reach the training step as inputs, so they are part of any cache key.
    inputs = train["inputs"]["parameters"]
    assert inputs["train_steps"]["componentInputParameter"] == "train_steps"
    assert inputs["params_json"]["componentInputParameter"] == "params_json"


def test_gate_branches_export_and_predict_only_when_the_metric_passes(compiled):
    document = compiled["local"]
    conditions = {
        name: component["dag"]["tasks"]
        for name, component in document["components"].items()
        if name.startswith("comp-condition-") and "branches" not in name
    }
    passing = next(tasks for tasks in conditions.values() if "export" in tasks)
    failing = next(tasks for tasks in conditions.values() if "export" not in tasks)
    assert {"export", "predict", "gate-report"} <= set(passing)
    assert set(failing) == {"gate-report-2"}
    branches = document["components"]["comp-condition-branches-1"]["dag"]["tasks"]
    conditions_text = [task["triggerPolicy"]["condition"] for task in branches.values()]
    assert any(">=" in text and "gate_value" in text and "threshold" in text for text in conditions_text)


def test_gpu_target_asks_for_accelerators_on_training_only(compiled):
    executors = compiled["gpu"]["deploymentSpec"]["executors"]
    resources = executors["exec-train"]["container"]["resources"]
    assert resources["accelerator"]["resourceType"] == "NVIDIA_L4"
    assert resources["accelerator"]["resourceCount"] == "2"
    assert "resources" not in executors["exec-evaluate"]["container"]


def test_tpu_target_trains_in_a_custom_job_with_explicit_worker_pools(compiled):
    document = compiled["tpu"]
    executors = document["deploymentSpec"]["executors"]
    assert "exec-train" not in executors
    job_executor = executors["exec-custom-training-job"]["container"]
    assert "google_cloud_pipeline_components" in " ".join(job_executor["command"] + job_executor.get("args", []))
    tasks = _all_tasks(document)
    plan = tasks["tpu-train-job"]["inputs"]["parameters"]
    assert plan["machine_type"]["runtimeValue"]["constant"] == "ct5lp-hightpu-8t"
    assert plan["tpu_topology"]["runtimeValue"]["constant"] == "2x4"
    assert plan["tpu_image"]["runtimeValue"]["constant"] == TPU_IMAGE
    assert plan["train_steps"]["componentInputParameter"] == "train_steps"
    job = tasks["custom-training-job"]
    assert job["inputs"]["parameters"]["worker_pool_specs"]["taskOutputParameter"] == {
        "outputParameterKey": "worker_pool_specs", "producerTask": "tpu-train-job"}
    assert job["retryPolicy"]["maxRetryCount"] == 2
    assert "custom-training-job" in tasks["evaluate"]["dependentTasks"]
    assert tasks["evaluate"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "tpu-train-job"


def test_resume_variant_imports_the_initial_checkpoint(tmp_path):
    path = compile_pipeline("local", str(tmp_path / "resume.yaml"), resume=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    assert "init_model_uri" in document["root"]["inputDefinitions"]["parameters"]
    executors = document["deploymentSpec"]["executors"]
    assert "importer" in next(name for name in executors if "importer" in name)
    assert _all_tasks(document)["train"]["inputs"]["artifacts"]["init_model"]["taskOutputArtifact"]["producerTask"] == "importer"


def test_tpu_resume_variant_hands_the_imported_checkpoint_to_the_job_planner(tmp_path):
    path = compile_pipeline("tpu", str(tmp_path / "resume-tpu.yaml"), resume=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    plan = _all_tasks(document)["tpu-train-job"]["inputs"]
    assert plan["artifacts"]["init_model"]["taskOutputArtifact"]["producerTask"] == "importer"
    assert plan["parameters"]["init_mode"]["componentInputParameter"] == "init_mode"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: build_training_pipeline("cloud"), r"target must be one of \('local', 'gpu', 'tpu'\); received target='cloud'"),
        (lambda: build_training_pipeline("local", image=""), r"image must be a container image reference"),
        (lambda: build_training_pipeline("local", train_retries=-1), r"train_retries must be an integer >= 0"),
        (lambda: TpuPlacement(tpu_topology="two"), r"tpu_topology must be chips per dimension such as '2x2'"),
        (lambda: TpuPlacement(machine_type="ct6e-standard-4t"), r"Starting with TPU v6e, TensorFlow isn't supported"),
        (lambda: TpuPlacement(replica_count=2), r"replica_count must be 1 for a TPU worker pool"),
        (lambda: GpuPlacement(accelerator_count=0), r"accelerator_count must be an integer >= 1"),
        (lambda: compile_pipeline("local", "out.txt"), r"package_path must end with .yaml"),
    ],
)
def test_bad_options_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()

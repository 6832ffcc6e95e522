"""Compiled pipeline YAML: executors, images, accelerators, TPU worker pools, retries, caching, parameters."""

import pytest
import yaml
from estimator_kfp.pipelines.placement import GpuPlacement, TpuPlacement
from estimator_kfp.pipelines.training_pipeline import (
    build_training_pipeline,
    compile_pipeline,
)

IMAGE = "us-docker.pkg.dev/p/r/estimator-lib:test"
TPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-tpu:test"
GPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-gpu:test"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("compiled")
    documents = {}
    for target in ("local", "gpu", "tpu"):
        path = compile_pipeline(
            target, str(root / f"{target}.yaml"), image=IMAGE,
            gpu=GpuPlacement(machine_type="g2-standard-24", accelerator_type="NVIDIA_L4", accelerator_count=2,
                             gpu_image=GPU_IMAGE),
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
    assert parameters["model_ref"]["defaultValue"] == "estimator_kfp.example_models.classifier"
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


@pytest.mark.parametrize("target", ["gpu", "tpu"])
def test_gpu_and_tpu_targets_train_in_a_custom_job_that_writes_the_model(compiled, target):
    document = compiled[target]
    executors = document["deploymentSpec"]["executors"]
    job = executors["exec-train"]["container"]
    assert "google_cloud_pipeline_components.container.v1.custom_job.launcher" in job["command"]
    assert executors["exec-evaluate"]["container"]["image"] == IMAGE
    assert executors["exec-evaluate"]["container"]["resources"]["resourceMemoryLimit"] == "16G"
    tasks = _all_tasks(document)
    train = tasks["train"]
    assert train["retryPolicy"]["maxRetryCount"] == 2
    assert not train.get("cachingOptions", {}).get("enableCache", False)
    # The step that trains is the step whose Model the rest reads: no planner allocates it before training.
    assert tasks["evaluate"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "train"
    assert document["components"]["comp-train"]["outputDefinitions"]["artifacts"]["model"]["artifactType"][
        "schemaTitle"] == "system.Model"
    inputs = train["inputs"]["parameters"]
    assert inputs["train_steps"]["componentInputParameter"] == "train_steps"
    assert inputs["labels"]["componentInputParameter"] == "job_labels"
    assert inputs["strategy"]["componentInputParameter"] == "scheduling_strategy"
    defaults = document["components"]["comp-train"]["inputDefinitions"]["parameters"]
    assert defaults["service_account"]["defaultValue"] == "{{$.pipeline_service_account}}"
    assert defaults["network"]["defaultValue"] == "{{$.pipeline_network}}"
    assert defaults["encryption_spec_key_name"]["defaultValue"] == "{{$.pipeline_encryption_key_name}}"
    assert defaults["base_output_directory"]["defaultValue"].startswith("{{$.pipeline_root}}/{{$.pipeline_job_uuid}}")
    (pool,) = inputs["worker_pool_specs"]["runtimeValue"]["constant"]
    assert pool["machine_spec"]["machine_type"] == "{{$.inputs.parameters['pipelinechannel--machine_type']}}"
    assert pool["container_spec"]["image_uri"] == "{{$.inputs.parameters['pipelinechannel--training_image']}}"
    parameters = document["root"]["inputDefinitions"]["parameters"]
    if target == "tpu":
        assert pool["machine_spec"]["tpu_topology"] == "{{$.inputs.parameters['pipelinechannel--tpu_topology']}}"
        assert parameters["machine_type"]["defaultValue"] == "ct5lp-hightpu-8t"
        assert parameters["training_image"]["defaultValue"] == TPU_IMAGE
        assert inputs["use_tpu"]["runtimeValue"]["constant"] is True
    else:
        assert pool["machine_spec"]["accelerator_count"] == 2
        assert parameters["accelerator_type"]["defaultValue"] == "NVIDIA_L4"
        assert parameters["training_image"]["defaultValue"] == GPU_IMAGE


def test_resume_variant_imports_the_initial_checkpoint(tmp_path):
    path = compile_pipeline("local", str(tmp_path / "resume.yaml"), resume=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    assert "init_model_uri" in document["root"]["inputDefinitions"]["parameters"]
    executors = document["deploymentSpec"]["executors"]
    assert "importer" in next(name for name in executors if "importer" in name)
    init_model = _all_tasks(document)["train"]["inputs"]["artifacts"]["init_model"]
    assert init_model["taskOutputArtifact"]["producerTask"] == "importer"


def test_tpu_v2_v3_machines_are_compiled_in(tmp_path):
    tpu = TpuPlacement(machine_type="cloud-tpu", tpu_topology="", accelerator_type="TPU_V3", tpu_image=TPU_IMAGE)
    with open(compile_pipeline("tpu", str(tmp_path / "v3.yaml"), tpu=tpu)) as handle:
        document = yaml.safe_load(handle)
    (pool,) = _all_tasks(document)["train"]["inputs"]["parameters"]["worker_pool_specs"]["runtimeValue"]["constant"]
    assert pool["machine_spec"] == {"machine_type": "cloud-tpu", "accelerator_type": "TPU_V3", "accelerator_count": 8}
    assert "machine_type" not in document["root"]["inputDefinitions"]["parameters"]


def test_tpu_resume_variant_hands_the_imported_checkpoint_to_the_training_job(tmp_path):
    path = compile_pipeline("tpu", str(tmp_path / "resume-tpu.yaml"), resume=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    train = _all_tasks(document)["train"]["inputs"]
    assert train["artifacts"]["init_model"]["taskOutputArtifact"]["producerTask"] == "importer"
    assert train["parameters"]["init_mode"]["componentInputParameter"] == "init_mode"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: build_training_pipeline("cloud"),
         r"target must be one of \('local', 'gpu', 'tpu'\); received target='cloud'"),
        (lambda: build_training_pipeline("local", image=""), r"image must be a container image reference"),
        (lambda: build_training_pipeline("local", train_retries=-1), r"train_retries must be an integer >= 0"),
        (lambda: TpuPlacement(tpu_topology="two"), r"tpu_topology must be chips per dimension such as '2x2'"),
        (lambda: TpuPlacement(machine_type="ct6e-standard-4t"), r"machine_type='ct6e-standard-4t' is refused: TPU v6e"),
        (lambda: TpuPlacement(replica_count=2), r"replica_count must be 1 for a TPU worker pool"),
        (lambda: GpuPlacement(accelerator_count=0), r"accelerator_count must be an integer >= 1"),
        (lambda: GpuPlacement(machine_type="big gpu"), r"machine_type must be a Vertex machine type"),
        (lambda: GpuPlacement(replica_count=0), r"replica_count must be an integer >= 1"),
        (lambda: TpuPlacement(reservation="mine"), r"reservation must be '' \(Vertex decides\), 'any', 'none'"),
        (lambda: compile_pipeline("local", "out.txt"), r"package_path must end with .yaml"),
    ],
)
def test_bad_options_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()

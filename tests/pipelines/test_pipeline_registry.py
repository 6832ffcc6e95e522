"""Model Registry bridge: a local run turns the exported SavedModel into an artifact ModelUploadOp accepts."""

import json

import pytest
import yaml
from estimator_kfp.components.export.task import run_export
from estimator_kfp.components.register.component import register_op
from estimator_kfp.components.register.task import (
    TF_SERVING_IMAGE,
    container_model_metadata,
)
from estimator_kfp.components.train.task import TrainRequest, run_train
from estimator_kfp.pipelines import cli
from estimator_kfp.pipelines.training_pipeline import compile_pipeline
from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
)
from google_cloud_pipeline_components.v1.model import ModelUploadOp
from kfp import compiler, dsl, local

MODEL_REF = "example_models.classifier"
TINY = json.dumps({"hidden_units": [4], "n_examples": 32, "seed": 1})


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=str(root / "model"), params_json=TINY, train_steps=2,
                           train_batch_size=8))
    run_export(model_ref=MODEL_REF, model_dir=str(root / "model"), output_dir=str(root / "saved_model"),
               params_json=TINY)
    return str(root / "saved_model")


@pytest.fixture(scope="module")
def bridged(saved_model_dir, tmp_path_factory):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path_factory.mktemp("root")),
               raise_on_error=True)

    @dsl.pipeline(name="bridge")
    def bridge(saved_model_uri: str) -> UnmanagedContainerModel:
        exported = dsl.importer(artifact_uri=saved_model_uri, artifact_class=dsl.Model).output
        return register_op(saved_model=exported).outputs["unmanaged_model"]

    return bridge(saved_model_uri=saved_model_dir).output


def test_the_local_run_produces_an_unmanaged_container_model_on_the_saved_model(bridged, saved_model_dir):
    # kfp.local hands pipeline outputs back as plain Artifacts; the type is the component's output type.
    assert register_op.component_spec.outputs["unmanaged_model"].type.startswith("google.UnmanagedContainerModel")
    assert bridged.uri == saved_model_dir  # points at the SavedModel; nothing copied
    assert bridged.metadata["containerSpec"] == {"imageUri": TF_SERVING_IMAGE}


def test_model_upload_op_accepts_it_at_compile_time(bridged, tmp_path):
    @dsl.pipeline(name="upload")
    def upload():
        model = dsl.importer(artifact_uri=bridged.uri, artifact_class=UnmanagedContainerModel,
                             metadata=bridged.metadata).output
        ModelUploadOp(display_name="estimator-model", unmanaged_container_model=model)

    compiler.Compiler().compile(upload, str(tmp_path / "upload.yaml"))
    with open(tmp_path / "upload.yaml") as handle:
        document = yaml.safe_load(handle)
    importer = next(spec for name, spec in document["deploymentSpec"]["executors"].items() if "importer" in name)
    assert importer["importer"]["typeSchema"]["schemaTitle"] == "google.UnmanagedContainerModel"
    assert importer["importer"]["metadata"]["containerSpec"]["imageUri"] == TF_SERVING_IMAGE


def test_model_upload_op_refuses_exports_system_model_without_the_bridge(saved_model_dir):
    with pytest.raises(Exception, match=r"Incompatible argument passed to the input 'unmanaged_container_model'"):
        @dsl.pipeline(name="no-bridge")
        def no_bridge():
            exported = dsl.importer(artifact_uri=saved_model_dir, artifact_class=dsl.Model).output
            ModelUploadOp(display_name="m", unmanaged_container_model=exported)


def test_the_default_serving_image_is_the_one_task_names():
    # KFP runs the component body as a stand-alone module, so the default is a literal there.
    assert register_op.component_spec.inputs["serving_image"].default == TF_SERVING_IMAGE


def test_a_folder_without_a_saved_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"saved_model must be a SavedModel directory.*has no saved_model.pb"):
        container_model_metadata(str(tmp_path), TF_SERVING_IMAGE)


def test_the_pipeline_uploads_and_batch_predicts_after_the_gate(tmp_path):
    path = compile_pipeline("tpu", str(tmp_path / "serve.yaml"), vertex_batch_predict=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    passing = next(component["dag"]["tasks"] for name, component in document["components"].items()
                   if name.startswith("comp-condition-") and "export" in component.get("dag", {}).get("tasks", {}))
    assert passing["register"]["inputs"]["artifacts"]["saved_model"]["taskOutputArtifact"]["producerTask"] == "export"
    upload = passing["model-upload"]["inputs"]
    assert upload["artifacts"]["unmanaged_container_model"]["taskOutputArtifact"]["producerTask"] == "register"
    predict = passing["model-batch-predict"]["inputs"]
    assert predict["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "model-upload"
    parameters = document["root"]["inputDefinitions"]["parameters"]
    assert parameters["serving_image"]["defaultValue"] == TF_SERVING_IMAGE
    assert {"model_display_name", "vertex_predict_source"} <= set(parameters)


def test_submit_experiment(tmp_path, capsys):
    template = compile_pipeline("local", str(tmp_path / "local.yaml"))
    base = ["submit", "--template", template, "--project", "p", "--region", "us-central1",
            "--pipeline-root", "gs://bkt/root", "--dry-run", "--allow-placeholder-image"]
    assert cli.main([*base, "--experiment", "estimator-nightly"]) == 0
    assert json.loads(capsys.readouterr().out)["experiment"] == "estimator-nightly"
    assert cli.main([*base, "--experiment", "Nightly Runs"]) == 2
    assert "experiment must be a Vertex AI Experiments name" in capsys.readouterr().err


def test_deploy_endpoint_creates_an_endpoint_and_deploys_the_uploaded_model_after_the_gate(tmp_path):
    path = compile_pipeline("gpu", str(tmp_path / "deploy.yaml"), deploy_endpoint=True)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    passing = next(component["dag"]["tasks"] for name, component in document["components"].items()
                   if name.startswith("comp-condition-") and "export" in component.get("dag", {}).get("tasks", {}))
    assert "model-upload" in passing  # --deploy-endpoint implies the registry upload
    create, deploy = passing["endpoint-create"]["inputs"], passing["model-deploy"]["inputs"]
    assert create["parameters"]["display_name"]["componentInputParameter"] == "pipelinechannel--endpoint_display_name"
    key = create["parameters"]["encryption_spec_key_name"]["runtimeValue"]["constant"]
    assert key == "{{$.pipeline_encryption_key_name}}"
    for step in (create, passing["model-upload"]["inputs"]):  # in the pipeline's region, not GCPC's us-central1
        assert step["parameters"]["location"]["runtimeValue"]["constant"] == "{{$.pipeline_google_cloud_location}}"
    assert deploy["artifacts"]["model"]["taskOutputArtifact"] == {"outputArtifactKey": "model",
                                                                  "producerTask": "model-upload"}
    assert deploy["artifacts"]["endpoint"]["taskOutputArtifact"] == {"outputArtifactKey": "endpoint",
                                                                     "producerTask": "endpoint-create"}
    assert deploy["parameters"]["dedicated_resources_machine_type"]["componentInputParameter"] == (
        "pipelinechannel--endpoint_machine_type")
    assert deploy["parameters"]["traffic_split"]["runtimeValue"]["constant"] == {"0": 100.0}
    parameters = document["root"]["inputDefinitions"]["parameters"]
    assert parameters["endpoint_machine_type"]["defaultValue"] == "n1-standard-4"
    assert parameters["endpoint_min_replicas"]["defaultValue"] == 1
    assert parameters["endpoint_max_replicas"]["defaultValue"] == 1
    with open(compile_pipeline("gpu", str(tmp_path / "plain.yaml"), register_model=True)) as handle:
        assert "endpoint-create" not in handle.read()  # no endpoint unless asked for


def test_compile_deploy_endpoint_flag(tmp_path):
    output = str(tmp_path / "cli.yaml")
    assert cli.main(["compile", "--target", "tpu", "--deploy-endpoint", "--output", output,
                     "--allow-placeholder-image"]) == 0
    with open(output) as handle:
        assert "model-deploy" in handle.read()

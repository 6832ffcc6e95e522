"""Components another team can reuse: shipped YAMLs (fresh, documented), Dataset inputs, step resources."""

import os
import re
import shutil

import pytest
import yaml
from estimator_kfp.components._data import data_path
from estimator_kfp.pipelines import cli
from estimator_kfp.pipelines.component_specs import COMPONENTS
from estimator_kfp.pipelines.placement import step_resources
from estimator_kfp.pipelines.training_pipeline import compile_pipeline
from kfp import compiler, components, dsl

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = os.path.join(REPO, "components")


def test_the_shipped_component_yamls_are_up_to_date(capsys):
    code = cli.main(["components", "--output-dir", SHIPPED, "--check"])
    assert code == 0, capsys.readouterr().err + " (regenerate: estimator-pipelines components --output-dir components)"


def test_a_stale_yaml_is_reported(tmp_path, capsys):
    copy = tmp_path / "components"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = copy / "evaluate" / "component.yaml"
    path.write_text(path.read_text().replace("Batches to evaluate", "Batches evaluated"))
    assert cli.main(["components", "--output-dir", str(copy), "--check"]) == 1
    assert f"stale component YAML: {path}" in capsys.readouterr().err


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_input_is_documented(name):
    with open(os.path.join(SHIPPED, name, "component.yaml")) as handle:
        inputs = yaml.safe_load(handle)["root"]["inputDefinitions"]
    described = {input_name: spec.get("description") for kind in ("parameters", "artifacts")
                 for input_name, spec in inputs.get(kind, {}).items()}
    assert described and all(described.values()), (
        f"{name}: undocumented inputs {[k for k, v in described.items() if not v]}"
    )


def test_a_loaded_component_takes_a_dataset_artifact_as_its_data(tmp_path):
    train = components.load_component_from_file(os.path.join(SHIPPED, "train", "component.yaml"))
    evaluate = components.load_component_from_file(os.path.join(SHIPPED, "evaluate", "component.yaml"))

    @dsl.pipeline(name="reuse")
    def reuse(train_uri: str, eval_uri: str):
        train_set = dsl.importer(artifact_uri=train_uri, artifact_class=dsl.Dataset).output
        eval_set = dsl.importer(artifact_uri=eval_uri, artifact_class=dsl.Dataset).output
        trained = train(model_ref="my_pkg.model", train_dataset=train_set)
        evaluate(model_ref="my_pkg.model", model=trained.outputs["model"], eval_dataset=eval_set)

    path = str(tmp_path / "reuse.yaml")
    compiler.Compiler().compile(reuse, path)
    with open(path) as handle:
        tasks = yaml.safe_load(handle)["root"]["dag"]["tasks"]
    assert tasks["train"]["inputs"]["artifacts"]["train_dataset"]["taskOutputArtifact"]["producerTask"] == "importer"
    assert (
        tasks["evaluate"]["inputs"]["artifacts"]["eval_dataset"]["taskOutputArtifact"]["producerTask"] == "importer-2"
    )


def test_data_path_takes_the_artifact_or_the_uri_but_not_both():
    class Dataset:
        uri, path = "gs://b/data", "/gcs/b/data"

    assert data_path("train_data", "gs://b/x") == "gs://b/x"
    assert data_path("train_data", "", Dataset()) == "/gcs/b/data"
    with pytest.raises(
        ValueError,
        match=r"train_data and train_dataset are both set \(train_data='gs://b/x', "
        r"artifact 'gs://b/data'\); pass the data one way",
    ):
        data_path("train_data", "gs://b/x", Dataset())


def test_each_step_has_cpu_and_memory_limits(tmp_path):
    path = compile_pipeline("local", str(tmp_path / "p.yaml"), resources={"evaluate": ("8", "32Gi")})
    with open(path) as handle:
        executors = yaml.safe_load(handle)["deploymentSpec"]["executors"]
    limits = {
        name: (
            spec["container"]["resources"]["resourceCpuLimit"],
            spec["container"]["resources"]["resourceMemoryLimit"],
        )
        for name, spec in executors.items()
    }
    assert limits["exec-evaluate"] == ("8", "32Gi")
    assert limits["exec-train"] == ("8", "32G") and limits["exec-export"] == ("2", "8G")
    assert limits["exec-gate-report"] == ("1", "2G")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"evaluation": ("4", "16G")},
            r"step resources name a step of \['evaluate', 'export', 'gate-report', "
            r"'predict', 'train'\]; received 'evaluation'",
        ),
        ({"export": ("four", "16G")}, r"resources of 'export' must be \(cpu, memory\) such as \('4', '16G'\)"),
        ({"export": ("4", "16")}, r"resources of 'export' must be \(cpu, memory\)"),
    ],
)
def test_bad_step_resources(overrides, message):
    with pytest.raises(ValueError, match=message):
        step_resources(overrides)


def test_compile_step_resources_flag(tmp_path, capsys):
    assert cli.main(["compile", "--output", str(tmp_path / "x.yaml"), "--step-resources", "predict"]) == 2
    assert re.search(r"--step-resources must look like STEP=CPU,MEMORY", capsys.readouterr().err)

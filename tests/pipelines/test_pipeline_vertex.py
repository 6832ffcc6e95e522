"""Submit and schedule requests, built offline with anonymous credentials and checked without sending."""

import json

import pytest
from estimator_kfp.pipelines import cli, vertex
from estimator_kfp.pipelines.training_pipeline import compile_pipeline
from google.auth.credentials import AnonymousCredentials
from testlib.pipeline_cli import NETWORK, PROJECT, REGION, ROOT, SERVICE_ACCOUNT, cli_args


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return compile_pipeline("tpu", str(tmp_path_factory.mktemp("vertex") / "training-tpu.yaml"))


def _job(template, **overrides):
    arguments = dict(
        template_path=template, project=PROJECT, region=REGION, pipeline_root=ROOT,
        parameter_values={"train_steps": 1000, "threshold": 0.9, "model_ref": "my_pkg.model"},
        display_name="nightly", enable_caching=False, labels={"team": "ml"}, credentials=AnonymousCredentials(),
    )
    arguments.update(overrides)
    return vertex.build_pipeline_job(**arguments)


def test_submit_request_carries_project_region_root_parameters_and_identity(template):
    request = vertex.create_job_request(_job(template), service_account=SERVICE_ACCOUNT, network=NETWORK)
    assert request.parent == f"projects/{PROJECT}/locations/{REGION}"
    assert request.pipeline_job_id.startswith("estimator-training-tpu-")
    job = request.pipeline_job
    assert job.display_name == "nightly" and job.labels["team"] == "ml"
    assert job.service_account == SERVICE_ACCOUNT and job.network == NETWORK
    config = job.runtime_config
    assert config.gcs_output_directory == ROOT
    assert config.parameter_values["train_steps"] == 1000
    assert config.parameter_values["threshold"] == 0.9
    assert config.parameter_values["model_ref"] == "my_pkg.model"
    # enable_caching=False is written into every task of the submitted spec.
    tasks = job.pipeline_spec["root"]["dag"]["tasks"]
    assert all(not task.get("cachingOptions", {}).get("enableCache", False) for task in tasks.values())


def test_parameters_are_checked_against_the_template(template):
    with pytest.raises(
        ValueError,
        match=r"pipeline parameter trian_steps is not found.*"
        r"Parameters of training-tpu.yaml: see root.inputDefinitions",
    ):
        _job(template, parameter_values={"trian_steps": 5})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"region": "US"}, r"region must be a Vertex AI region such as 'us-central1'; received region='US'"),
        ({"pipeline_root": "/tmp/root"}, r"pipeline_root must be a Cloud Storage URI"),
        ({"project": ""}, r"project must be a Google Cloud project id"),
        (
            {"template_path": "missing.yaml"},
            r"template_path must be a compiled pipeline file.*estimator-pipelines compile",
        ),
    ],
)
def test_bad_job_arguments(template, overrides, message):
    with pytest.raises(ValueError, match=message):
        _job(template, **overrides)


def test_schedule_request_wraps_the_pipeline_job(template):
    job = _job(template)
    schedule = vertex.build_schedule(job, display_name="weekly")
    options = vertex.schedule_options(
        cron="TZ=Europe/Paris 0 3 * * 1", max_concurrent_run_count=2, max_run_count=10, service_account=SERVICE_ACCOUNT
    )
    request = vertex.create_schedule_request(schedule, options)
    assert request.parent == f"projects/{PROJECT}/locations/{REGION}"
    resource = request.schedule
    assert resource.display_name == "weekly"
    assert resource.cron == "TZ=Europe/Paris 0 3 * * 1"
    assert resource.max_concurrent_run_count == 2 and resource.max_run_count == 10
    inner = resource.create_pipeline_job_request
    assert inner.parent == f"projects/{PROJECT}/locations/{REGION}"
    assert inner.pipeline_job.service_account == SERVICE_ACCOUNT
    assert inner.pipeline_job.runtime_config.gcs_output_directory == ROOT
    assert inner.pipeline_job.runtime_config.parameter_values["train_steps"] == 1000


@pytest.mark.parametrize("cron", ["0 3 * *", "every day", "0 3 * * * *", ""])
def test_bad_cron(cron):
    with pytest.raises(ValueError, match=r"cron must have five fields"):
        vertex.schedule_options(cron=cron)


def test_cli_submit_and_schedule_dry_runs_print_the_requests(template, capsys):
    options = ["--param", "train_steps=77", "--param", "threshold=0.5", "--service-account", SERVICE_ACCOUNT,
               "--label", "team=ml", "--disable-caching", "--dry-run", "--allow-placeholder-image"]
    assert cli.main(cli_args("submit", template, *options)) == 0
    request = json.loads(capsys.readouterr().out)["createPipelineJobRequest"]
    assert request["parent"] == f"projects/{PROJECT}/locations/{REGION}"
    assert request["pipelineJob"]["serviceAccount"] == SERVICE_ACCOUNT
    # --label also labels the training CustomJob (the tpu template's job_labels parameter).
    assert request["pipelineJob"]["runtimeConfig"]["parameterValues"] == {
        "train_steps": 77,
        "threshold": 0.5,
        "job_labels": {"team": "ml"},
    }
    assert cli.main(cli_args("schedule", template, *options, "--cron", "0 3 * * *", "--schedule-name", "nightly")) == 0
    schedule = json.loads(capsys.readouterr().out)["schedule"]
    assert schedule["cron"] == "0 3 * * *" and schedule["displayName"] == "nightly"
    assert schedule["createPipelineJobRequest"]["pipelineJob"]["runtimeConfig"]["parameterValues"]["train_steps"] == 77


def test_cli_reports_bad_parameters_without_a_traceback(template, capsys):
    base = cli_args("submit", template, "--dry-run", "--allow-placeholder-image")
    assert cli.main([*base, "--param", "train_steps=many"]) == 2
    assert "--param train_steps must be an integer; received 'many'" in capsys.readouterr().err
    assert cli.main([*base, "--param", "nope=1"]) == 2
    assert "--param 'nope' is not a pipeline parameter" in capsys.readouterr().err
    assert cli.main([*base, "--param", "no-equals"]) == 2
    assert "--param must look like name=value" in capsys.readouterr().err


def test_cli_submit_without_credentials_explains_how_to_get_them(template, capsys, monkeypatch, tmp_path):
    # An empty configuration: no application-default credentials, no gcloud, no metadata server lookups.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    assert cli.main(cli_args("submit", template, "--allow-placeholder-image")) == 2
    assert "no Google Cloud credentials found" in capsys.readouterr().err


def test_the_placeholder_image_is_refused_unless_allowed(template, tmp_path, capsys):
    base = cli_args("submit", template, "--dry-run")
    assert cli.main(base) == 2
    error = capsys.readouterr().err
    assert "runs steps in the placeholder image(s) ['us-docker.pkg.dev/your-project/estimator-lib/" in error
    assert "add --allow-placeholder-image if this is intended" in error
    assert cli.main([*base, "--allow-placeholder-image"]) == 0
    output = tmp_path / "placeholder.yaml"
    assert cli.main(["compile", "--target", "tpu", "--output", str(output)]) == 2
    assert "The compiled tpu pipeline runs steps in the placeholder image(s)" in capsys.readouterr().err
    assert not output.exists()  # nothing left to submit by mistake
    assert cli.main(["compile", "--target", "tpu", "--output", str(output), "--allow-placeholder-image"]) == 0
    assert cli.main(["compile", "--target", "local", "--output", str(output), "--image", "example.com/e:1"]) == 0


def test_image_tags_come_from_the_package_version():
    import os

    from estimator_kfp.components import images

    import estimator_lib

    assert estimator_lib.__version__ == images.VERSION
    assert images.RELEASE_IMAGE.endswith(":" + estimator_lib.__version__)
    for variable, image in (
        ("ESTIMATOR_LIB_GPU_IMAGE", images.GPU_IMAGE),
        ("ESTIMATOR_LIB_TPU_IMAGE", images.TPU_IMAGE),
    ):
        assert variable in os.environ or image.endswith(":" + estimator_lib.__version__)

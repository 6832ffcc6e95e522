"""The training CustomJob of the compiled gpu/tpu pipelines, as the GCPC launcher would create it.

Each pipeline is submitted offline (`create_job_request`), the training step's payload is filled the way
Vertex fills it and handed to GCPC's launcher code, and the resulting `aiplatform_v1.CustomJob` must carry
what `submit` was given. The GPU job's own container command then runs here on CPU, as the job would.
"""

import json
import os
import re
import subprocess

import pytest
from estimator_kfp.pipelines import cli, vertex
from estimator_kfp.pipelines.custom_job_payload import RunContext, resolve_custom_jobs
from estimator_kfp.pipelines.placement import GpuPlacement, TpuPlacement
from estimator_kfp.pipelines.training_pipeline import compile_pipeline
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from testlib.pipeline_cli import NETWORK, PROJECT, REGION, ROOT, SERVICE_ACCOUNT, cli_args

KEY = "projects/my-project/locations/us-central1/keyRings/ml/cryptoKeys/training"
BOARD = "projects/my-project/locations/us-central1/tensorboards/42"
GPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-gpu:test"
TPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-tpu:test"
RESERVATION = "projects/my-project/zones/us-central1-a/reservations/tpu-v5e"
TINY = json.dumps({"hidden_units": [4], "n_examples": 32, "seed": 1})


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    root = tmp_path_factory.mktemp("custom_job")
    return {
        "gpu": compile_pipeline(
            "gpu",
            str(root / "gpu.yaml"),
            image="us-docker.pkg.dev/p/r/estimator-lib:test",
            gpu=GpuPlacement(
                machine_type="g2-standard-8", accelerator_type="NVIDIA_L4", accelerator_count=1, gpu_image=GPU_IMAGE
            ),
        ),
        "tpu": compile_pipeline(
            "tpu",
            str(root / "tpu.yaml"),
            image="us-docker.pkg.dev/p/r/estimator-lib:test",
            tpu=TpuPlacement(
                machine_type="ct5lp-hightpu-4t", tpu_topology="2x2", tpu_image=TPU_IMAGE, reservation=RESERVATION
            ),
        ),
    }


def _submitted_custom_job(template, extra_args=()):
    """`submit --dry-run` with identity and scheduling flags; returns (its CustomJob, the printed request)."""
    args = cli.build_parser().parse_args(
        cli_args(
            "submit", template, "--service-account", SERVICE_ACCOUNT, "--network", NETWORK, "--encryption-key", KEY,
            "--label", "team=ml", "--label", "cost-center=42", "--strategy", "spot", "--timeout", "7200s",
            "--restart-job-on-worker-restart", "--tensorboard", BOARD, *extra_args,
        )
    )
    job = cli.build_job_from_args(args, AnonymousCredentials())
    request = vertex.create_job_request(job, service_account=SERVICE_ACCOUNT, network=NETWORK)
    (custom_job,) = vertex.training_custom_jobs(request, project=PROJECT, location=REGION).values()
    return custom_job, request


@pytest.mark.parametrize("target", ["gpu", "tpu"])
def test_the_training_job_carries_the_pipelines_identity_and_scheduling(templates, target):
    custom_job, request = _submitted_custom_job(templates[target])
    assert isinstance(custom_job, aiplatform_v1.CustomJob)
    assert request.pipeline_job.encryption_spec.kms_key_name == KEY
    spec = custom_job.job_spec
    assert spec.service_account == SERVICE_ACCOUNT
    assert spec.network == NETWORK
    assert custom_job.encryption_spec.kms_key_name == KEY
    assert dict(custom_job.labels) == {"team": "ml", "cost-center": "42"}
    assert spec.base_output_directory.output_uri_prefix.startswith(ROOT + "/")
    assert spec.tensorboard == BOARD
    assert spec.scheduling.strategy == aiplatform_v1.Scheduling.Strategy.SPOT
    assert spec.scheduling.timeout.total_seconds() == 7200
    assert spec.scheduling.restart_job_on_worker_restart is True
    assert not spec.scheduling.max_wait_duration  # only sent with FLEX_START (GCPC's launcher drops it)
    assert custom_job.display_name == f"estimator-training-{target}"


def test_tpu_job_places_training_on_the_tpu_machine_with_topology_and_reservation(templates):
    custom_job, _ = _submitted_custom_job(templates["tpu"])
    (pool,) = custom_job.job_spec.worker_pool_specs
    assert pool.machine_spec.machine_type == "ct5lp-hightpu-4t"
    assert pool.machine_spec.tpu_topology == "2x2"
    affinity = pool.machine_spec.reservation_affinity
    assert affinity.reservation_affinity_type == affinity.Type.SPECIFIC_RESERVATION
    assert list(affinity.values) == [RESERVATION]
    assert pool.replica_count == 1 and pool.container_spec.image_uri == TPU_IMAGE
    executor_input = json.loads(pool.container_spec.args[1])
    assert executor_input["inputs"]["parameterValues"]["use_tpu"] is True
    assert "model" in executor_input["outputs"]["artifacts"]  # the job writes the step's own Model output
    # TPU v5e: TensorFlow on PJRT with libtpu as a pluggable device, set before TensorFlow loads (Vertex's recipe).
    env = {variable.name: variable.value for variable in pool.container_spec.env}
    assert env == {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "true", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": "/lib/libtpu.so"}


def test_machine_topology_and_image_are_run_time_parameters(templates):
    custom_job, _ = _submitted_custom_job(
        templates["tpu"],
        ["--param", "machine_type=ct5lp-hightpu-8t", "--param", "tpu_topology=2x4",
         "--param", f"training_image={TPU_IMAGE}-v2", "--strategy", "flex-start", "--max-wait-duration", "1800s"],
    )
    (pool,) = custom_job.job_spec.worker_pool_specs
    assert (pool.machine_spec.machine_type, pool.machine_spec.tpu_topology) == ("ct5lp-hightpu-8t", "2x4")
    assert pool.container_spec.image_uri == TPU_IMAGE + "-v2"
    scheduling = custom_job.job_spec.scheduling
    assert scheduling.strategy == aiplatform_v1.Scheduling.Strategy.FLEX_START
    assert scheduling.max_wait_duration.total_seconds() == 1800
    lineage = json.loads(pool.container_spec.args[1])["inputs"]["parameterValues"]
    assert lineage["machine_type"] == "ct5lp-hightpu-8t" and lineage["tpu_topology"] == "2x4"


def test_gpu_job_uses_the_gpu_image_and_machine(templates):
    custom_job, _ = _submitted_custom_job(
        templates["gpu"], ["--param", "accelerator_type=NVIDIA_TESLA_T4", "--param", "machine_type=n1-standard-8"]
    )
    (pool,) = custom_job.job_spec.worker_pool_specs
    assert pool.machine_spec.machine_type == "n1-standard-8"
    assert pool.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_TESLA_T4
    assert pool.machine_spec.accelerator_count == 1
    assert pool.container_spec.image_uri == GPU_IMAGE
    assert not pool.container_spec.env  # the TPU runtime's variables only go to TPU machines
    assert pool.disk_spec.boot_disk_size_gb == 100


def test_each_run_writes_under_its_own_directory(templates):
    import yaml

    with open(templates["tpu"]) as handle:
        document = yaml.safe_load(handle)
    prefixes = set()
    for run in ("run-1", "run-2"):
        context = RunContext(project=PROJECT, location=REGION, pipeline_root=ROOT, job_uuid=run)
        (custom_job,) = resolve_custom_jobs(document, {}, context).values()
        prefix = custom_job.job_spec.base_output_directory.output_uri_prefix
        outputs = json.loads(custom_job.job_spec.worker_pool_specs[0].container_spec.args[1])["outputs"]
        assert run in prefix and run in outputs["artifacts"]["model"]["artifacts"][0]["uri"]
        prefixes.add(prefix)
    assert len(prefixes) == 2


def test_submit_dry_run_prints_the_training_custom_job(templates, capsys):
    assert cli.main(cli_args("submit", templates["tpu"], "--service-account", SERVICE_ACCOUNT, "--dry-run")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["createPipelineJobRequest"]["pipelineJob"]["serviceAccount"] == SERVICE_ACCOUNT
    assert printed["trainingCustomJobs"]["train"]["jobSpec"]["serviceAccount"] == SERVICE_ACCOUNT


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tensorboard", "my-board"], r"tensorboard must be a Vertex TensorBoard resource"),
        (["--timeout", "2h"], r"timeout must be a duration in seconds such as '3600s'; received timeout='2h'"),
        (
            ["--param", "scheduling_strategy=cheap"],
            r"scheduling strategy must be one of \['flex-start', 'spot', 'standard'\]",
        ),
        (["--encryption-key", "my-key"], r"encryption key must be a Cloud KMS key name"),
        (["--param", "machine_type=ct6e-standard-4t"], r"machine_type='ct6e-standard-4t' is refused: TPU v6e"),
        (
            ["--param", "tpu_topology=4x4"],
            r"tpu_topology='4x4' on machine_type='ct5lp-hightpu-4t' is a multi-host slice",
        ),
        (["--param", "job_labels=team"], r"--param job_labels must be a JSON object such as"),
    ],
)
def test_bad_job_options_are_rejected(templates, extra, message, capsys):
    assert cli.main(cli_args("submit", templates["tpu"], "--dry-run", *extra)) == 2
    assert re.search(message, capsys.readouterr().err)


def test_job_options_need_a_gpu_or_tpu_template(tmp_path, capsys):
    local = compile_pipeline("local", str(tmp_path / "local.yaml"))
    assert cli.main(cli_args("submit", local, "--strategy", "spot", "--dry-run", "--allow-placeholder-image")) == 2
    assert (
        "scheduling_strategy applies to the training CustomJob of a `--target gpu` or `--target tpu`"
        in capsys.readouterr().err
    )


def test_the_gpu_jobs_container_trains_and_writes_the_model_artifact_with_lineage(templates, tmp_path):
    """Runs the job's own command (KFP executor + train component) on CPU with the AIP_* dirs Vertex sets."""
    import yaml

    with open(templates["gpu"]) as handle:
        document = yaml.safe_load(handle)
    root = str(tmp_path / "root")
    context = RunContext(project=PROJECT, location=REGION, pipeline_root=root, job_uuid="run-1")
    values = {"train_steps": 3, "train_batch_size": 8, "params_json": TINY, "machine_type": "g2-standard-8"}
    (custom_job,) = resolve_custom_jobs(document, values, context).values()
    (pool,) = custom_job.job_spec.worker_pool_specs
    base = custom_job.job_spec.base_output_directory.output_uri_prefix
    environment = dict(
        os.environ,
        AIP_MODEL_DIR=f"{base}/model/",
        AIP_CHECKPOINT_DIR=f"{base}/checkpoints/",
        AIP_TENSORBOARD_LOG_DIR=f"{base}/logs/",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    # The command is KFP's `sh -ec "... python3 -m kfp.dsl.executor_main"`: python3 here is this environment's.
    completed = subprocess.run(
        [*pool.container_spec.command, *pool.container_spec.args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    executor_input = json.loads(pool.container_spec.args[1])
    with open(executor_input["outputs"]["outputFile"]) as handle:
        output = json.load(handle)
    (model,) = output["artifacts"]["model"]["artifacts"]
    metadata = model["metadata"]
    assert metadata["global_step"] == 3 and metadata["checkpoint"] == "model.ckpt-3"
    assert metadata["machine_type"] == "g2-standard-8" and metadata["accelerator_type"] == "NVIDIA_L4"
    assert metadata["framework_version"] and metadata["checkpoint_dir"] == f"{base}/checkpoints/"
    model_dir = executor_input["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"]
    assert os.path.exists(os.path.join(model_dir, "model.ckpt-3.index"))
    assert any(".tfevents." in name for name in os.listdir(f"{base}/logs"))

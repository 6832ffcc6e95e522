"""`estimator-pipelines tpu-smoke` without a TPU: the CustomJob offline, every stage on this CPU ending in
its "no TPU" outcome, timeouts and crashes reported as JSON, and the library stage catching a CPU run."""

import json
import subprocess
import sys

import pytest
from estimator_kfp.pipelines import cli, tpu_machines
from estimator_kfp.pipelines.tpu_smoke import job as smoke_job
from estimator_kfp.pipelines.tpu_smoke import library, probe, runner
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1

IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-tpu:test"


def test_the_v5e_job_parses_as_a_vertex_custom_job_with_pjrt_on():
    machine = tpu_machines.resolve("ct5lp-hightpu-4t", "2x2")
    proto = smoke_job.to_proto(smoke_job.build_custom_job(machine, image=IMAGE, labels={"purpose": "smoke"}))
    assert isinstance(proto, aiplatform_v1.CustomJob) and proto.labels["purpose"] == "smoke"
    (pool,) = proto.job_spec.worker_pool_specs
    spec = pool.machine_spec
    assert (spec.machine_type, spec.tpu_topology, pool.replica_count) == ("ct5lp-hightpu-4t", "2x2", 1)
    assert pool.container_spec.image_uri == IMAGE
    assert list(pool.container_spec.command) == ["estimator-pipelines", "tpu-smoke", "--here", "--machine-type",
                                                 "ct5lp-hightpu-4t", "--stage-timeout", "600", "--tpu-topology", "2x2"]
    assert {e.name: e.value for e in pool.container_spec.env} == {
        "NEXT_PLUGGABLE_DEVICE_USE_C_API": "true", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": "/lib/libtpu.so"}


def test_the_v3_job_asks_for_eight_tpu_v3_cores_with_pjrt_off():
    machine = tpu_machines.resolve("cloud-tpu", accelerator_type="TPU_V3")
    (pool,) = smoke_job.to_proto(smoke_job.build_custom_job(machine, image=IMAGE)).job_spec.worker_pool_specs
    assert pool.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.TPU_V3
    assert pool.machine_spec.accelerator_count == 8
    assert {e.name: e.value for e in pool.container_spec.env}["NEXT_PLUGGABLE_DEVICE_USE_C_API"] == "false"


def test_the_sdk_builds_the_job_offline():
    job = smoke_job.build_custom_job(tpu_machines.resolve("ct5lp-hightpu-8t", "2x4"), image=IMAGE)
    sdk = smoke_job.sdk_job(job, project="my-project", region="us-central1", staging_bucket="gs://b/staging",
                            credentials=AnonymousCredentials())
    (pool,) = sdk._gca_resource.job_spec.worker_pool_specs
    assert (pool.machine_spec.machine_type, pool.machine_spec.tpu_topology) == ("ct5lp-hightpu-8t", "2x4")
    with pytest.raises(ValueError, match=r"staging_bucket must be a gs:// URI.*received staging_bucket='b'"):
        smoke_job.sdk_job(
            job, project="p", region="us-central1", staging_bucket="b", credentials=AnonymousCredentials()
        )


@pytest.mark.parametrize("timeout", [0, -1, True, "600"])
def test_bad_stage_timeouts_are_refused(timeout):
    with pytest.raises(ValueError, match=r"stage_timeout must be a positive number of seconds"):
        smoke_job.build_custom_job(tpu_machines.resolve("ct5lp-hightpu-1t", "1x1"), image=IMAGE, stage_timeout=timeout)


def test_cli_prints_and_writes_the_job(tmp_path, capsys):
    output = tmp_path / "smoke.json"
    assert cli.main(["tpu-smoke", "--image", IMAGE, "--output", str(output)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(output.read_text())
    assert printed["job_spec"]["worker_pool_specs"][0]["machine_spec"] == {"machine_type": "ct5lp-hightpu-4t",
                                                                          "tpu_topology": "2x2"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--machine-type", "ct6e-standard-4t", "--tpu-topology", "2x2"],
            "Starting with TPU v6e, TensorFlow isn't supported",
        ),
        (["--machine-type", "ct5lp-hightpu-4t"], "tpu_topology is required for machine_type='ct5lp-hightpu-4t'"),
        (["--tpu-topology", "2x4"], r"--tpu-topology/--accelerator-type need --machine-type"),
        (["--submit", "--project", "p"], r"--submit needs --region, --staging-bucket"),
        (["--image", "not an image"], r"image must be a container image reference"),
    ],
)
def test_cli_errors_are_one_line_messages(argv, message, capsys):
    assert cli.main(["tpu-smoke", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def here_on_cpu(tmp_path_factory):
    """The real `tpu-smoke --here` on this CPU-only machine, as a user would run it."""
    completed = subprocess.run(
        [sys.executable, "-m", "estimator_kfp.pipelines.cli", "tpu-smoke", "--here",
         "--machine-type", "ct5lp-hightpu-4t", "--tpu-topology", "2x2",
         "--libtpu-path", str(tmp_path_factory.mktemp("no_libtpu") / "libtpu.so")],
        capture_output=True, text=True, timeout=1200,
    )
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return completed.returncode, lines


@pytest.mark.slow
def test_here_on_cpu_prints_one_json_line_a_stage_then_the_summary(here_on_cpu):
    code, lines = here_on_cpu
    assert code == 1
    assert [(r["stage"], r["pjrt_variant"]) for r in lines[:-1]] == [
        ("environment", None), ("eager", "off"), ("graph", "off"), ("library", "off"),
        ("eager", "on"), ("graph", "on"), ("library", "on")]
    assert lines[-1]["stage"] == "summary" and lines[-1]["status"] == "no_tpu"
    assert lines[-1]["runtime_checked"] == ["pjrt"]


@pytest.mark.slow
def test_every_stage_on_cpu_ends_in_no_tpu_with_a_reason(here_on_cpu):
    _, lines = here_on_cpu
    for result in lines[:-1]:
        assert result["status"] == "no_tpu", result
        assert result["error"] and "Traceback" not in result["error"]
    environment, eager, graph, lib = lines[:4]
    assert environment["tensorflow"] and environment["distributions"]["protobuf"]
    assert "no TPU chips on this host" in environment["error"]
    assert "TPUs not found" in eager["error"] or "TPU" in eager["error"]
    # The replicated graph was built for the 4 cores of a ct5lp-hightpu-4t before the TPU system failed.
    assert graph["replicate_metadata_num_replicas"] == [4]
    assert "use_tpu=True but no TPU could be reached" in lib["error"]
    for result in lines[4:7]:  # PJRT on, and this machine has no libtpu.so
        assert "TF_PLUGGABLE_DEVICE_LIBRARY_PATH=" in result["error"] and "does not exist" in result["error"]


def _python_running(tmp_path, body):
    """An executable that stands in for the interpreter of one stage and runs `body` instead."""
    script = tmp_path / "stage_body.py"
    script.write_text(body)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    python.chmod(0o755)
    return str(python)


def test_a_stage_that_outlives_its_timeout_is_killed_and_reported(tmp_path):
    hanging = _python_running(tmp_path, "import time\ntime.sleep(600)\n")
    outcome = runner.run_stage_process("eager", env=runner.variant_env({}, "off", "/lib/libtpu.so"), timeout=1,
                                       expected_cores=None, workdir=str(tmp_path), python=hanging)
    assert outcome["status"] == "timeout" and "no result within 1 s; the process was killed" in outcome["error"]


def test_a_stage_that_segfaults_is_reported_and_does_not_stop_the_caller(tmp_path):
    crashing = _python_running(tmp_path, "import ctypes, sys\nprint('some output', flush=True)\nctypes.string_at(0)\n")
    outcome = runner.run_stage_process("graph", env=runner.variant_env({}, None, ""), timeout=60,
                                       expected_cores=4, workdir=str(tmp_path), python=crashing)
    assert outcome == {**outcome, "stage": "graph", "status": "crash", "error": "killed by signal SIGSEGV"}


def test_the_library_stage_catches_a_run_that_never_reached_a_tpu(tmp_path):
    # The same checks on this CPU with use_tpu=False: training, host_call, evaluate and predict hold, and the
    # two TPU checks report the fallback (no replicated computation, no TPU execute op).
    outcome = library.run(1, workdir=str(tmp_path), use_tpu=False)
    assert outcome["status"] == "no_tpu"
    assert outcome["failed"] == ["tpu_replicate_metadata_in_train_graph", "tpu_execute_ops_in_partition_graphs"]
    assert outcome["checks"]["partition_graphs_captured"] is True
    assert outcome["final_step"] == 9 and [step for step, _ in outcome["losses"]] == list(range(1, 10))
    assert outcome["predictions"] == library.PREDICT_EXAMPLES


def _stage(stage, status, variant):
    return {"stage": stage, "status": status, "pjrt_variant": variant}


def test_the_summary_passes_only_on_the_runtime_the_machine_uses():
    v5e = tpu_machines.resolve("ct5lp-hightpu-4t", "2x2")
    v3 = tpu_machines.resolve("cloud-tpu", accelerator_type="TPU_V3")
    pjrt_only = [_stage("environment", "pass", None)] + [
        _stage(s, "pass" if v == "on" else "fail", v) for v in ("off", "on") for s in runner.TPU_STAGES]
    assert runner.summarize(pjrt_only, v5e)["status"] == "pass"
    assert runner.summarize(pjrt_only, v3)["status"] == "fail"
    assert runner.summarize(pjrt_only, None)["passed_runtimes"] == ["on"]
    library_broken = [r if r["stage"] != "library" else {**r, "status": "crash"} for r in pjrt_only]
    assert runner.summarize(library_broken, v5e)["status"] == "fail"


def test_errors_are_reported_in_one_line():
    error = RuntimeError("Graph execution error:\n\nDetected at node 'x'\nmore")
    assert probe.one_line(error) == "RuntimeError: Graph execution error: Detected at node 'x'"

"""The multi-node GPU training job: a chief pool running the train component, a worker pool running
components/train/replica.py, built the way GCPC's launcher builds the CustomJob, and run for real as two
processes on 127.0.0.1 with the TF_CONFIG Vertex sets on each pool."""

import contextlib
import json
import os
import re
import subprocess
import time

import pytest
import yaml
from estimator_kfp.pipelines import cli, training_job
from estimator_kfp.pipelines.custom_job_payload import RunContext, resolve_custom_jobs
from estimator_kfp.pipelines.placement import GpuPlacement
from estimator_kfp.pipelines.training_pipeline import build_training_pipeline, compile_pipeline
from google.cloud import aiplatform_v1
from testlib.processes import PORT_TAKEN, free_ports

PROJECT, REGION, ROOT = "my-project", "us-central1", "gs://my-bucket/pipeline_root"
GPU_IMAGE = "us-docker.pkg.dev/p/r/estimator-lib-gpu:test"
TINY = json.dumps({"hidden_units": [4], "n_examples": 32, "seed": 1})


def _compile(tmp_path, replica_count, resume=False):
    placement = GpuPlacement(machine_type="a2-highgpu-1g", accelerator_type="NVIDIA_TESLA_A100", accelerator_count=1,
                             gpu_image=GPU_IMAGE, replica_count=replica_count)
    path = compile_pipeline("gpu", str(tmp_path / f"gpu-{replica_count}{'-resume' * resume}.yaml"),
                            image="us-docker.pkg.dev/p/r/estimator-lib:test", gpu=placement, resume=resume)
    with open(path) as handle:
        return yaml.safe_load(handle)


def _custom_job(document, values, pipeline_root=ROOT):
    context = RunContext(project=PROJECT, location=REGION, pipeline_root=pipeline_root, job_uuid="run-1")
    (custom_job,) = resolve_custom_jobs(document, values, context).values()
    assert isinstance(custom_job, aiplatform_v1.CustomJob)
    return custom_job


def test_a_multi_node_job_has_a_chief_pool_and_a_worker_pool_of_the_same_machines(tmp_path):
    custom_job = _custom_job(_compile(tmp_path, 4), {"save_checkpoints_steps": 50})
    chief, worker = custom_job.job_spec.worker_pool_specs  # no parameter-server or evaluator pool
    assert (chief.replica_count, worker.replica_count) == (1, 3)
    for pool in (chief, worker):
        assert pool.machine_spec.machine_type == "a2-highgpu-1g"
        assert pool.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_TESLA_A100
        assert pool.machine_spec.accelerator_count == 1
        assert pool.container_spec.image_uri == GPU_IMAGE
        assert pool.disk_spec.boot_disk_size_gb == 100
    # The chief runs the KFP executor (it writes the step's outputs); the workers run our entry point with the
    # chief's very arguments, so they read the same executor input.
    assert list(chief.container_spec.command[:2]) == ["sh", "-ec"]
    assert "kfp.dsl.executor_main" in chief.container_spec.command[2]
    assert list(worker.container_spec.command) == training_job.WORKER_COMMAND
    assert list(worker.container_spec.args) == list(chief.container_spec.args)
    inputs = json.loads(chief.container_spec.args[1])["inputs"]["parameterValues"]
    assert inputs["save_checkpoints_steps"] == 50  # collective training saves by steps on every task
    # A replica restarted alone would leave the others in an all-reduce: the whole job restarts by default.
    assert custom_job.job_spec.scheduling.restart_job_on_worker_restart
    assert custom_job.job_spec.base_output_directory.output_uri_prefix.startswith(ROOT + "/run-1-")


def test_a_one_replica_gpu_job_keeps_one_pool_and_time_based_saves(tmp_path):
    document = _compile(tmp_path, 1)
    custom_job = _custom_job(document, {})
    (pool,) = custom_job.job_spec.worker_pool_specs
    assert pool.replica_count == 1
    assert not custom_job.job_spec.scheduling.restart_job_on_worker_restart
    assert "save_checkpoints_steps" not in document["root"]["inputDefinitions"]["parameters"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GpuPlacement(replica_count=0), r"replica_count must be an integer >= 1: the machines of the job"),
        (lambda: GpuPlacement(replica_count=True), r"received replica_count=True"),
        (lambda: build_training_pipeline("gpu", gpu=GpuPlacement(replica_count=2), train_retries=-1),
         r"train_retries must be an integer >= 0"),
    ],
)
def test_bad_multi_node_settings_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_gpu_replicas_need_the_gpu_target(tmp_path, capsys):
    assert cli.main(["compile", "--target", "tpu", "--gpu-replicas", "2", "--output", str(tmp_path / "t.yaml"),
                     "--allow-placeholder-image"]) == 2
    assert "--gpu-replicas 2 applies to --target gpu" in capsys.readouterr().err


# ---- a real run: the chief's and the worker's containers as two processes --------------------------------

TIMEOUT_SECS = 240


def _vertex_env(base, task_type, cluster):
    """The variables Vertex sets on a replica of a job with base_output_directory (docs/pipelines.md)."""
    pools = {"chief": "workerpool0", "worker": "workerpool1"}
    tf_config = {"cluster": cluster, "task": {"type": task_type, "index": 0}, "environment": "cloud",
                 "job": {"worker_pool_specs": [{"replica_count": 1}, {"replica_count": 1}]}}
    cluster_spec = {"cluster": {pools[job]: addresses for job, addresses in cluster.items()},
                    "task": {"type": pools[task_type], "index": 0}, "environment": "cloud"}
    return dict(os.environ, TF_CONFIG=json.dumps(tf_config), CLUSTER_SPEC=json.dumps(cluster_spec),
                AIP_MODEL_DIR=f"{base}/model/", AIP_CHECKPOINT_DIR=f"{base}/checkpoints/",
                AIP_TENSORBOARD_LOG_DIR=f"{base}/logs/", TF_CPP_MIN_LOG_LEVEL="2")


def _run_pools(pools, base, run_dir):
    """Starts the chief and the worker pool's commands; returns {task: (returncode, log text)}."""
    chief_port, worker_port = free_ports(2)
    cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
    procs = {}
    with contextlib.ExitStack() as logs:
        for task_type, pool in pools.items():
            log = logs.enter_context(open(run_dir / f"{task_type}.log", "w"))
            procs[task_type] = subprocess.Popen([*pool.container_spec.command, *pool.container_spec.args],
                                                env=_vertex_env(base, task_type, cluster), stdout=log,
                                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT_SECS
        try:  # stop at the first failure: the other task would wait for its peer forever
            while time.monotonic() < deadline:
                codes = [proc.poll() for proc in procs.values()]
                if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
                    break
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return {task: (proc.returncode, (run_dir / f"{task}.log").read_text()) for task, proc in procs.items()}


def _files_under(directory):
    return sorted(os.path.relpath(os.path.join(folder, name), directory)
                  for folder, _, names in os.walk(directory) for name in names)


def _initial_checkpoint(directory, steps):
    """A checkpoint to resume from, trained in this process (no TF_CONFIG here: one plain task)."""
    from estimator_kfp.components.train.task import TrainRequest, run_train

    summary = run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=directory, params_json=TINY,
                                     train_steps=steps, train_batch_size=8, save_checkpoints_steps=steps))
    assert summary["global_step"] == steps
    return directory


MODEL_REF = "estimator_kfp.example_models.classifier"


@pytest.mark.slow
@pytest.mark.parametrize("start", ["fresh", "resume"])
def test_the_chief_and_a_worker_train_one_model_and_only_the_chief_writes_outputs(tmp_path, start):
    """resume: the chief copies the imported checkpoint into the job's checkpoint dir; the worker waits for it,
    and both restore it (a task initialising instead would wait forever for the other's broadcast)."""
    root = str(tmp_path / "root")
    values = {"train_steps": 6, "train_batch_size": 8, "params_json": TINY, "save_checkpoints_steps": 3,
              "machine_type": "a2-highgpu-1g"}
    first = 0
    if start == "resume":
        first = 4
        values["init_model_uri"] = _initial_checkpoint(str(tmp_path / "init"), first)
    custom_job = _custom_job(_compile(tmp_path, 2, resume=start == "resume"), values, pipeline_root=root)
    chief, worker = custom_job.job_spec.worker_pool_specs
    base = custom_job.job_spec.base_output_directory.output_uri_prefix
    for attempt in range(2):
        run_dir = tmp_path / f"attempt{attempt}"
        run_dir.mkdir()
        results = _run_pools({"chief": chief, "worker": worker}, base, run_dir)
        failed = {task: log[-4000:] for task, (code, log) in results.items() if code != 0}
        # A picked port may be taken by another process before the task's server binds it: retried once.
        if not (failed and attempt == 0 and any(PORT_TAKEN in log for log in failed.values())):
            break
    assert not failed, json.dumps(failed, indent=1)

    executor_input = json.loads(chief.container_spec.args[1])
    with open(executor_input["outputs"]["outputFile"]) as handle:
        output = json.load(handle)
    (model,) = output["artifacts"]["model"]["artifacts"]
    last = first + 6
    assert model["metadata"]["global_step"] == last and model["metadata"]["checkpoint"] == f"model.ckpt-{last}"
    assert model["metadata"]["machine_type"] == "a2-highgpu-1g"
    model_dir = executor_input["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"]
    assert os.path.exists(os.path.join(model_dir, f"model.ckpt-{last}.index"))

    # The worker trained in lockstep to the same step, in a scratch directory of its own...
    summary = json.loads(results["worker"][1].strip().splitlines()[-1])
    assert summary["task"] == "worker" and summary["global_step"] == summary["target_step"] == last
    assert not summary["scratch_dir"].startswith(str(tmp_path))
    # ...and wrote nothing the step or the job keeps: one executor output (the chief's), no worker files.
    written = _files_under(root)
    assert [name for name in written if name.endswith("executor_output.json")] == [
        os.path.relpath(executor_input["outputs"]["outputFile"], root)]
    assert not [name for name in written if re.search(r"worker|tmp_", name)], written

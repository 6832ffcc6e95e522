"""The Vertex CustomJob that runs `estimator-pipelines tpu-smoke --here` on one TPU VM, and its submission."""

from __future__ import annotations

from typing import Any

from ...components import images
from .. import tpu_machines

DISPLAY_NAME = "estimator-lib-tpu-smoke"


def smoke_command(machine: tpu_machines.TpuMachine, stage_timeout: float) -> list[str]:
    command = ["estimator-pipelines", "tpu-smoke", "--here", "--machine-type", machine.machine_type,
               "--stage-timeout", f"{stage_timeout:g}"]
    if machine.machine_type == "cloud-tpu":
        command += ["--accelerator-type", machine.accelerator_type]
    else:
        command += ["--tpu-topology", machine.tpu_topology]
    return command


def build_custom_job(machine: tpu_machines.TpuMachine, *, image: str, stage_timeout: float = 600.0,
                     display_name: str = DISPLAY_NAME, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The CustomJob as a dict in the REST field names (parse it with aiplatform_v1.CustomJob(**job)).

    The container gets the machine's runtime variables (PJRT on for v5e, off for v2/v3) even though the
    TPU image sets the v5e ones: the job spec alone then says how TensorFlow must start.
    """
    images.check_image(image, name="image")
    if isinstance(stage_timeout, bool) or not isinstance(stage_timeout, (int, float)) or stage_timeout <= 0:
        raise ValueError(
            f"stage_timeout must be a positive number of seconds; received stage_timeout={stage_timeout!r}."
        )
    container = {
        "image_uri": image,
        "command": smoke_command(machine, stage_timeout),
        "env": [{"name": name, "value": value} for name, value in tpu_machines.runtime_env(machine).items()],
    }
    job: dict[str, Any] = {
        "display_name": display_name,
        "job_spec": {"worker_pool_specs": [tpu_machines.worker_pool_spec(machine, container)]},
    }
    if labels:
        job["labels"] = dict(labels)
    return job


def to_proto(job: dict[str, Any]):
    """The job as google.cloud.aiplatform_v1.CustomJob: unknown fields or bad enum names fail here."""
    from google.cloud import aiplatform_v1

    return aiplatform_v1.CustomJob(**job)


def sdk_job(job: dict[str, Any], *, project: str, region: str, staging_bucket: str, credentials=None):
    """google.cloud.aiplatform.CustomJob for `job` (no network until it is submitted)."""
    from google.cloud import aiplatform

    if not isinstance(staging_bucket, str) or not staging_bucket.startswith("gs://"):
        raise ValueError(
            f"staging_bucket must be a gs:// URI where Vertex keeps the job's files; received "
            f"staging_bucket={staging_bucket!r}."
        )
    return aiplatform.CustomJob(
        display_name=job["display_name"],
        worker_pool_specs=job["job_spec"]["worker_pool_specs"],
        project=project,
        location=region,
        staging_bucket=staging_bucket,
        labels=job.get("labels"),
        credentials=credentials,
    )


def submit(
    job: dict[str, Any],
    *,
    project: str,
    region: str,
    staging_bucket: str,
    service_account: str | None = None,
    network: str | None = None,
    wait: bool = False,
):
    """Submits the job; with wait=True blocks until it ends (the stage lines are in the job's logs)."""
    custom_job = sdk_job(job, project=project, region=region, staging_bucket=staging_bucket)
    if wait:
        custom_job.run(service_account=service_account, network=network, sync=True)
    else:
        custom_job.submit(service_account=service_account, network=network)
    return custom_job

"""Training as a Vertex CustomJob that carries the pipeline's identity, built from the train component.

google-cloud-pipeline-components' `create_custom_training_job_from_component` turns the train component
into a CustomJob step whose outputs are the component's own: the `model` artifact is written, with its
metadata, by the job that trained it (the KFP executor runs inside the job's container). It already takes
service account, network, CMEK key, base output directory, labels, TensorBoard and scheduling; what it
lacks (GCPC 2.22) is a TPU topology and run-time machine settings, so `worker_pool_specs` takes the pool
it produced and replaces the machine spec and image with pipeline parameters (KFP compiles parameters
nested in a constant into placeholders that Vertex fills at run time).
"""

from __future__ import annotations

from typing import Any

from kfp import dsl

# Vertex AI Pipelines fills these at run time from the PipelineJob (google_cloud_pipeline_components
# ._placeholders): the job runs as the pipeline's service account, in its VPC, with its CMEK key.
SERVICE_ACCOUNT_PLACEHOLDER = "{{$.pipeline_service_account}}"
NETWORK_PLACEHOLDER = "{{$.pipeline_network}}"
ENCRYPTION_KEY_PLACEHOLDER = "{{$.pipeline_encryption_key_name}}"
# Under the pipeline root, one directory per run and task (the layout GCPC's evaluation components use):
# a new job never writes into an earlier run's directory, and a cached step starts no job at all.
BASE_OUTPUT_DIRECTORY = (
    f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}-{dsl.PIPELINE_TASK_ID_PLACEHOLDER}"
)

# `submit --strategy` names -> CustomJobSpec Scheduling.Strategy.
STRATEGIES = {"standard": "STANDARD", "spot": "SPOT", "flex-start": "FLEX_START"}
DEFAULT_TIMEOUT = "604800s"
DEFAULT_MAX_WAIT = "86400s"


def training_job_op(train_component: Any, *, display_name: str) -> Any:
    """The CustomJob step running `train_component` (its image is the job's default image)."""
    from google_cloud_pipeline_components.v1.custom_job import (
        create_custom_training_job_from_component,
    )

    return create_custom_training_job_from_component(
        train_component,
        display_name=display_name,
        service_account=SERVICE_ACCOUNT_PLACEHOLDER,
        network=NETWORK_PLACEHOLDER,
        encryption_spec_key_name=ENCRYPTION_KEY_PLACEHOLDER,
        base_output_directory=BASE_OUTPUT_DIRECTORY,
        timeout=DEFAULT_TIMEOUT,
        max_wait_duration=DEFAULT_MAX_WAIT,
        # Explicit empty values: a None here leaves the input without a default, and the payload's
        # placeholder without a value.
        labels={},
        reserved_ip_ranges=[],
        psc_interface_config={},
    )


# The worker pools' entry point (components/train/replica.py): it takes the chief's arguments (the executor
# input) and trains beside it, writing no outputs.
WORKER_COMMAND = ["python3", "-m", "estimator_kfp.components.train.replica"]


def worker_pool_specs(job_op: Any, *, machine_spec: dict[str, Any], image: Any, disk: bool = True,
                      env: dict[str, str] | None = None, workers: int = 0) -> list[dict[str, Any]]:
    """The job's pools: the chief (its own container: command and executor placeholder) and `workers` workers.

    Pool 0 is one replica, the chief: the train component writes the step's outputs there. Pool 1 (only when
    workers > 0) runs WORKER_COMMAND with the same arguments on the same machines and image; Vertex gives
    pool 0 TF_CONFIG task type `chief` and pool 1 `worker`, and they train one model with
    MultiWorkerMirroredStrategy. disk=False leaves the boot disk to Vertex (TPU VMs come with their own).
    `env` is set in the containers (the TPU runtime's variables, which must be in place before TensorFlow loads).
    """
    (template,) = job_op.component_spec.inputs["worker_pool_specs"].default
    container = dict(template["container_spec"], image_uri=image)
    if env:
        container["env"] = [{"name": name, "value": value} for name, value in env.items()]
    chief: dict[str, Any] = {"machine_spec": machine_spec, "replica_count": 1, "container_spec": container}
    if disk and "disk_spec" in template:
        chief["disk_spec"] = dict(template["disk_spec"])
    if not workers:
        return [chief]
    worker = dict(chief, replica_count=workers, container_spec=dict(container, command=list(WORKER_COMMAND)))
    return [chief, worker]


def check_scheduling(*, strategy: str, timeout: str, max_wait_duration: str) -> None:
    """Validates scheduling values given to submit, with the accepted forms."""
    import re

    if strategy not in STRATEGIES.values():
        raise ValueError(
            f"scheduling strategy must be one of {sorted(STRATEGIES)} (or Vertex's {sorted(STRATEGIES.values())}); "
            f"received {strategy!r}."
        )
    for name, value in (("timeout", timeout), ("max_wait_duration", max_wait_duration)):
        if not isinstance(value, str) or not re.match(r"^\d+(\.\d{1,9})?s$", value):
            raise ValueError(f"{name} must be a duration in seconds such as '3600s'; received {name}={value!r}.")

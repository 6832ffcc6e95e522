"""Submitting and scheduling compiled pipelines on Vertex AI through google-cloud-aiplatform.

`build_pipeline_job` constructs the PipelineJob (no network); `create_job_request` / `create_schedule_request`
return the exact request objects `submit` / `schedule` would send, for dry runs and offline tests.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")
_KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
_EXPERIMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
_TENSORBOARD = re.compile(r"^projects/[^/]+/locations/[^/]+/tensorboards/[^/]+$")


def check_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise ValueError(f"region must be a Vertex AI region such as 'us-central1'; received region={region!r}.")
    return region


def check_pipeline_root(pipeline_root: str) -> str:
    if not isinstance(pipeline_root, str) or not pipeline_root.startswith("gs://") or len(pipeline_root) <= 5:
        raise ValueError(
            f"pipeline_root must be a Cloud Storage URI such as 'gs://my-bucket/pipeline_root' (Vertex writes "
            f"every artifact under it); received pipeline_root={pipeline_root!r}."
        )
    return pipeline_root


def check_cron(cron: str) -> str:
    """Accepts five cron fields, optionally prefixed with 'TZ=Zone' or 'CRON_TZ=Zone'."""
    fields = cron.split() if isinstance(cron, str) else []
    if fields and re.match(r"^(CRON_)?TZ=\S+$", fields[0]):
        fields = fields[1:]
    if len(fields) != 5 or not all(_CRON_FIELD.match(field) for field in fields):
        raise ValueError(
            f"cron must have five fields (minute hour day-of-month month day-of-week), optionally prefixed "
            f"with 'TZ=America/New_York'; e.g. '0 3 * * *' runs daily at 03:00 UTC. Received cron={cron!r}."
        )
    return cron


def build_pipeline_job(
    *,
    template_path: str,
    project: str,
    region: str,
    pipeline_root: str,
    parameter_values: dict[str, Any] | None = None,
    display_name: str | None = None,
    enable_caching: bool | None = None,
    labels: dict[str, str] | None = None,
    job_id: str | None = None,
    credentials: Any = None,
    encryption_spec_key_name: str | None = None,
):
    """A Vertex PipelineJob for a compiled template (the constructor checks parameter names offline).

    enable_caching=None keeps each step's compiled caching option (training is compiled uncached).
    """
    from google.cloud import aiplatform

    if not isinstance(template_path, str) or not os.path.isfile(template_path):
        raise ValueError(
            f"template_path must be a compiled pipeline file; received {template_path!r}. Create one with "
            f"`estimator-pipelines compile --target tpu --output pipeline.yaml`."
        )
    if not isinstance(project, str) or not project:
        raise ValueError(f"project must be a Google Cloud project id; received project={project!r}.")
    check_region(region)
    check_pipeline_root(pipeline_root)
    if encryption_spec_key_name and not _KMS_KEY.match(encryption_spec_key_name):
        raise ValueError(
            f"encryption key must be a Cloud KMS key name 'projects/P/locations/L/keyRings/R/cryptoKeys/K'; "
            f"received {encryption_spec_key_name!r}."
        )
    try:
        return aiplatform.PipelineJob(
            display_name=display_name or os.path.splitext(os.path.basename(template_path))[0],
            template_path=template_path,
            pipeline_root=pipeline_root,
            parameter_values=dict(parameter_values or {}),
            enable_caching=enable_caching,
            labels=labels,
            job_id=job_id,
            project=project,
            location=region,
            credentials=credentials,
            encryption_spec_key_name=encryption_spec_key_name,
        )
    except ValueError as error:
        if "pipeline parameter" not in str(error):
            raise
        raise ValueError(
            f"{error} Parameters of {os.path.basename(template_path)}: see root.inputDefinitions.parameters in it."
        ) from None


def create_job_request(job, *, service_account: str | None = None, network: str | None = None):
    """The CreatePipelineJobRequest `job.submit(service_account=..., network=...)` sends, built offline."""
    from google.cloud.aiplatform.compat.types import pipeline_service

    pipeline_job = copy.deepcopy(job._gca_resource)
    if service_account:
        pipeline_job.service_account = service_account
    if network:
        pipeline_job.network = network
    return pipeline_service.CreatePipelineJobRequest(
        parent=job._parent, pipeline_job=pipeline_job, pipeline_job_id=job.job_id
    )


def training_job_values(
    types: dict[str, str],
    *,
    given: dict[str, Any],
    labels: dict[str, str] | None = None,
    strategy: str | None = None,
    timeout: str | None = None,
    max_wait_duration: str | None = None,
    restart_job_on_worker_restart: bool | None = None,
    tensorboard: str | None = None,
) -> dict[str, Any]:
    """Pipeline parameter values for the training CustomJob's labels and scheduling (gpu/tpu templates).

    Labels also go to the job's `job_labels` unless that parameter was given; the other options need a
    template that has the parameter (a `--target local` template trains in a plain step and has none).
    """
    from .training_job import DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT, check_scheduling

    values: dict[str, Any] = {}
    if labels and "job_labels" in types and "job_labels" not in given:
        values["job_labels"] = dict(labels)
    options = {"scheduling_strategy": strategy, "job_timeout": timeout, "max_wait_duration": max_wait_duration,
               "restart_job_on_worker_restart": restart_job_on_worker_restart, "tensorboard": tensorboard}
    for name, value in options.items():
        if value is None:
            continue
        if name not in types:
            raise ValueError(
                f"{name} applies to the training CustomJob of a `--target gpu` or `--target tpu` template; this "
                f"template has no {name} parameter (compiled for --target local?). Recompile with --target gpu/tpu."
            )
        values[name] = value
    check_scheduling(
        strategy=values.get("scheduling_strategy", given.get("scheduling_strategy", "STANDARD")),
        timeout=values.get("job_timeout", given.get("job_timeout", DEFAULT_TIMEOUT)),
        max_wait_duration=values.get("max_wait_duration", given.get("max_wait_duration", DEFAULT_MAX_WAIT)),
    )
    board = values.get("tensorboard", given.get("tensorboard", ""))
    if board and not _TENSORBOARD.match(board):
        raise ValueError(
            f"tensorboard must be a Vertex TensorBoard resource 'projects/P/locations/L/tensorboards/ID'; "
            f"received {board!r}."
        )
    return values


def check_tpu_machine(types: dict[str, str], values: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A TPU template's machine_type / tpu_topology given at submit must be a machine TensorFlow trains on.

    Vertex accepts e.g. TPU v6e machines and fails only after they start; pipelines.tpu_machines refuses
    them here, as `compile` does for the compiled-in defaults.
    """
    if "tpu_topology" not in types or not {"machine_type", "tpu_topology"} & set(values):
        return
    from .tpu_machines import resolve

    resolve(values.get("machine_type", defaults.get("machine_type", "")),
            values.get("tpu_topology", defaults.get("tpu_topology", "")) or None)


def training_custom_jobs(request, *, project: str, location: str) -> dict[str, Any]:
    """Task name -> the aiplatform_v1.CustomJob each training step of the submitted job would create."""
    from google.protobuf import json_format

    from .custom_job_payload import RunContext, resolve_custom_jobs

    pipeline_job = request.pipeline_job
    document = json_format.MessageToDict(pipeline_job._pb.pipeline_spec)
    parameters = json_format.MessageToDict(pipeline_job._pb.runtime_config).get("parameterValues", {})
    context = RunContext.from_pipeline_job(pipeline_job, project=project, location=location)
    return resolve_custom_jobs(document, parameters, context)


def check_experiment(experiment: str | None) -> str | None:
    """Vertex AI Experiments names: lower-case letters, digits and hyphens, starting with a letter or digit."""
    if experiment is not None and not _EXPERIMENT.match(experiment):
        raise ValueError(
            f"experiment must be a Vertex AI Experiments name of lower-case letters, digits and hyphens (at most "
            f"128), such as 'estimator-nightly'; received experiment={experiment!r}."
        )
    return experiment


def submit(
    job, *, service_account: str | None = None, network: str | None = None, experiment: str | None = None
) -> None:
    """Sends the job to Vertex AI (needs credentials and network); with `experiment`, the run is added to that
    Vertex AI Experiments experiment, which shows its Metrics artifacts (evaluate's metrics) per run."""
    job.submit(service_account=service_account, network=network, experiment=check_experiment(experiment))


def build_schedule(job, *, display_name: str):
    """The PipelineJobSchedule object for `job` (constructed offline)."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJobSchedule(
        pipeline_job=job,
        display_name=display_name,
        credentials=job.credentials,
        project=job.project,
        location=job.location,
    )


def schedule_options(
    *,
    cron: str,
    max_concurrent_run_count: int = 1,
    max_run_count: int | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    allow_queueing: bool = False,
    service_account: str | None = None,
    network: str | None = None,
) -> dict[str, Any]:
    """Validated keyword arguments for PipelineJobSchedule.create."""
    check_cron(cron)
    for name, value in (("max_concurrent_run_count", max_concurrent_run_count), ("max_run_count", max_run_count)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer; received {name}={value!r}.")
    return {
        "cron": cron,
        "max_concurrent_run_count": max_concurrent_run_count,
        "max_run_count": max_run_count,
        "start_time": start_time,
        "end_time": end_time,
        "allow_queueing": allow_queueing,
        "service_account": service_account,
        "network": network,
    }


def create_schedule_request(schedule, options: dict[str, Any]):
    """The CreateScheduleRequest `schedule.create(**options)` sends, built offline."""
    from google.cloud.aiplatform.compat.types import schedule_service

    resource = copy.deepcopy(schedule._gca_resource)
    resource.cron = options["cron"]
    for name in ("start_time", "end_time", "max_run_count"):
        if options.get(name):
            setattr(resource, name, options[name])
    if options.get("allow_queueing"):
        resource.allow_queueing = True
    if options.get("max_concurrent_run_count"):
        resource.max_concurrent_run_count = options["max_concurrent_run_count"]
    job = resource.create_pipeline_job_request.pipeline_job
    if options.get("service_account"):
        job.service_account = options["service_account"]
    if options.get("network"):
        job.network = options["network"]
    return schedule_service.CreateScheduleRequest(parent=schedule._parent, schedule=resource)


def create_schedule(job, *, display_name: str, options: dict[str, Any]):
    """Creates the schedule on Vertex AI with `job.create_schedule` (needs credentials and network).

    aiplatform builds the same PipelineJobSchedule as `build_schedule` inside it, so the dry-run request of
    `create_schedule_request(build_schedule(...), options)` is what this sends.
    """
    return job.create_schedule(display_name=display_name, **options)

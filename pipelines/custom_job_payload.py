"""The CustomJob a compiled pipeline's training step would create, worked out offline.

For `submit --dry-run` and the tests: what a step built on GCPC's custom-job launcher sends to Vertex.
Vertex AI Pipelines fills the step's `--payload` placeholders (its input parameters, then the placeholders
inside those values: pipeline parameters nested in constants, `{{$.pipeline_service_account}}`,
`{{$.pipeline_root}}`, `{{$.json_escape[1]}}` for the executor input, ...); this module does the same from
the PipelineJob's values. Then GCPC's own launcher code runs on the filled payload (system labels, empty
fields removed, max_wait_duration dropped unless FLEX_START) and the result is parsed into
`aiplatform_v1.CustomJob`, as the JobServiceClient would.

The run-time identifiers (job and task uuids, the output artifact URIs) are stand-ins: Vertex makes them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

LAUNCHER_MODULE = "google_cloud_pipeline_components.container.v1.custom_job.launcher"
_PLACEHOLDER = re.compile(r"\{\{\$(?:\.[^{}]*)?\}\}")
_INPUT = re.compile(r"^\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}$")


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What Vertex knows about a pipeline run when it fills a step's placeholders."""

    project: str
    location: str
    pipeline_root: str
    service_account: str = ""
    network: str = ""
    encryption_key: str = ""
    job_uuid: str = "dry-run-job"
    persistent_resource_id: str = ""

    @classmethod
    def from_pipeline_job(cls, pipeline_job: Any, *, project: str, location: str) -> RunContext:
        """From an aiplatform_v1 PipelineJob (e.g. a CreatePipelineJobRequest's pipeline_job)."""
        return cls(
            project=project, location=location, pipeline_root=pipeline_job.runtime_config.gcs_output_directory,
            service_account=pipeline_job.service_account, network=pipeline_job.network,
            encryption_key=pipeline_job.encryption_spec.kms_key_name,
        )


def custom_job_tasks(document: dict[str, Any]) -> dict[str, str]:
    """Root task name -> component name, for every root task that launches a Vertex CustomJob."""
    executors = document.get("deploymentSpec", {}).get("executors", {})
    launchers = set()
    for name, component in document.get("components", {}).items():
        container = executors.get(component.get("executorLabel", ""), {}).get("container", {})
        if LAUNCHER_MODULE in container.get("command", []):
            launchers.add(name)
    return {
        task_name: task["componentRef"]["name"]
        for task_name, task in document["root"]["dag"]["tasks"].items()
        if task["componentRef"]["name"] in launchers
    }


def resolve_custom_jobs(
    document: dict[str, Any], parameter_values: dict[str, Any], context: RunContext
) -> dict[str, Any]:
    """Task name -> the `aiplatform_v1.CustomJob` each CustomJob step of `document` would create."""
    return {
        task_name: resolve_custom_job(document, task_name, parameter_values, context)
        for task_name in custom_job_tasks(document)
    }


def resolve_custom_job(document: dict[str, Any], task_name: str, parameter_values: dict[str, Any], context: RunContext):
    from google.cloud import aiplatform_v1
    from google_cloud_pipeline_components.container.v1.custom_job import remote_runner
    from google_cloud_pipeline_components.container.v1.gcp_launcher.utils import (
        json_util,
    )

    task = document["root"]["dag"]["tasks"][task_name]
    component = document["components"][task["componentRef"]["name"]]
    container = document["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    payload_template = container["args"][container["args"].index("--payload") + 1]
    inputs = _task_inputs(document, task, component, parameter_values)
    task_uuid = f"dry-run-{task_name}"
    outputs = _output_artifacts(component, context, task_name, task_uuid)
    executor_input = _executor_input(
        component, inputs, outputs, document, task, parameter_values, context, task_name, task_uuid
    )
    values = {
        "pipeline_service_account": context.service_account,
        "pipeline_network": context.network,
        "pipeline_encryption_key_name": context.encryption_key,
        "pipeline_google_cloud_project_id": context.project,
        "pipeline_google_cloud_location": context.location,
        "pipeline_persistent_resource_id": context.persistent_resource_id,
        "pipeline_root": context.pipeline_root,
        "pipeline_job_uuid": context.job_uuid,
        "pipeline_task_uuid": task_uuid,
        "pipeline_task_name": task_name,
        "json_escape[1]": json.dumps(json.dumps(executor_input))[1:-1],
    }
    payload = _fill(payload_template, inputs, values)
    parent = (
        f"projects/{_fill_text(inputs.get('project', context.project), inputs, values)}/locations/"
        f"{_fill_text(inputs.get('location', context.location), inputs, values)}"
    )
    job_spec = json_util.recursive_remove_empty(
        json.loads(remote_runner.insert_system_labels_into_payload(payload), strict=False)
    )
    request = remote_runner.create_custom_job_with_client(_RequestRecorder(), parent, job_spec)
    return aiplatform_v1.CustomJob(request.custom_job)


class _RequestRecorder:
    """Stands in for the JobServiceClient: builds the request it would send, and sends nothing."""

    def create_custom_job(self, *, parent: str, custom_job: dict[str, Any]):
        from google.cloud import aiplatform_v1

        return aiplatform_v1.CreateCustomJobRequest(parent=parent, custom_job=custom_job)


def _integral(value: Any) -> Any:
    """Numbers as protobuf's JSON printer writes a Value's number: 100.0 becomes 100.

    The compiled YAML stores every number as a double; Vertex prints integral ones without a fraction,
    which integer fields (replica_count, boot_disk_size_gb) require.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


def _task_inputs(document, task, component, parameter_values) -> dict[str, Any]:
    """The step's input parameter values: its arguments, else the component's defaults."""
    root_parameters = document["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {
        name: spec["defaultValue"]
        for name, spec in component.get("inputDefinitions", {}).get("parameters", {}).items()
        if "defaultValue" in spec
    }
    for name, argument in task.get("inputs", {}).get("parameters", {}).items():
        if "componentInputParameter" in argument:
            source = argument["componentInputParameter"]
            if source in parameter_values:
                values[name] = parameter_values[source]
            elif "defaultValue" in root_parameters.get(source, {}):
                values[name] = root_parameters[source]["defaultValue"]
            else:
                raise ValueError(
                    f"pipeline parameter {source!r} has no default; give it a value (--param {source}=...)."
                )
        elif "runtimeValue" in argument:
            values[name] = argument["runtimeValue"]["constant"]
        else:
            raise ValueError(
                f"input {name!r} of step {task['taskInfo']['name']!r} comes from another step's output "
                f"({argument}); it is only known when the pipeline runs."
            )
    return _integral(values)


def _output_artifacts(component, context: RunContext, task_name: str, task_uuid: str) -> dict[str, Any]:
    run_dir = f"{context.pipeline_root.rstrip('/')}/{context.job_uuid}/{task_name}_{task_uuid}"
    return {
        name: {
            "artifacts": [
                {
                    "name": name,
                    "type": {"schemaTitle": spec["artifactType"]["schemaTitle"]},
                    "uri": f"{run_dir}/{name}",
                    "metadata": {},
                }
            ]
        }
        for name, spec in component.get("outputDefinitions", {}).get("artifacts", {}).items()
    }


def _executor_input(component, inputs, outputs, document, task, parameter_values, context, task_name, task_uuid):
    """The KFP executor input the job's container receives (only the trained component's own inputs)."""
    from google_cloud_pipeline_components.v1.custom_job import (
        component as gcpc_custom_job,
    )

    job_inputs = set(gcpc_custom_job.custom_training_job.component_spec.inputs)
    own = {
        name: value
        for name, value in inputs.items()
        if name not in job_inputs and not name.startswith("pipelinechannel--")
    }
    artifacts = {}
    for name, argument in task.get("inputs", {}).get("artifacts", {}).items():
        producer = argument.get("taskOutputArtifact", {}).get("producerTask", "")
        imported = document["root"]["dag"]["tasks"].get(producer, {})
        uri_argument = imported.get("inputs", {}).get("parameters", {}).get("uri", {})
        if "componentInputParameter" not in uri_argument:
            raise ValueError(
                f"input artifact {name!r} comes from step {producer!r}; only imported artifacts "
                f"(dsl.importer of a pipeline parameter) are known before the run."
            )
        uri = parameter_values.get(uri_argument["componentInputParameter"], "")
        artifacts[name] = {
            "artifacts": [{"name": name, "type": {"schemaTitle": "system.Model"}, "uri": uri, "metadata": {}}]
        }
    run_dir = f"{context.pipeline_root.rstrip('/')}/{context.job_uuid}/{task_name}_{task_uuid}"
    return {
        "inputs": {"parameterValues": own, "artifacts": artifacts},
        "outputs": {"artifacts": outputs, "outputFile": f"{run_dir}/executor_output.json"},
    }


def _fill(template: str, inputs: dict[str, Any], values: dict[str, str]) -> str:
    """Fills a JSON payload: input placeholders first (a value inside quotes is escaped, else dumped)."""

    def input_value(match: re.Match) -> str:
        name = match.group(1)
        if name not in inputs:
            raise ValueError(f"the payload names input {name!r}, which the step does not have.")
        value = inputs[name]
        quoted = template[match.start() - 1 : match.start()] == '"' and template[match.end() : match.end() + 1] == '"'
        if not quoted:
            return json.dumps(value)
        return json.dumps(value if isinstance(value, str) else json.dumps(value))[1:-1]

    filled = re.sub(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}", input_value, template)
    return _fill_text(filled, inputs, values, escape=True)


def _fill_text(text: str, inputs: dict[str, Any], values: dict[str, str], *, escape: bool = False) -> str:
    """Fills the placeholders left inside values (they sit within JSON strings when escape=True)."""
    for _ in range(10):
        if not _PLACEHOLDER.search(text):
            return text

        def one(match: re.Match) -> str:
            placeholder = match.group(0)
            named = _INPUT.match(placeholder)
            if named:
                value = inputs[named.group(1)]
                value = value if isinstance(value, str) else json.dumps(value)
            else:
                key = placeholder[len("{{$.") : -len("}}")]
                if key not in values:
                    raise ValueError(f"unknown Vertex placeholder {placeholder} in the payload.")
                value = values[key]
                if key == "json_escape[1]":
                    return value  # already escaped once for its place in a JSON string
            return json.dumps(value)[1:-1] if escape else value

        text = _PLACEHOLDER.sub(one, text)
    raise ValueError("placeholders in the payload refer to each other without end.")

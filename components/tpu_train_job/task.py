"""TPU train job: the Vertex CustomJob worker pool specs that run the train task on TPU nodes.

The pipeline step writes the TrainRequest as JSON next to an empty `model` artifact and returns worker
pool specs whose container runs `python -m components.train.task --config <json> --output-model-dir
<model uri>`; google-cloud-pipeline-components' CustomTrainingJobOp then runs them on the TPU VMs.
"""

from __future__ import annotations

from typing import Any

from components import images
from pipelines.tpu_machines import check_replica_count, runtime_env, worker_pool_spec
from pipelines.tpu_machines import resolve as resolve_tpu_machine

TRAIN_COMMAND = ["python", "-m", "components.train.task"]


def check_placement(*, machine_type: str, tpu_topology: str, replica_count: int, accelerator_type: str = ""):
    """The TpuMachine for this placement (pipelines.tpu_machines' table), or a ValueError saying the fix."""
    machine = resolve_tpu_machine(machine_type, tpu_topology or None, accelerator_type or None)
    check_replica_count(replica_count)
    return machine


def build_worker_pool_specs(
    *,
    image: str,
    machine_type: str,
    tpu_topology: str,
    config_uri: str,
    output_model_uri: str,
    replica_count: int = 1,
    accelerator_type: str = "",
) -> list[dict[str, Any]]:
    """One worker pool: one TPU VM of `machine_type` (see pipelines.tpu_machines) running the train task."""
    images.check_image(image)
    machine = check_placement(machine_type=machine_type, tpu_topology=tpu_topology, replica_count=replica_count,
                              accelerator_type=accelerator_type)
    for name, value in (("config_uri", config_uri), ("output_model_uri", output_model_uri)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be the URI of the job's {name.split('_')[0]}; received {name}={value!r}.")
    container_spec = {
        "image_uri": image,
        "command": list(TRAIN_COMMAND),
        "args": ["--config", config_uri, "--output-model-dir", output_model_uri],
        # PJRT on for TPU v5e, off for v2/v3, before TensorFlow loads (the image's defaults are v5e's).
        "env": [{"name": name, "value": value} for name, value in runtime_env(machine).items()],
    }
    return [worker_pool_spec(machine, container_spec, replica_count)]

"""TPU train job: the Vertex CustomJob worker pool specs that run the train task on TPU nodes.

The pipeline step writes the TrainRequest as JSON next to an empty `model` artifact and returns worker
pool specs whose container runs `python -m components.train.task --config <json> --output-model-dir
<model uri>`; google-cloud-pipeline-components' CustomTrainingJobOp then runs them on the TPU VMs.
"""

from __future__ import annotations

import re
from typing import Any

from components import images

_TOPOLOGY = re.compile(r"^\d+x\d+(x\d+)?$")
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9-]*$")
TRAIN_COMMAND = ["python", "-m", "components.train.task"]


def check_placement(*, machine_type: str, tpu_topology: str, replica_count: int) -> None:
    """Validates a TPU placement with messages naming Vertex's expected forms."""
    if not isinstance(machine_type, str) or not _MACHINE_TYPE.match(machine_type):
        raise ValueError(
            f"machine_type must be a Vertex machine type such as 'ct5lp-hightpu-4t' (TPU v5e) or "
            f"'ct6e-standard-4t' (TPU v6e); received machine_type={machine_type!r}."
        )
    if tpu_topology and not (isinstance(tpu_topology, str) and _TOPOLOGY.match(tpu_topology)):
        raise ValueError(
            f"tpu_topology must look like '2x2' or '2x2x1' (chips per dimension), or be empty for the machine "
            f"type's default; received tpu_topology={tpu_topology!r}."
        )
    if isinstance(replica_count, bool) or not isinstance(replica_count, int) or replica_count < 1:
        raise ValueError(f"replica_count must be an integer >= 1; received replica_count={replica_count!r}.")


def build_worker_pool_specs(
    *,
    image: str,
    machine_type: str,
    tpu_topology: str,
    config_uri: str,
    output_model_uri: str,
    replica_count: int = 1,
) -> list[dict[str, Any]]:
    """One worker pool: `replica_count` TPU VMs of `machine_type` running the train task in `image`."""
    images.check_image(image)
    check_placement(machine_type=machine_type, tpu_topology=tpu_topology, replica_count=replica_count)
    for name, value in (("config_uri", config_uri), ("output_model_uri", output_model_uri)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be the URI of the job's {name.split('_')[0]}; received {name}={value!r}.")
    machine_spec: dict[str, Any] = {"machine_type": machine_type}
    if tpu_topology:
        machine_spec["tpu_topology"] = tpu_topology
    return [
        {
            "machine_spec": machine_spec,
            "replica_count": replica_count,
            "container_spec": {
                "image_uri": image,
                "command": list(TRAIN_COMMAND),
                "args": ["--config", config_uri, "--output-model-dir", output_model_uri],
            },
        }
    ]

"""Where training runs on Vertex AI: a CustomJob on GPU machines or on TPU VMs.

The values here are compile-time checks and the defaults of the pipeline parameters (`machine_type`,
`tpu_topology`, `accelerator_type`, `accelerator_count`, `training_image`), so a run or a schedule can
change them without recompiling. The reservation is compile-time: it is a nested message that must be
left out entirely when unused.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..components import images
from . import tpu_machines

TARGETS = ("local", "gpu", "tpu")
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9-]*$")
_RESERVATION = re.compile(r"^projects/[^/]+/zones/[^/]+/reservations/[^/]+$")
RESERVATION_NAME_KEY = "compute.googleapis.com/reservation-name"


def check_machine_type(machine_type: str) -> str:
    if not isinstance(machine_type, str) or not _MACHINE_TYPE.match(machine_type):
        raise ValueError(
            f"machine_type must be a Vertex machine type such as 'ct5lp-hightpu-4t' (TPU v5e) or 'g2-standard-8' "
            f"(one NVIDIA L4); received machine_type={machine_type!r}."
        )
    return machine_type


def reservation_affinity(reservation: str) -> dict[str, Any] | None:
    """MachineSpec.reservation_affinity for '', 'any', 'none' or a reservation's full resource name."""
    if not reservation:
        return None
    if reservation == "any":
        return {"reservation_affinity_type": "ANY_RESERVATION"}
    if reservation == "none":
        return {"reservation_affinity_type": "NO_RESERVATION"}
    if isinstance(reservation, str) and _RESERVATION.match(reservation):
        return {"reservation_affinity_type": "SPECIFIC_RESERVATION", "key": RESERVATION_NAME_KEY,
                "values": [reservation]}
    raise ValueError(
        f"reservation must be '' (Vertex decides), 'any', 'none' or a reservation's resource name "
        f"'projects/PROJECT/zones/ZONE/reservations/NAME'; received reservation={reservation!r}."
    )


@dataclasses.dataclass(frozen=True)
class GpuPlacement:
    """The training CustomJob's GPU machines (the machine type must offer the accelerator).

    replica_count > 1 makes a multi-node job: a chief and replica_count - 1 workers on the same machine type,
    training one model with MultiWorkerMirroredStrategy (pipelines.training_job.worker_pool_specs).
    """

    machine_type: str = "n1-standard-8"
    accelerator_type: str = "NVIDIA_TESLA_T4"
    accelerator_count: int = 1
    replica_count: int = 1
    gpu_image: str = images.GPU_IMAGE
    reservation: str = ""

    @property
    def workers(self) -> int:
        return self.replica_count - 1

    def __post_init__(self) -> None:
        check_machine_type(self.machine_type)
        if not self.accelerator_type or not self.accelerator_type.replace("_", "").isalnum():
            raise ValueError(
                f"accelerator_type must be a Vertex accelerator name such as 'NVIDIA_TESLA_T4' or 'NVIDIA_L4'; "
                f"received accelerator_type={self.accelerator_type!r}."
            )
        count = self.accelerator_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"accelerator_count must be an integer >= 1; received {self.accelerator_count!r}.")
        if isinstance(self.replica_count, bool) or not isinstance(self.replica_count, int) or self.replica_count < 1:
            raise ValueError(
                f"replica_count must be an integer >= 1: the machines of the job, one chief (worker pool 0) "
                f"plus replica_count - 1 workers (pool 1); received replica_count={self.replica_count!r}."
            )
        images.check_image(self.gpu_image, name="gpu_image")
        reservation_affinity(self.reservation)


@dataclasses.dataclass(frozen=True)
class TpuPlacement:
    """A Vertex CustomJob worker pool of one TPU VM (pipelines.tpu_machines), and the TPU image.

    Examples: `ct5lp-hightpu-4t` + `2x2` (TPU v5e, 4 chips), `ct5lp-hightpu-8t` + `2x4`, `cloud-tpu` +
    accelerator_type `TPU_V3` (a v3-8).
    """

    machine_type: str = "ct5lp-hightpu-4t"
    tpu_topology: str = "2x2"
    replica_count: int = 1
    tpu_image: str = images.TPU_IMAGE
    iterations_per_loop: int = 100
    reservation: str = ""
    accelerator_type: str = ""

    def __post_init__(self) -> None:
        self.machine()
        tpu_machines.check_replica_count(self.replica_count)
        images.check_image(self.tpu_image, name="tpu_image")
        reservation_affinity(self.reservation)

    def machine(self) -> tpu_machines.TpuMachine:
        return tpu_machines.resolve(self.machine_type, self.tpu_topology or None, self.accelerator_type or None)

    @property
    def runtime_machine(self) -> bool:
        """v5e machines are chosen by machine type + topology, which can be pipeline parameters; TPU v2/v3
        (`cloud-tpu` + an accelerator enum and count) are compiled in."""
        return self.machine().machine_type != "cloud-tpu"


# CPU and memory limits of the CPU steps on Vertex (the default machine otherwise is e2-standard-4); the
# `train` entry applies to the local target, whose training is a plain step (gpu/tpu pick machine types).
DEFAULT_STEP_RESOURCES = {
    "train": ("8", "32G"), "evaluate": ("4", "16G"), "export": ("2", "8G"), "predict": ("4", "16G"),
    "gate-report": ("1", "2G"),
}
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(K|M|G|T|Ki|Mi|Gi|Ti)$")


def step_resources(overrides: dict[str, tuple[str, str]] | None = None) -> dict[str, tuple[str, str]]:
    """The (cpu_limit, memory_limit) of each step: the defaults, with `overrides` checked and applied."""
    merged = dict(DEFAULT_STEP_RESOURCES)
    for step, value in (overrides or {}).items():
        if step not in DEFAULT_STEP_RESOURCES:
            raise ValueError(f"step resources name a step of {sorted(DEFAULT_STEP_RESOURCES)}; received {step!r}.")
        cpu, memory = value
        if not _CPU.match(str(cpu)) or not _MEMORY.match(str(memory)):
            raise ValueError(
                f"resources of {step!r} must be (cpu, memory) such as ('4', '16G') or ('500m', '2Gi'); "
                f"received {value!r}."
            )
        merged[step] = (str(cpu), str(memory))
    return merged


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; received target={target!r}.")
    return target

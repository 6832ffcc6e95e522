"""Where training runs on Vertex AI: GPU (a pipeline step with accelerators) or TPU (a Vertex CustomJob)."""

from __future__ import annotations

import dataclasses

from components import images
from components.tpu_train_job.task import check_placement

TARGETS = ("local", "gpu", "tpu")


@dataclasses.dataclass(frozen=True)
class GpuPlacement:
    """Accelerators for the training step; Vertex picks a machine that has them."""

    accelerator_type: str = "NVIDIA_TESLA_T4"
    accelerator_count: int = 1
    cpu_limit: str = "8"
    memory_limit: str = "32G"

    def __post_init__(self) -> None:
        if not self.accelerator_type or not self.accelerator_type.replace("_", "").isalnum():
            raise ValueError(
                f"accelerator_type must be a Vertex accelerator name such as 'NVIDIA_TESLA_T4' or 'NVIDIA_L4'; "
                f"received accelerator_type={self.accelerator_type!r}."
            )
        if isinstance(self.accelerator_count, bool) or not isinstance(self.accelerator_count, int) or self.accelerator_count < 1:
            raise ValueError(f"accelerator_count must be an integer >= 1; received {self.accelerator_count!r}.")


@dataclasses.dataclass(frozen=True)
class TpuPlacement:
    """A Vertex CustomJob worker pool of TPU VMs: machine type, topology, replicas and the TPU image.

    Examples: `ct5lp-hightpu-4t` + `2x2` (TPU v5e, 4 chips), `ct5lp-hightpu-8t` + `2x4`, `cloud-tpu` +
    accelerator_type `TPU_V3` (a v3-8). The supported machines are pipelines.tpu_machines.TPU_MACHINES.
    """

    machine_type: str = "ct5lp-hightpu-4t"
    tpu_topology: str = "2x2"
    replica_count: int = 1
    tpu_image: str = images.TPU_IMAGE
    iterations_per_loop: int = 100
    accelerator_type: str = ""

    def __post_init__(self) -> None:
        check_placement(machine_type=self.machine_type, tpu_topology=self.tpu_topology, replica_count=self.replica_count,
                        accelerator_type=self.accelerator_type)
        images.check_image(self.tpu_image, name="tpu_image")


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; received target={target!r}.")
    return target

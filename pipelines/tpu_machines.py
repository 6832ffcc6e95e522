"""The Vertex AI TPU machines this library trains on with TensorFlow: one table, one lookup.

Why a table: Vertex names TPU machines in two unrelated ways (`cloud-tpu` + an accelerator enum for
TPU v2/v3, a `ct5lp-hightpu-*` machine type + a topology for TPU v5e), accepts machine types on which
TensorFlow cannot train (TPU v6e), and only fails after the VMs were provisioned. Checking here fails
on a CPU, before anything is paid for. Sources (docs/tpu.md, "Vertex TPU machines"):

- Vertex "Training with TPU accelerators": TensorFlow training runs on TPU v2, v3 and v5e VMs;
  "Starting with TPU v6e, TensorFlow isn't supported for training".
- Vertex REST `MachineSpec`: `accelerator_type` (TPU_V2, TPU_V3, ...), `accelerator_count`,
  `tpu_topology`; google-cloud-aiplatform's `CustomJob.from_local_script(tpu_topology=...)`:
  "This field is required for TPU v5 versions".
- Cloud TPU "TPU v5e": one TensorCore a chip; 1x1, 2x2 and 2x4 slices are one host (1, 4, 8 chips).
- Cloud TPU "TPU v2"/"TPU v3": two TensorCores a chip; a v2-8/v3-8 is one host with 8 TensorCores.

Only single-host machines are listed: TPUEstimator drives every core from one TensorFlow process on
one TPU VM, so a multi-host slice (a larger v5e topology, a v3-32 pod slice) would leave hosts idle
or unconnected. A TPU worker pool therefore has exactly one replica.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

VERTEX_TPU_GUIDE = "https://cloud.google.com/vertex-ai/docs/training/training-with-tpu-vm"
V6E_LIMITATION = "Starting with TPU v6e, TensorFlow isn't supported for training"
_TOPOLOGY_FORM = re.compile(r"^[1-9]\d*(x[1-9]\d*){1,2}$")


@dataclasses.dataclass(frozen=True)
class TpuMachine:
    """One TPU VM host Vertex can start for a TensorFlow training job.

    accelerator_count is what Vertex's MachineSpec counts for that machine (TensorCores for
    `cloud-tpu`, chips for v5e); `cores` is the number of TPU replicas TensorFlow sees.
    """

    machine_type: str
    accelerator_type: str
    accelerator_count: int
    tpu_topology: str
    cores: int
    generation: str

    @property
    def chips(self) -> int:
        return _chips(self.tpu_topology)

    def machine_spec(self) -> dict[str, Any]:
        """The worker pool's `machine_spec`, in the form Vertex documents for this generation.

        TPU v2/v3 are chosen by accelerator type and count on the `cloud-tpu` machine type; TPU v5e by
        machine type and the `tpu_topology` Vertex requires for v5 (the machine type fixes the chips).
        """
        if self.machine_type == "cloud-tpu":
            return {
                "machine_type": self.machine_type,
                "accelerator_type": self.accelerator_type,
                "accelerator_count": self.accelerator_count,
            }
        return {"machine_type": self.machine_type, "tpu_topology": self.tpu_topology}


TPU_MACHINES: tuple[TpuMachine, ...] = (
    TpuMachine("cloud-tpu", "TPU_V2", 8, "2x2", cores=8, generation="v2"),
    TpuMachine("cloud-tpu", "TPU_V3", 8, "2x2", cores=8, generation="v3"),
    TpuMachine("ct5lp-hightpu-1t", "TPU_V5_LITEPOD", 1, "1x1", cores=1, generation="v5e"),
    TpuMachine("ct5lp-hightpu-4t", "TPU_V5_LITEPOD", 4, "2x2", cores=4, generation="v5e"),
    TpuMachine("ct5lp-hightpu-8t", "TPU_V5_LITEPOD", 8, "2x4", cores=8, generation="v5e"),
)

# Machine-type prefixes of TPU generations Vertex offers but this library cannot train on, and why.
_REFUSED_PREFIXES: Mapping[str, str] = {
    "ct6e-": f"TPU v6e: Vertex's TPU guide says \"{V6E_LIMITATION}\" ({VERTEX_TPU_GUIDE})",
    "ct5p-": f"TPU v5p: not among the TPU VMs Vertex lists for TensorFlow training (v2, v3, v5e; {VERTEX_TPU_GUIDE})",
    "ct4p-": f"TPU v4: not among the TPU VMs Vertex lists for TensorFlow training (v2, v3, v5e; {VERTEX_TPU_GUIDE})",
}
_SUPPORTED_LIST = "; ".join(
    f"{m.machine_type}" + (f" + accelerator_type={m.accelerator_type}" if m.machine_type == "cloud-tpu" else
                           f" + tpu_topology={m.tpu_topology}")
    for m in TPU_MACHINES
)


def _chips(topology: str) -> int:
    count = 1
    for size in topology.split("x"):
        count *= int(size)
    return count


def _optional_str(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None; received {name}={value!r}.")
    return value.strip()


def resolve(machine_type: str, tpu_topology: str | None = None, accelerator_type: str | None = None) -> TpuMachine:
    """The table row for a requested TPU machine, or a ValueError naming the value, the rule and the fix.

    Refuses TPU v6e (Vertex: no TensorFlow training), v4/v5p and unknown machine types, a missing
    topology on v5e (Vertex requires it), a topology or accelerator that does not match the machine,
    and multi-host slices (one TensorFlow process drives one host here).
    """
    if not isinstance(machine_type, str) or not machine_type.strip():
        raise ValueError(
            f"machine_type must name a Vertex TPU machine such as 'ct5lp-hightpu-4t' or 'cloud-tpu'; "
            f"received machine_type={machine_type!r}. Supported: {_SUPPORTED_LIST}."
        )
    machine_type = machine_type.strip()
    tpu_topology = _optional_str("tpu_topology", tpu_topology)
    accelerator_type = _optional_str("accelerator_type", accelerator_type)

    for prefix, reason in _REFUSED_PREFIXES.items():
        if machine_type.startswith(prefix):
            raise ValueError(
                f"machine_type={machine_type!r} is refused: {reason}. Use one of: {_SUPPORTED_LIST}."
            )
    rows = [m for m in TPU_MACHINES if m.machine_type == machine_type]
    if not rows:
        raise ValueError(
            f"machine_type={machine_type!r} is not a Vertex TPU machine this library trains on with TensorFlow. "
            f"Use one of: {_SUPPORTED_LIST} (see {VERTEX_TPU_GUIDE})."
        )
    machine = _pick_accelerator(machine_type, rows, accelerator_type)
    _check_topology(machine, tpu_topology)
    return machine


def _pick_accelerator(machine_type: str, rows: list[TpuMachine], accelerator_type: str | None) -> TpuMachine:
    allowed = sorted({m.accelerator_type for m in rows})
    if machine_type == "cloud-tpu" and accelerator_type is None:
        raise ValueError(
            f"machine_type='cloud-tpu' needs accelerator_type to say which TPU: one of {allowed}; "
            f"received accelerator_type=None. Example: accelerator_type='TPU_V3' (a v3-8, 8 cores)."
        )
    if accelerator_type is None:
        return rows[0]
    for machine in rows:
        if machine.accelerator_type == accelerator_type:
            return machine
    if accelerator_type.startswith("TPU_V6"):
        raise ValueError(f"accelerator_type={accelerator_type!r} is refused: Vertex's TPU guide says "
                         f"\"{V6E_LIMITATION}\" ({VERTEX_TPU_GUIDE}).")
    raise ValueError(
        f"accelerator_type={accelerator_type!r} does not match machine_type={machine_type!r}, which takes "
        f"{' or '.join(allowed)}. TPU v5e is machine_type='ct5lp-hightpu-1t'/'-4t'/'-8t' with an empty "
        f"accelerator_type; v4/v5p are not supported (see {VERTEX_TPU_GUIDE})."
    )


def _check_topology(machine: TpuMachine, tpu_topology: str | None) -> None:
    name = machine.machine_type
    if tpu_topology is None:
        if machine.generation == "v5e":
            raise ValueError(
                f"tpu_topology is required for machine_type={name!r}: Vertex requires a topology for TPU v5e "
                f"machine types; received tpu_topology=None. Pass tpu_topology={machine.tpu_topology!r} "
                f"({machine.chips} chips on one host)."
            )
        return
    if not _TOPOLOGY_FORM.match(tpu_topology):
        raise ValueError(
            f"tpu_topology must be chips per dimension such as '2x2' or '2x4'; received tpu_topology={tpu_topology!r}."
        )
    if tpu_topology == machine.tpu_topology:
        return
    # Vertex builds multi-host v5e slices (2x4 over two VMs up to 16x16) from 4-chip hosts.
    if name == "ct5lp-hightpu-4t" and _chips(tpu_topology) > machine.chips:
        raise ValueError(
            f"tpu_topology={tpu_topology!r} on machine_type={name!r} is a multi-host slice "
            f"({_chips(tpu_topology)} chips over several TPU VMs); this library drives one TPU VM from one "
            f"TensorFlow process, so use tpu_topology={machine.tpu_topology!r} or 'ct5lp-hightpu-8t' with '2x4'."
        )
    raise ValueError(
        f"tpu_topology={tpu_topology!r} does not match machine_type={name!r}"
        + (f" accelerator_type={machine.accelerator_type!r}" if name == "cloud-tpu" else "")
        + f", which has {machine.chips} chips laid out as {machine.tpu_topology!r}; pass tpu_topology="
        f"{machine.tpu_topology!r}" + (" or leave it empty." if name == "cloud-tpu" else ".")
    )


def check_replica_count(replica_count: int) -> int:
    """A TPU worker pool runs one replica: one TPU VM host, driven by one TensorFlow process."""
    if isinstance(replica_count, bool) or not isinstance(replica_count, int) or replica_count != 1:
        raise ValueError(
            f"replica_count must be 1 for a TPU worker pool: Vertex provisions the TPU slice from the machine "
            f"type and topology, and TPUEstimator drives all of its cores from one process; more replicas would "
            f"start separate TPU VMs that train independently. received replica_count={replica_count!r}."
        )
    return replica_count


def worker_pool_spec(machine: TpuMachine, container_spec: Mapping[str, Any], replica_count: int = 1) -> dict[str, Any]:
    """One CustomJob worker pool of `machine` running `container_spec`."""
    if not isinstance(machine, TpuMachine):
        raise TypeError(f"machine must be a TpuMachine from tpu_machines.resolve(...); received {machine!r}.")
    return {
        "machine_spec": machine.machine_spec(),
        "replica_count": check_replica_count(replica_count),
        "container_spec": dict(container_spec),
    }


# Vertex's TPU guide, custom containers on TPU v5e: TensorFlow needs the PJRT runtime there, enabled by
# these variables with libtpu.so saved in /lib. TPU v2/v3 run TensorFlow's default (stream executor)
# runtime, so a job on them turns the variables off in case the image sets them.
LIBTPU_PATH = "/lib/libtpu.so"
PJRT_ON = {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "true", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": LIBTPU_PATH}
PJRT_OFF = {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "false", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": ""}


def uses_pjrt(machine: TpuMachine) -> bool:
    """TensorFlow on TPU v5e runs on PJRT (Vertex's TPU guide); v2/v3 on the stream executor runtime."""
    return machine.generation == "v5e"


def runtime_env(machine: TpuMachine) -> dict[str, str]:
    """Environment variables a container on `machine` needs before TensorFlow is imported."""
    return dict(PJRT_ON if uses_pjrt(machine) else PJRT_OFF)

"""What a stage reports: its status, the evidence of a TPU on this host, and errors as one short line."""

from __future__ import annotations

import glob
import importlib.util
import os
import stat
from typing import Any

# Stage outcomes. no_tpu is the expected outcome on a machine without TPU chips.
PASS, FAIL, NO_TPU, ERROR, TIMEOUT, CRASH = "pass", "fail", "no_tpu", "error", "timeout", "crash"
ENV_PREFIXES = ("TPU_", "LIBTPU", "NEXT_PLUGGABLE_DEVICE", "TF_PLUGGABLE_DEVICE", "TF_XLA", "XLA_FLAGS", "PJRT_",
                "CLOUD_ML_", "TF_CPP_MIN_LOG_LEVEL")


def tpu_device_files() -> list[str]:
    """TPU chips show up as /dev/accel* (v2-v4) or numbered /dev/vfio/* groups (v5e and later)."""
    return sorted(glob.glob("/dev/accel*") + [p for p in glob.glob("/dev/vfio/*") if os.path.basename(p).isdigit()])


def unusable_device_files(paths: list[str]) -> list[dict[str, Any]]:
    """The device files this process may not open for reading and writing, with their mode and owner.

    The images run as an unprivileged user; whether that user may open the TPU's device nodes depends on how
    the host and Vertex create them, which cannot be checked off a TPU. This turns a silent "no TPU found"
    from libtpu into a finding that names the file and its permissions.
    """
    unusable = []
    for path in paths:
        if os.access(path, os.R_OK | os.W_OK):
            continue
        try:
            status = os.stat(path)
        except OSError as error:
            unusable.append({"path": path, "error": str(error)})
            continue
        unusable.append({"path": path, "mode": stat.filemode(status.st_mode), "uid": status.st_uid,
                         "gid": status.st_gid})
    return unusable


def tpu_environment() -> dict[str, str]:
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}


def libtpu_paths() -> list[str]:
    """Every libtpu.so this process could load: /lib (Vertex's recipe), the libtpu package, TPU_LIBRARY_PATH."""
    paths = []
    for candidate in ("/lib/libtpu.so", os.environ.get("TPU_LIBRARY_PATH", "")):
        if candidate and os.path.isfile(candidate):
            paths.append(candidate)
    spec = importlib.util.find_spec("libtpu")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            paths.extend(sorted(glob.glob(os.path.join(location, "**", "libtpu*.so"), recursive=True)))
    return paths


def pjrt_requested() -> bool:
    return bool(os.environ.get("TF_PLUGGABLE_DEVICE_LIBRARY_PATH", ""))


def missing_pjrt_plugin() -> str | None:
    """TensorFlow's import fails when TF_PLUGGABLE_DEVICE_LIBRARY_PATH names a file that is not there."""
    path = os.environ.get("TF_PLUGGABLE_DEVICE_LIBRARY_PATH", "")
    if path and not os.path.isfile(path):
        return f"TF_PLUGGABLE_DEVICE_LIBRARY_PATH={path} does not exist (the image must save libtpu.so there)"
    return None


def one_line(error: BaseException) -> str:
    """TensorFlow's TPU errors carry registry dumps: the type and the first line say what happened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.endswith(":") and len(lines) > 1:  # "Graph execution error:" says nothing by itself
        first = f"{first} {lines[1]}"
    return f"{type(error).__name__}: {first[:500]}"


def result(stage: str, status: str, **details: Any) -> dict[str, Any]:
    return {"stage": stage, "status": status, **details}


def failed_without_tpu(stage: str, error: BaseException, **details: Any) -> dict[str, Any]:
    """A stage that raised: no_tpu when this host shows no TPU at all, else an error worth reading."""
    devices = tpu_device_files()
    status = ERROR if devices else NO_TPU
    return result(stage, status, error=one_line(error), tpu_device_files=devices, **details)


def checked(stage: str, checks: dict[str, bool], **details: Any) -> dict[str, Any]:
    """pass when every named check holds; fail names the ones that did not."""
    failed = [name for name, ok in checks.items() if not ok]
    if not failed:
        return result(stage, PASS, checks=checks, **details)
    if not tpu_device_files():
        return result(stage, NO_TPU, checks=checks, failed=failed, **details)
    return result(stage, FAIL, checks=checks, failed=failed, **details)

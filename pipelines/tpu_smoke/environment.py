"""Stage (a): what this host has: TensorFlow, libtpu, the accelerator, the TPU environment variables."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from . import probe

DISTRIBUTIONS = ("tensorflow", "tensorflow-tpu", "tensorflow-cpu", "libtpu", "libtpu-nightly", "protobuf", "keras",
                 "estimator-lib")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def run(expected_cores: int | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {
        "python": platform.python_version(),
        "distributions": {name: _version(name) for name in DISTRIBUTIONS},
        "libtpu_so": probe.libtpu_paths(),
        "tpu_device_files": probe.tpu_device_files(),
        "env": probe.tpu_environment(),
        "expected_cores": expected_cores,
    }
    unusable = probe.unusable_device_files(details["tpu_device_files"])
    if unusable:
        details["unusable_device_files"] = unusable
        first = unusable[0]
        return probe.result(
            "environment",
            probe.ERROR,
            error=f"this process (uid {os.getuid()}) may not open {first['path']} "
            f"({first.get('mode', first.get('error'))}, owner {first.get('uid')}:{first.get('gid')}), so libtpu "
            "cannot use the chips. The training image runs as the unprivileged user `estimator`; build the TPU "
            "image with `--build-arg RUN_AS=root` (containers/build_images.sh) or run the container privileged.",
            **details,
        )
    missing = probe.missing_pjrt_plugin()
    if missing:
        # TensorFlow cannot even be imported with this variable set; report it without importing.
        status = probe.ERROR if details["tpu_device_files"] else probe.NO_TPU
        return probe.result("environment", status, error=missing, **details)
    try:
        import tensorflow as tf

        details["tensorflow"] = tf.__version__
        details["physical_devices"] = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    except Exception as error:  # noqa: BLE001 - any import failure is the finding
        return probe.failed_without_tpu("environment", error, **details)
    has_tpu = bool(details["tpu_device_files"]) or any(d.startswith("TPU:") for d in details["physical_devices"])
    if not has_tpu:
        return probe.result("environment", probe.NO_TPU, error="no TPU chips on this host: no /dev/accel*, no "
                            "/dev/vfio device, no TPU in tf.config.list_physical_devices()", **details)
    return probe.result("environment", probe.PASS, **details)

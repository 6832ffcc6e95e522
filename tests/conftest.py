"""Shared test set-up: several virtual CPU devices so replica code runs for real."""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

NUM_VIRTUAL_CPUS = 4


def _configure_virtual_cpus() -> None:
    cpus = tf.config.list_physical_devices("CPU")
    # RuntimeError: the runtime was initialised already (another plugin imported TF first); keep what exists.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * NUM_VIRTUAL_CPUS
        )


_configure_virtual_cpus()

# The local GCS server (gcp-storage-emulator on 127.0.0.1) and the fault proxy, for every test that asks.
pytest_plugins = ["_gcs_server"]

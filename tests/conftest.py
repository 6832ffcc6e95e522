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


def _check_expected_tensorflow() -> None:
    """scripts/test.sh's TF 2.20 run sets ESTIMATOR_LIB_EXPECT_TF=2.20.: a venv that resolved another TensorFlow
    must stop the run, not pass it on the wrong version."""
    expected = os.environ.get("ESTIMATOR_LIB_EXPECT_TF")
    if expected and not tf.__version__.startswith(expected):
        raise RuntimeError(
            f"ESTIMATOR_LIB_EXPECT_TF={expected!r} but this interpreter imports TensorFlow {tf.__version__}; "
            "reinstall the venv with its constraints file (scripts/test.sh does) or unset the variable."
        )


_check_expected_tensorflow()

# The local GCS server (gcp-storage-emulator on 127.0.0.1) and the fault proxy, for every test that asks.
pytest_plugins = ["_gcs_server"]


def pytest_collection_modifyitems(config, items):
    """Tests marked slow run first (the order is otherwise kept).

    With several workers (scripts/test.sh runs pytest-xdist, one test file per worker at a time), the long
    files then start early and the short ones fill in around them, instead of one worker finishing a long
    file alone at the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

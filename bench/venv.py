"""The TF 2.15 + tensorflow-estimator 2.15 virtual environment for path (d), created once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_DIR = os.path.join(REPO_ROOT, ".venvs", "tf215-bench")
REQUIREMENTS = ("tensorflow-cpu==2.15.1", "tensorflow-estimator==2.15.0")
MARKER = "bench-ready.json"  # written only after the import check passed
CHECK = (
    "import tensorflow as tf, tensorflow_estimator; "
    "tf.estimator.Estimator; tf.compat.v1.estimator.tpu.TPUEstimator; print(tf.__version__)"
)


def venv_python(venv_dir: str = VENV_DIR) -> str:
    return os.path.join(venv_dir, "bin", "python")


def ensure_venv(venv_dir: str = VENV_DIR, create: bool = True, log=print) -> tuple[str | None, str]:
    """Returns (python of a working venv, message), or (None, why not) without raising.

    A venv is reused when its marker file exists. TF 2.15 publishes wheels for Python 3.9-3.11
    only, so on a newer interpreter the venv cannot be made and path (d) is skipped.
    """
    python = venv_python(venv_dir)
    marker = os.path.join(venv_dir, MARKER)
    if os.path.exists(marker) and os.path.exists(python):
        with open(marker) as f:
            return python, f"reusing {venv_dir} ({json.load(f).get('tensorflow', '?')})"
    if not create:
        return None, f"no ready venv at {venv_dir} and creation is disabled"
    if sys.version_info[:2] > (3, 11):
        return None, (
            f"TensorFlow 2.15 has no wheel for Python {sys.version_info.major}.{sys.version_info.minor}; "
            "run the benchmark with Python 3.9-3.11 to include the original tf.estimator"
        )
    log(f"creating {venv_dir} with {' '.join(REQUIREMENTS)} (once; a few minutes)")
    t0 = time.time()
    steps = (
        [sys.executable, "-m", "venv", venv_dir],
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *REQUIREMENTS],
    )
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return None, f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}"
    proc = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, env=_quiet_env())
    if proc.returncode != 0:
        return None, f"the venv does not import tf.estimator: {proc.stderr.strip()[-1500:]}"
    version = proc.stdout.strip().splitlines()[-1]
    with open(marker, "w") as f:
        json.dump({"tensorflow": version, "requirements": list(REQUIREMENTS)}, f)
    return python, f"created {venv_dir} (TF {version}) in {time.time() - t0:.0f} s"


def _quiet_env() -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return env

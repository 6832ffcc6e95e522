"""An upgraded tf.estimator script runs to completion on TF 2.21 with estimator_lib.

tests/migrate/data/runnable/train_script.py is ordinary tf.estimator code (it runs unchanged on TF 2.15
with tensorflow-estimator). The test upgrades it with the command and runs the result in a fresh
interpreter: train 8 steps, evaluate, predict and export a SavedModel. tpu_script.py does the same for
TPUEstimator code written against tf.compat.v1.estimator.tpu.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from estimator_lib.migrate.cli import main

SCRIPT_DIR = os.path.join(os.path.dirname(__file__), "data", "runnable")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def test_upgraded_script_trains_evaluates_predicts_and_exports(tmp_path, capsys):
    upgraded_dir = tmp_path / "upgraded"
    assert main([SCRIPT_DIR, "--check"]) == 1
    assert main([SCRIPT_DIR, "--output", str(upgraded_dir)]) == 0
    report = capsys.readouterr().out
    assert "0 use(s) to port by hand" in report
    script = upgraded_dir / "train_script.py"
    text = script.read_text()
    code = text.split('"""', 2)[2]  # after the module docstring, which still says "tf.estimator"
    assert "tf.estimator" not in code and "tensorflow.estimator" not in code
    assert "from estimator_lib import export as tf_export  # serving helpers" in text

    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    process = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "model"), str(tmp_path / "export")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["global_step"] == 8
    assert result["predictions"] == 64
    assert 0.0 <= result["accuracy"] <= 1.0
    assert os.path.exists(os.path.join(result["export"], "saved_model.pb"))


def test_upgraded_tpu_estimator_script_runs_on_cpu(tmp_path, capsys):
    """tf.compat.v1.estimator.tpu code (TPUEstimator, use_tpu=False, iterations_per_loop=2) after upgrade."""
    upgraded = tmp_path / "tpu_script.py"
    assert main([os.path.join(SCRIPT_DIR, "tpu_script.py"), "--output", str(upgraded)]) == 0
    assert "0 use(s) to port by hand" in capsys.readouterr().out
    assert "from estimator_lib import tpu\n" in upgraded.read_text()

    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    process = subprocess.run(
        [sys.executable, str(upgraded), str(tmp_path / "model")], capture_output=True, text=True, env=env, timeout=300
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["global_step"] == 6
    assert 0.0 <= result["accuracy"] <= 1.0

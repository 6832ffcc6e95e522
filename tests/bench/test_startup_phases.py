"""bench.startup_phases times every start-up phase it names (no timing checks: only that the timers fire)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("path", ["lib-est", "lib-tpu"])
def test_phases_and_their_timers_are_recorded(path):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.startup_phases", "--path", path, "--model", "tiny", "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    phases = json.loads(proc.stdout.strip().splitlines()[-1])["phases"]
    for name in ("train to first step", "evaluate 1", "evaluate 2", "predict to first batch"):
        timers = phases[name]
        assert {"(phase)", "model_fn", "input_fn", "Scaffold.finalize", "MonitoredSession()"} <= set(timers), name
        wall, cpu, calls = timers["(phase)"]
        assert wall > 0 and cpu > 0 and calls == 1
        assert timers["model_fn"][2] == 1  # the user's model_fn once per call
    assert "Saver restore" in phases["evaluate 1"] and "Saver save" in phases["train to first step"]


def test_compare_needs_a_path_or_compare():
    proc = subprocess.run([sys.executable, "-m", "bench.startup_phases"], cwd=REPO_ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO_ROOT), timeout=120)
    assert proc.returncode == 2 and "give --path or --compare" in proc.stderr

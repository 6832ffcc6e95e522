"""SIGTERM (preemption) at many moments of training: the step in flight finishes, a checkpoint is written and
mirrored, the process exits 143, and the next attempt resumes from exactly the step the killed one reached.

Runs tests/storage/_sigterm_job.py in a subprocess (Estimator with a CheckpointMirrorListener to the local
GCS server; TPUEstimator with iterations_per_loop=5 on 2 virtual CPU replicas). Run with -s for the figures;
SIGTERM_EXTRA_ROUNDS=N adds N kills at random moments (0-40 ms after a step is reported).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from estimator_lib.preemption import PREEMPTED_EXIT_CODE
from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint
from estimator_lib.storage.mirror import list_mirrored_checkpoints

JOB = os.path.join(os.path.dirname(__file__), "_sigterm_job.py")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTRA_ROUNDS = int(os.environ.get("SIGTERM_EXTRA_ROUNDS", "0"))


class Attempt:
    """One job process, sent SIGTERM when `moment(line)` first holds (never when moment is None)."""

    def __init__(self, kind, model_dir, max_steps, env, log_path, mirror=None, moment=None, delay=0.0):
        command = [sys.executable, JOB, kind, model_dir, str(max_steps)] + ([mirror] if mirror else [])
        with open(log_path, "a") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=REPO)
        watchdog = threading.Timer(240, process.kill)  # a hung job must not hang the suite
        watchdog.start()
        self.lines: list[str] = []
        self.terminated = False
        try:
            for line in process.stdout:
                self.lines.append(line.strip())
                if moment is not None and not self.terminated and moment(line.strip()):
                    if delay:
                        time.sleep(delay)
                    process.send_signal(signal.SIGTERM)
                    self.terminated = True
            process.wait(timeout=120)
        finally:
            watchdog.cancel()
        self.returncode = process.returncode

    def values(self, tag: str) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith(tag + " ")]

    @property
    def resumed_from(self) -> int:
        """The step training started from: the saver's start-up save of the restored (or initial) step."""
        return self.values("SAVING")[0]

    @property
    def last_step(self) -> int:
        """The furthest global step any run of this attempt completed."""
        return max(self.values("STEP") + self.values("SAVING") or [0])


def _on(tag, value=None):
    return lambda line: line.split()[0] == tag and (value is None or int(line.split()[1]) >= value)


def _env(extra=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(extra or {})
    return env


def _run_schedule(kind, model_dir, schedule, max_steps, env, log, mirror=None, client=None):
    figures = []
    previous_saved = 0
    for label, moment, delay in schedule:
        attempt = Attempt(kind, model_dir, max_steps, env, log, mirror, moment, delay)
        assert attempt.terminated, f"the job ended before the moment '{label}' (see {log})"
        assert attempt.returncode == PREEMPTED_EXIT_CODE, f"{label}: exit code {attempt.returncode}, see {log}"
        saved = checkpoint_step(find_restorable_checkpoint(model_dir))
        figure = {"moment": label, "resumed_from": attempt.resumed_from, "last_step_run": attempt.last_step,
                  "saved": saved, "steps_lost": attempt.last_step - saved}
        if mirror:
            figure["mirrored"] = max(step for step, _ in list_mirrored_checkpoints(mirror, client=client))
        figures.append(figure)
        # The attempt started where the previous one stopped, and lost nothing it had run.
        assert attempt.resumed_from == previous_saved, figure
        assert figure["steps_lost"] == 0, figure
        if mirror:
            assert figure["mirrored"] == saved, figure
        previous_saved = saved
    final = Attempt(kind, model_dir, max_steps, env, log, mirror)
    assert final.returncode == 0 and final.values("DONE") == [max_steps], f"see {log}"
    assert final.resumed_from == previous_saved
    print(f"\nSIGTERM FIGURES ({kind})")
    for figure in figures:
        print(figure)
    print(f"kills={len(figures)} steps_lost={[f['steps_lost'] for f in figures]} "
          f"max_steps_lost={max(f['steps_lost'] for f in figures)}")
    return figures


@pytest.mark.slow
def test_sigterm_estimator_saves_mirrors_and_resumes(gcs_emulator, gcs_bucket, gcs_client, tmp_path):
    rng = random.Random(1)
    schedule = [
        ("before the first step (graph built, session starting)", _on("READY"), 0.0),
        ("between saves", _on("STEP", 13), 0.0),
        ("inside a step (5 ms after one ended)", _on("STEP", 25), 0.005),
        ("during a periodic save", _on("SAVING", 40), 0.0),
        ("during the mirror upload of a save", _on("SAVED", 50), 0.0),
        ("during the start-up save of the restored step", _on("SAVING"), 0.0),
    ]
    for _ in range(EXTRA_ROUNDS):
        schedule.append(("random moment", _on("STEP", 1), rng.uniform(0.0, 0.04)))
    env = _env({"STORAGE_EMULATOR_HOST": gcs_emulator})
    figures = _run_schedule("estimator", str(tmp_path / "model"), schedule, 200, env, str(tmp_path / "jobs.log"),
                            mirror=f"gs://{gcs_bucket}/mirror", client=gcs_client)
    assert any(f["saved"] % 10 for f in figures), "some kills landed between periodic saves"


@pytest.mark.slow
def test_sigterm_tpu_estimator_finishes_the_loop(tmp_path):
    schedule = [
        ("before the first loop", _on("READY"), 0.0),
        ("between loops", _on("STEP", 15), 0.0),
        ("inside a loop (5 ms after one ended)", _on("STEP", 30), 0.005),
        ("during a periodic save", _on("SAVING", 60), 0.0),
    ]
    figures = _run_schedule("tpu", str(tmp_path / "model"), schedule, 200, _env(), str(tmp_path / "jobs.log"))
    for figure in figures:
        assert figure["saved"] % 5 == 0, f"a checkpoint mid-loop: {figure}"

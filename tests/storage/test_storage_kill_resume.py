"""Real faults during Estimator training: SIGKILL at chosen moments, a truncated newest checkpoint.

The kill test runs tests/storage/_kill_job.py (example_models.classifier under Estimator, with a
CheckpointMirrorListener to the local GCS server) in a subprocess, kills it with SIGKILL at several moments
(between saves, while re-saving the restored checkpoint at start-up, during a save, during the mirror upload,
during a save after a restore from the bucket),
restarts it, and checks that every restart resumes from the newest complete checkpoint. The figures are
printed (run with -s to see them).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig
from estimator_lib.storage import gcs
from estimator_lib.storage.checkpoint_scan import checkpoint_problem, checkpoint_step, find_restorable_checkpoint
from estimator_lib.storage.mirror import list_mirrored_checkpoints
from example_models import classifier

JOB = os.path.join(os.path.dirname(__file__), "_kill_job.py")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAVE_STEPS = 10


class Run:
    """One job process; `kill_when(line)` decides the moment to SIGKILL it (None: let it finish)."""

    def __init__(self, model_dir, mirror, env, log_path, max_steps, kill_when=None, delay=0.0):
        command = [sys.executable, JOB, model_dir, str(max_steps), str(SAVE_STEPS), mirror]
        with open(log_path, "a") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=REPO)
        self.lines: list[str] = []
        self.killed = False
        watchdog = threading.Timer(240, process.kill)  # a hung job must not hang the suite
        watchdog.start()
        try:
            self._follow(process, kill_when, delay)
        finally:
            watchdog.cancel()
        self.returncode = process.returncode
        assert self.killed or process.returncode == 0, f"job failed ({process.returncode}); see {log_path}"

    def _follow(self, process, kill_when, delay) -> None:
        for line in process.stdout:
            self.lines.append(line.strip())
            if kill_when is not None and kill_when(line.strip()):
                if delay:
                    time.sleep(delay)
                os.kill(process.pid, signal.SIGKILL)
                self.killed = True
                break
        self.lines += [line.strip() for line in process.stdout]  # what it wrote before dying
        process.wait(timeout=120)

    def values(self, tag: str) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith(tag + " ")]

    @property
    def first_step(self) -> int:
        """The global step the job started from: its first step, or its start-up save of the restored one."""
        return [int(line.split()[1]) for line in self.lines if line.startswith(("STEP ", "SAVING "))][0]

    @property
    def last_step(self) -> int:
        """The furthest global step the job reported (a step, or a save it began)."""
        return max(self.values("STEP") + self.values("SAVING"))

    @property
    def restored_step(self) -> int | None:
        tags = [line.split(" ", 1)[1] for line in self.lines if line.startswith("RESTORED ")]
        return None if not tags or tags[0] == "none" else checkpoint_step(tags[0])


def _at_step(n):
    return lambda line: line.startswith("STEP ") and int(line.split()[1]) >= n


def _on(tag, n):
    return lambda line: line == f"{tag} {n}"


class _NextSave:
    """Fires on the first save after the job's start (not the start-up re-save of the restored step)."""

    def __init__(self):
        self.start = None

    def __call__(self, line: str) -> bool:
        if not line.startswith(("STEP ", "SAVING ")):
            return False
        value = int(line.split()[1])
        if self.start is None:
            self.start = value
            return False
        return line.startswith("SAVING ") and value > self.start


# Extra kills with random delays after a save begins (e.g. STORAGE_KILL_EXTRA_ROUNDS=20), for a stress run
# outside CI; each adds about 6 s.
EXTRA_ROUNDS = int(os.environ.get("STORAGE_KILL_EXTRA_ROUNDS", "0"))


@pytest.mark.slow
def test_sigkill_at_many_moments_then_resume(gcs_emulator, gcs_bucket, gcs_client, tmp_path):
    env = {**os.environ, "STORAGE_EMULATOR_HOST": gcs_emulator, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    mirror = f"gs://{gcs_bucket}/mirror"
    log = str(tmp_path / "jobs.log")
    disk_a, disk_b = str(tmp_path / "a"), str(tmp_path / "b")
    # (model_dir, moment, delay): the fourth run starts on an empty disk and resumes from the bucket.
    schedule = [
        (disk_a, _at_step(13), 0.0, "between saves"),
        (disk_a, _on("SAVING", 10), 0.002, "while re-saving the restored checkpoint at start-up"),
        (disk_a, _on("SAVING", 20), 0.0, "while saving"),
        (disk_a, _on("SAVED", 30), 0.0, "while mirroring to the bucket"),
        (disk_b, _on("SAVING", 40), 0.003, "while saving, after a restore from the bucket"),
    ]
    rng = random.Random(0)
    for _ in range(EXTRA_ROUNDS):
        schedule.append((disk_b, _NextSave(), rng.uniform(0.0, 0.03), "random moment after a save begins"))
    max_steps = 60 + SAVE_STEPS * EXTRA_ROUNDS
    figures = []
    previous = None
    for model_dir, moment, delay, label in schedule:
        run = Run(model_dir, mirror, env, log, max_steps, kill_when=moment, delay=delay)
        assert run.killed, f"the job finished before the kill moment ({label})"
        if previous is not None:
            figures[-1]["resumed"] = run.first_step
        saved = run.values("SAVED")
        local_newest = find_restorable_checkpoint(model_dir)
        mirrored = [s for s, _ in list_mirrored_checkpoints(mirror, client=gcs_client)]
        figures.append({"moment": label, "killed_at_step": run.last_step, "last_saved": max(saved) if saved else None,
                        "newest_complete_local": checkpoint_step(local_newest) if local_newest else None,
                        "newest_committed_mirror": max(mirrored) if mirrored else None, "dir": model_dir})
        previous = run
    final = Run(disk_b, mirror, env, log, max_steps)
    figures[-1]["resumed"] = final.first_step
    assert final.values("DONE") == [max_steps]

    for index, figure in enumerate(figures):
        next_dir = schedule[index + 1][0] if index + 1 < len(schedule) else disk_b
        if next_dir == figure["dir"]:
            expected = figure["newest_complete_local"]
        else:  # a fresh machine: the newest checkpoint committed in the bucket
            expected = figure["newest_committed_mirror"]
        assert figure["resumed"] == expected, figure
        # Nothing saved (and recorded) before the kill is lost.
        if next_dir == figure["dir"] and figure["last_saved"] is not None:
            assert figure["resumed"] >= figure["last_saved"], figure
        figure["steps_lost"] = figure["killed_at_step"] - figure["resumed"]
        assert 0 <= figure["steps_lost"] <= 2 * SAVE_STEPS, figure

    # Every committed checkpoint in the bucket is whole and readable (nothing half-committed by a kill).
    committed = list_mirrored_checkpoints(mirror, client=gcs_client)
    assert committed[0][0] == max_steps
    for step, name in committed:
        target = str(tmp_path / f"verify-{step}")
        os.makedirs(target)
        manifest = gcs.read_manifest(mirror, marker_name=f"{name}._COMMITTED", client=gcs_client)
        gcs.download_files(manifest, mirror, target, client=gcs_client)
        reader = tf.train.load_checkpoint(os.path.join(target, name))
        assert reader.get_tensor("global_step") == step
    # And every checkpoint left on the last machine's disk reads cleanly.
    for prefix in tf.train.get_checkpoint_state(disk_b).all_model_checkpoint_paths:
        assert checkpoint_problem(prefix) is None, prefix
    print("\nKILL/RESUME FIGURES")
    for figure in figures:
        print({k: v for k, v in figure.items() if k != "dir"})
    print(f"kills={len(figures)} max_steps_lost={max(f['steps_lost'] for f in figures)} "
          f"committed_in_bucket={[s for s, _ in committed]}")


def _train_classifier(model_dir: str, max_steps: int) -> list[int]:
    """Trains in-process; returns the global steps seen by a hook (the first one is where it resumed)."""
    seen: list[int] = []

    class Record(tf.compat.v1.train.SessionRunHook):
        def begin(self):
            self._step = tf.compat.v1.train.get_global_step()

        def before_run(self, run_context):
            return tf.compat.v1.train.SessionRunArgs(self._step)

        def after_run(self, run_context, run_values):
            seen.append(int(run_values.results))

    config = RunConfig(save_checkpoints_steps=SAVE_STEPS, log_step_count_steps=0, save_summary_steps=0,
                       tf_random_seed=0)
    params = {"hidden_units": [8], "batch_size": 16, "n_examples": 256}
    estimator = Estimator(classifier.model_fn, model_dir=model_dir, config=config, params=params)
    estimator.train(classifier.input_fn, max_steps=max_steps, hooks=[Record()])
    return seen


def _truncate(path: str) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def test_truncated_newest_checkpoint_is_skipped(tmp_path, caplog):
    model_dir = str(tmp_path)
    _train_classifier(model_dir, 20)
    _truncate(os.path.join(model_dir, "model.ckpt-20.data-00000-of-00001"))
    config = RunConfig(log_step_count_steps=0)
    estimator = Estimator(classifier.model_fn, model_dir=model_dir, config=config,
                          params={"hidden_units": [8], "batch_size": 16, "n_examples": 256})
    with caplog.at_level(logging.WARNING, logger="estimator_lib.storage"):
        assert estimator.latest_checkpoint() == os.path.join(model_dir, "model.ckpt-10")
    assert "Skipping checkpoint" in caplog.text and "model.ckpt-20" in caplog.text
    metrics = estimator.evaluate(classifier.input_fn, steps=2)
    assert metrics["global_step"] == 10


def test_training_resumes_past_a_truncated_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    _train_classifier(model_dir, 20)
    _truncate(os.path.join(model_dir, "model.ckpt-20.data-00000-of-00001"))
    seen = _train_classifier(model_dir, 30)
    assert seen[0] == 10, "resumed from the previous, complete checkpoint"
    assert find_restorable_checkpoint(model_dir) == os.path.join(model_dir, "model.ckpt-30")

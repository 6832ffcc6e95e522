"""The train task as its container runs it (`python -m components.train.task`), sent SIGTERM mid-training:
it saves the step it reached, exits 143 (a failure the pipeline's retry policy re-runs), and the retried
command resumes there and stops at the same target step."""

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from components_testlib import MODEL_REF, TINY_PARAMS_JSON

from estimator_lib.preemption import PREEMPTED_EXIT_CODE
from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# As tf.estimator's, the progress line names the global step read before its run: "step = N" follows the run
# that took the step from N to N + 1, so N + 1 is the step it completed.
STEP_LINE = re.compile(r"INFO tensorflow: loss = \S+, step = (\d+)")
# The last SIGTERM lands at step 90; the retry then trains the rest, so this only needs headroom past 90.
TRAIN_STEPS = 120


def _attempt(model_dir, stop_after_step=None, delay=0.0, preempt=None, env_extra=None):
    """Runs the task; returns (exit code, the steps it completed in order, its output). Once the step
    `stop_after_step` is reported, `preempt(process)` runs (default: send it SIGTERM)."""
    command = [sys.executable, "-m", "estimator_kfp.components.train.task", "--model-ref", MODEL_REF, "--params-json",
               TINY_PARAMS_JSON, "--train-steps", str(TRAIN_STEPS), "--output-model-dir", model_dir,
               "--log-step-count-steps", "1"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env_extra or {})}
    preempt = preempt or (lambda process: process.send_signal(signal.SIGTERM))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    watchdog = threading.Timer(240, process.kill)
    watchdog.start()
    steps, text = [], []
    try:
        for line in process.stdout:
            text.append(line)
            match = STEP_LINE.search(line)
            if match:
                steps.append(int(match.group(1)) + 1)
                if stop_after_step is not None and steps[-1] >= stop_after_step:
                    if delay:
                        threading.Event().wait(delay)
                    preempt(process)
                    stop_after_step = None
        process.wait(timeout=120)
    finally:
        watchdog.cancel()
    return process.returncode, steps, "".join(text)


@pytest.mark.slow
def test_sigterm_saves_exits_143_and_the_retry_resumes(tmp_path):
    model_dir = str(tmp_path / "model")
    figures = []
    resumed_expected = None
    for stop_after, delay in ((1, 0.0), (40, 0.0), (90, 0.005)):
        code, steps, text = _attempt(model_dir, stop_after, delay)
        assert code == PREEMPTED_EXIT_CODE, text[-3000:]
        assert "Training was preempted (SIGTERM or a preemption notice)" in text
        saved = checkpoint_step(find_restorable_checkpoint(model_dir))
        if resumed_expected is not None:
            assert steps[0] == resumed_expected + 1, (steps[:3], resumed_expected)
        figures.append({"sigterm_after_step": stop_after, "last_step_run": steps[-1], "saved": saved,
                        "steps_lost": steps[-1] - saved})
        assert saved == steps[-1], figures
        resumed_expected = saved
    code, steps, text = _attempt(model_dir)
    assert code == 0, text[-3000:]
    assert steps[0] == resumed_expected + 1 and steps[-1] == TRAIN_STEPS
    assert f'"global_step": {TRAIN_STEPS}' in text
    print("\nTRAIN TASK SIGTERM FIGURES")
    for figure in figures:
        print(figure)


@pytest.mark.slow
def test_the_metadata_preemption_notice_makes_the_task_exit_143_and_the_retry_resumes(tmp_path):
    """The task process on a "spot VM": its metadata server (a real local one) turns instance/preempted TRUE."""
    from _metadata_server import MetadataServer, spot_vm_values

    from estimator_lib.metadata_notice import URL_ENV

    server = MetadataServer(spot_vm_values())
    model_dir = str(tmp_path / "model")
    env = {URL_ENV: server.url}
    try:
        code, steps, text = _attempt(model_dir, 20, preempt=lambda _: server.set("instance/preempted", "TRUE"),
                                     env_extra=env)
        assert code == PREEMPTED_EXIT_CODE, text[-3000:]
        assert "Preemption notice (metadata server: instance/preempted = TRUE)" in text
        saved = checkpoint_step(find_restorable_checkpoint(model_dir))
        assert saved == steps[-1] < TRAIN_STEPS  # the step reached is saved: 0 steps lost
        server.set("instance/preempted", "FALSE")  # the retry runs on a VM that is not being preempted
        code, resumed, text = _attempt(model_dir, env_extra=env)
        assert code == 0, text[-3000:]
        assert resumed[0] == saved + 1 and resumed[-1] == TRAIN_STEPS
    finally:
        server.close()
    print(f"\nTRAIN TASK METADATA NOTICE: notice after step 20, last step run {steps[-1]}, saved {saved}, "
          f"steps lost {steps[-1] - saved}; the retry resumed at {resumed[0]} and finished at {resumed[-1]}")

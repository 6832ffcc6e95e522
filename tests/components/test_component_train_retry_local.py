"""kfp.local honours `set_retry` (kfp 2.17.0, kfp/local/orchestrator/task_executor.py runs a task up to
max_retry_count + 1 times): a pipeline whose train step is sent SIGTERM mid-training sees the step exit 143,
retries it, and the retry resumes from the preemption checkpoint in the same `model` output and finishes."""

from __future__ import annotations

import glob
import os
import re
import signal
import threading
import time

import pytest
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from kfp import dsl, local

from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

TRAIN_STEPS = 3000  # a few seconds: the SIGTERM lands mid-training
STEP_LINE = re.compile(r"loss = \S+, step = (\d+)")  # "step = N" follows the run that completed step N + 1
ATTEMPT_LINE = re.compile(r"\[train\] model_ref=\S+ model_dir=(\S+) from step")
PREEMPTED_LINE = re.compile(r"Training was preempted .*checkpoint at global step (\d+)")


def _executor_pids() -> list[int]:
    """The Python processes below this one that run a KFP task's function (`kfp.dsl.executor_main`).

    kfp.local starts a lightweight component as `sh -c '... python3 -m kfp.dsl.executor_main ...'`; a SIGTERM
    to that shell would not reach the trainer, so the trainer itself is signalled, as a preempted VM's is.
    """
    parents, commands = {}, {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        pid = int(stat.split("/")[2])
        try:
            with open(stat) as handle:
                parents[pid] = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                commands[pid] = handle.read()
        except OSError:
            continue

    def descends_from_us(pid: int) -> bool:
        while pid in parents and pid > 1:
            pid = parents[pid]
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, command in commands.items()
            if b"kfp.dsl.executor_main" in command and b"sh\x00-c" not in command and descends_from_us(pid)]


def _sigterm_the_train_step_once(pipeline_root: str, done: threading.Event, sent: list) -> None:
    """Once the first attempt has saved its start-up checkpoint and trained on a little, SIGTERMs it."""
    while not done.is_set():
        if glob.glob(os.path.join(pipeline_root, "**", "model.ckpt-0.index"), recursive=True):
            time.sleep(0.2)  # let it train some steps
            children = _executor_pids()
            for pid in children:
                os.kill(pid, signal.SIGTERM)
            sent.extend(children)
            return
        time.sleep(0.02)


@pytest.mark.slow
def test_a_sigtermed_train_step_is_retried_by_kfp_local_and_resumes(tmp_path, capfd):
    from estimator_kfp.components.train.component import train_op

    @dsl.pipeline(name="train-retry")
    def train_retry():
        task = train_op(model_ref=MODEL_REF, params_json=TINY_PARAMS_JSON, train_steps=TRAIN_STEPS,
                        log_step_count_steps=1, save_checkpoints_secs=3600)
        task.set_retry(num_retries=1, backoff_duration="0s", backoff_factor=1.0)

    pipeline_root = str(tmp_path / "root")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    done, sent = threading.Event(), []
    killer = threading.Thread(target=_sigterm_the_train_step_once, args=(pipeline_root, done, sent), daemon=True)
    killer.start()
    try:
        train_retry()
    finally:
        done.set()
        killer.join(timeout=30)
    output = capfd.readouterr()
    text = output.out + output.err
    assert sent, "the train step was never sent SIGTERM"

    starts = [match.start() for match in ATTEMPT_LINE.finditer(text)]
    assert len(starts) == 2, text[-3000:]  # the SIGTERMed attempt and its retry
    first, second = text[starts[0]:starts[1]], text[starts[1]:]
    first_steps = [int(n) + 1 for n in STEP_LINE.findall(first)]
    second_steps = [int(n) + 1 for n in STEP_LINE.findall(second)]
    saved = int(PREEMPTED_LINE.search(first).group(1))
    assert saved == first_steps[-1] < TRAIN_STEPS  # the step reached was saved: 0 steps lost
    assert second_steps[0] == saved + 1 and second_steps[-1] == TRAIN_STEPS
    model_dir = ATTEMPT_LINE.search(second).group(1)
    assert model_dir == ATTEMPT_LINE.search(first).group(1)  # the retry writes the same `model` output
    assert checkpoint_step(find_restorable_checkpoint(model_dir)) == TRAIN_STEPS
    print(f"\nKFP.LOCAL RETRY: SIGTERM after step {first_steps[-1]}, saved {saved}, retry resumed at "
          f"{second_steps[0]} and finished at {second_steps[-1]}; steps lost: {first_steps[-1] - saved}")

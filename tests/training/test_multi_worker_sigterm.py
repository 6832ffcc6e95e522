"""SIGTERM to one trainer of a multi-worker (collective all-reduce) run: both trainers stop after the same
step, the chief saves it, both exit 143, and the restarted cluster resumes from that step.

The trainers agree through a max all-reduce of their preemption flags fetched with every step
(estimator_lib.preemption.PreemptionHook); without it the trainer still running would hang in its next
all-reduce.
"""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from testlib.processes import PORT_TAKEN, free_ports, python_env

from estimator_lib.preemption import PREEMPTED_EXIT_CODE
from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_SECS = 180


class Trainer:
    """One task process; a reader thread collects its lines and sends it SIGTERM when `moment` holds."""

    def __init__(self, task_type, cluster, model_dir, max_steps, log_path, moment=None):
        env = python_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": task_type, "index": 0}}))
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed once the process has ended
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "mw_sigterm_task.py"), model_dir, str(max_steps)],
            env=env, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        self.lines = []
        self.terminated = False
        self._moment = moment
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.strip())
            if self._moment is not None and not self.terminated and self._moment(line.strip()):
                self.process.send_signal(signal.SIGTERM)
                self.terminated = True

    def wait(self):
        try:
            self.process.wait(timeout=TIMEOUT_SECS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=10)
            self._log.close()
        return self.process.returncode

    def values(self, tag):
        return [int(line.split()[1]) for line in self.lines if line.startswith(tag + " ")]

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()


def _at_step(step):
    return lambda line: line.startswith("STEP ") and int(line.split()[1]) >= step


def _run_cluster(run_dir, model_dir, max_steps, moments):
    for attempt in range(2):
        chief_port, worker_port = free_ports(2)
        cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
        trainers = {
            task: Trainer(
                task, cluster, model_dir, max_steps, str(run_dir / f"{task}-{attempt}.log"), moments.get(task)
            )
            for task in ("chief", "worker")
        }
        codes = {task: trainer.wait() for task, trainer in trainers.items()}
        taken = any(PORT_TAKEN in trainer.log_text() for trainer in trainers.values())
        if attempt == 0 and taken and any(code not in (0, PREEMPTED_EXIT_CODE) for code in codes.values()):
            continue  # a picked port was taken before the server bound it: retry once on new ports
        return trainers, codes
    return trainers, codes


@pytest.mark.slow
def test_sigterm_to_one_trainer_stops_both_at_the_same_step(tmp_path):
    model_dir = str(tmp_path / "model")
    max_steps = 400
    figures = []
    previous_saved = 0
    # SIGTERM to the chief only, then to the worker only: either way both must stop together.
    for target, step in (("chief", 12), ("worker", 27)):
        trainers, codes = _run_cluster(tmp_path, model_dir, max_steps, {target: _at_step(step)})
        tails = {task: trainer.log_text()[-3000:] for task, trainer in trainers.items()}
        assert trainers[target].terminated, tails
        assert codes == {"chief": PREEMPTED_EXIT_CODE, "worker": PREEMPTED_EXIT_CODE}, (codes, tails)
        chief_last, worker_last = max(trainers["chief"].values("STEP")), max(trainers["worker"].values("STEP"))
        saved = checkpoint_step(find_restorable_checkpoint(model_dir))
        resumed = trainers["chief"].values("SAVING")[0]
        figures.append(
            {
                "sigterm_to": target,
                "resumed_from": resumed,
                "chief_last_step": chief_last,
                "worker_last_step": worker_last,
                "saved": saved,
                "steps_lost": chief_last - saved,
            }
        )
        assert resumed == previous_saved, figures
        assert chief_last == worker_last == saved, figures
        previous_saved = saved
    trainers, codes = _run_cluster(tmp_path, model_dir, 60, {})
    assert codes == {"chief": 0, "worker": 0}, {t: tr.log_text()[-3000:] for t, tr in trainers.items()}
    assert trainers["chief"].values("SAVING")[0] == previous_saved
    assert checkpoint_step(find_restorable_checkpoint(model_dir)) == 60
    print("\nMULTI-WORKER SIGTERM FIGURES")
    for figure in figures:
        print(figure)

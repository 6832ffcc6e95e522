"""Real multi-worker train_and_evaluate: chief, worker and evaluator processes on 127.0.0.1 ports.

The chief and the worker train one model with a collective all-reduce strategy in graph mode; the
evaluator follows the chief's checkpoints and exports. At the end the chief's checkpoint and the
worker's own copy (in its scratch dir) must hold the same variables at the same step. The second case
stops training with an early-stopping hook (both trainers must agree on the step, or the all-reduce of
the one still running hangs) and the evaluator must notice that the chief finished before max_steps.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from testlib.processes import PORT_TAKEN, free_ports, python_env

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_STEPS = 20
TIMEOUT_SECS = 150


def _start(task_type, cluster, model_dir, log_path, max_steps, early):
    env = python_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": task_type, "index": 0}}))
    log = open(log_path, "w")  # noqa: SIM115 - the caller closes it once the process has ended
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "mw_task.py"), model_dir, str(max_steps)] + (["early"] if early else []),
        env=env, stdout=log, stderr=subprocess.STDOUT,
    ), log


def _wait_all_or_first_failure(procs):
    """Waits for every process, but stops at the first failure: the others would wait for it forever."""
    deadline = time.monotonic() + TIMEOUT_SECS
    while time.monotonic() < deadline:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
            return
        time.sleep(0.5)


def _result(log_path):
    with open(log_path) as f:
        text = f.read()
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT in {log_path}:\n{text[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def _run_cluster(run_dir, max_steps, early):
    """Starts chief, worker and evaluator; returns {task: (process, log)} once all ended (or one failed)."""
    chief_port, worker_port = free_ports(2)
    cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
    model_dir = str(run_dir / "model")
    procs = {
        t: _start(t, cluster, model_dir, str(run_dir / f"{t}.log"), max_steps, early)
        for t in ("chief", "worker", "evaluator")
    }
    try:
        _wait_all_or_first_failure([proc for proc, _ in procs.values()])
    finally:
        for proc, log in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return procs


@pytest.mark.slow
@pytest.mark.parametrize("early", [False, True], ids=["max_steps", "early_stopping"])
def test_chief_worker_and_evaluator(tmp_path, early):
    max_steps = 10**6 if early else MAX_STEPS
    for attempt in range(2):
        run_dir = tmp_path / f"attempt{attempt}"
        run_dir.mkdir()
        procs = _run_cluster(run_dir, max_steps, early)
        failed = [t for t, (proc, _) in procs.items() if proc.returncode != 0]
        logs = {t: (run_dir / f"{t}.log").read_text() for t in procs}
        # Another process may take a picked port before the task's server binds it (the ports cannot stay
        # reserved: TensorFlow's server does not share ports). Only that is retried, once, on new ports.
        if failed and any(PORT_TAKEN in logs[t] for t in failed) and attempt == 0:
            continue
        break
    if failed:
        pytest.fail(
            f"{failed} exited with an error; log tails: "
            + json.dumps({t: text[-4000:] for t, text in logs.items()}, indent=1)
        )
    model_dir = str(run_dir / "model")
    results = {t: _result(str(run_dir / f"{t}.log")) for t in procs}

    # Trainers do not evaluate; the evaluator evaluated the final checkpoint and exported it.
    assert results["chief"]["metrics"] is None and results["worker"]["metrics"] is None
    final_step = results["evaluator"]["metrics"]["global_step"]
    assert final_step == MAX_STEPS if not early else 0 < final_step < max_steps
    export = results["evaluator"]["exports"][0]
    assert os.path.exists(os.path.join(export, "saved_model.pb"))

    # One consistent checkpoint: the chief's final checkpoint equals the worker's own copy.
    chief_ckpt = tf.train.latest_checkpoint(model_dir)
    assert chief_ckpt.endswith(f"-{final_step}")
    chief, worker = tf.train.load_checkpoint(chief_ckpt), results["worker"]["worker_checkpoint"]
    assert chief.get_tensor("global_step") == worker["global_step"] == final_step
    np.testing.assert_array_equal(chief.get_tensor("w"), np.array(worker["w"], dtype=np.float32))
    assert np.abs(chief.get_tensor("w")).sum() > 0  # it did train
    # Only the chief wrote into model_dir: no worker checkpoints or scratch dirs there.
    assert not [n for n in os.listdir(model_dir) if n.startswith("tmp_")]

"""A train_and_evaluate process killed with SIGKILL mid-way, then started again on the same model_dir."""

import json
import os
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from testlib.processes import python_env

from estimator_lib.checkpoints import latest_checkpoint
from estimator_lib.exporters import complete_exports
from estimator_lib.training.eval_events import read_eval_results

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(model_dir, kill_at):
    env = python_env(TF_CONFIG=None)
    return subprocess.run(
        [sys.executable, os.path.join(HERE, "restart_task.py"), model_dir, str(kill_at)],
        env=env, capture_output=True, text=True, timeout=180,
    )


@pytest.mark.slow
def test_killed_job_resumes_and_keeps_the_best_export(tmp_path):
    model_dir = str(tmp_path / "model")
    best_dir = os.path.join(model_dir, "export", "best")

    first = _run(model_dir, kill_at=25)
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    # Checkpoints 10 and 20 were written and evaluated; the first (highest loss, 'best' under the inverted
    # compare_fn) was exported. What the crash left is loadable and complete.
    checkpoint = latest_checkpoint(model_dir)
    assert checkpoint.endswith("model.ckpt-20")
    assert tf.train.load_checkpoint(checkpoint).get_tensor("global_step") == 20
    assert sorted(read_eval_results(os.path.join(model_dir, "eval", "*.tfevents.*"))) == [10, 20]
    best_before = complete_exports(best_dir)
    assert len(best_before) == 1

    second = _run(model_dir, kill_at=0)
    assert second.returncode == 0, second.stderr[-3000:]
    result = json.loads(
        [line for line in second.stdout.splitlines() if line.startswith("RESULT ")][-1][len("RESULT ") :]
    )
    assert result["start"].endswith("model.ckpt-20")  # resumed from the last checkpoint, not from scratch
    assert result["metrics"]["global_step"] == 50
    assert sorted(read_eval_results(os.path.join(model_dir, "eval", "*.tfevents.*"))) == [10, 20, 30, 40, 50]
    # Every later model is worse under compare_fn: the restarted BestExporter read the best result back from
    # the event files and exported nothing new.
    assert complete_exports(best_dir) == best_before
    assert not [p for p in result["exports"] if p.startswith(best_dir)]
    # The latest exporter kept going: its newest export is of the final model.
    assert len(complete_exports(os.path.join(model_dir, "export", "latest"))) == 2

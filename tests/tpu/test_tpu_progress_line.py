"""The step in TPUEstimator's progress line (`loss = ..., step = N`), as the original logged it.

On a TPU the original logged the global step read after the run (a LoggingTensorHook on an identity of the
global step behind the loss, tensorflow/estimator r2.15 tpu_estimator.py), so `step = 1` after the first
one-step run. Off the TPU it trained as the Estimator and logged the step read before the run (`step = 0`).
"""

from __future__ import annotations

import logging

import pytest
import tensorflow as tf
from tpu_graph_testlib import CaptureGraphHook, GraphCaptured, fake_tpu_strategy
from tpu_testlib import estimator, model_fn_list, train_input_fn

from estimator_lib import training_hooks
from estimator_lib.tpu import RunConfig, TPUConfig, TPUEstimator

v1 = tf.compat.v1


def _logged_steps(caplog) -> list[int]:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loss = ")]
    return [int(line.split("step = ")[1].split()[0]) for line in lines]


@pytest.mark.parametrize(
    "replicas, use_tpu, loop, expected",
    [
        (2, True, 1, [1, 3, 5]),  # the TPU run: the step after each run
        (1, False, 1, [0, 2, 4]),  # off the TPU: the Estimator's line, the step before the run
        (2, True, 2, [2, 4, 6]),  # a loop: the step after it, on or off the TPU
        (1, False, 2, [2, 4, 6]),
    ],
)
def test_progress_line_step(tmp_path, caplog, replicas, use_tpu, loop, expected):
    est = estimator(model_fn_list, str(tmp_path), replicas=replicas, use_tpu=use_tpu, iterations_per_loop=loop,
                    config_kwargs={"log_step_count_steps": 2})
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        est.train(train_input_fn, max_steps=6)
    assert _logged_steps(caplog) == expected


def test_on_a_tpu_the_progress_line_fetches_the_step_read_after_the_run(tmp_path, monkeypatch):
    """The same choice on the real TPU graph (4 cores, built without a TPU): the logged step tensor is the
    read ordered after the train op, not that read minus one."""
    logged = []

    class RecordingStepLogHook(training_hooks.StepLogHook):
        def __init__(self, loss, global_step, *args, **kwargs):
            logged.append(global_step)
            super().__init__(loss, global_step, *args, **kwargs)

    monkeypatch.setattr(training_hooks, "StepLogHook", RecordingStepLogHook)
    config = RunConfig(model_dir=str(tmp_path), train_distribute=fake_tpu_strategy(4), save_summary_steps=0,
                       tpu_config=TPUConfig(iterations_per_loop=1))
    est = TPUEstimator(model_fn_list, config=config, use_tpu=True, train_batch_size=16)
    with pytest.raises(GraphCaptured):
        est.train(train_input_fn, max_steps=2, hooks=[CaptureGraphHook()])
    assert len(logged) == 1 and logged[0].op.name == "global_step_after_run"

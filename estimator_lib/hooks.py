"""The standard session hooks users import from `tf.estimator`, re-exported, plus our own.

They are TensorFlow's own `tf.compat.v1.train` classes, so hooks written for the original Estimator
keep working unchanged.
"""

from __future__ import annotations

import math
import time

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

SessionRunHook = v1.train.SessionRunHook
SessionRunArgs = v1.train.SessionRunArgs
SessionRunContext = v1.train.SessionRunContext
SessionRunValues = v1.train.SessionRunValues
CheckpointSaverListener = v1.train.CheckpointSaverListener
CheckpointSaverHook = v1.train.CheckpointSaverHook
StopAtStepHook = v1.train.StopAtStepHook
LoggingTensorHook = v1.train.LoggingTensorHook
StepCounterHook = v1.train.StepCounterHook
SummarySaverHook = v1.train.SummarySaverHook
NanTensorHook = v1.train.NanTensorHook
NanLossDuringTrainingError = v1.train.NanLossDuringTrainingError
FeedFnHook = v1.train.FeedFnHook
ProfilerHook = v1.train.ProfilerHook
FinalOpsHook = v1.train.FinalOpsHook
GlobalStepWaiterHook = v1.train.GlobalStepWaiterHook


class NanLossHook(SessionRunHook):
    """Stops training with NanLossDuringTrainingError naming the step, when the loss becomes NaN or Inf.

    It fetches only the loss on each run; the step is read once, when there is something to report.
    """

    def __init__(self, loss: tf.Tensor, global_step: tf.Variable | None = None):
        self._loss = loss
        self._global_step = global_step
        self._request = SessionRunArgs(loss)  # the same request every run: built once
        self.last_loss = None

    def begin(self):
        if self._global_step is None:
            self._global_step = v1.train.get_global_step()

    def before_run(self, run_context):
        return self._request

    def after_run(self, run_context, run_values):
        loss = self.last_loss = run_values.results
        if not _all_finite(loss):
            step = run_context.session.run(self._global_step)
            raise _nan_error(loss, step)


def _all_finite(value) -> bool:
    """math.isfinite for the usual scalar loss (a few times cheaper than numpy's ufuncs), numpy otherwise."""
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value)
    return bool(np.all(np.isfinite(value)))


class _NanLossError(NanLossDuringTrainingError):
    """TensorFlow's class prints a fixed text; this one says at which step and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self._message = message

    def __str__(self) -> str:
        return self._message


def _nan_error(loss, step) -> Exception:
    return _NanLossError(
        f"Loss is {loss} at global step {step}: training stopped and the step was not checkpointed. "
        "Lower the learning rate, clip gradients or check the input for NaN/Inf values."
    )


class StepLogHook(SessionRunHook):
    """Logs loss, global step and steps/sec every `every_n_steps` steps (the Estimator's progress line),
    and writes `global_step/sec` to TensorBoard when given a summary directory.

    It adds fetches only to the runs it logs after (every ceil(every_n_steps / steps_per_run) runs),
    so the runs in between cost nothing extra.
    """

    def __init__(self, loss: tf.Tensor, global_step: tf.Tensor, every_n_steps: int, summary_dir: str | None = None,
                 steps_per_run: int = 1):
        self._loss = loss
        self._global_step = global_step
        self._every_n_steps = every_n_steps
        self._summary_dir = summary_dir
        self._runs_between_logs = max(1, -(-every_n_steps // max(steps_per_run, 1)))
        self._runs_since_log = 0
        self._last_step = None
        self._last_time = None

    def before_run(self, run_context):
        self._runs_since_log += 1
        if self._last_step is None or self._runs_since_log >= self._runs_between_logs:
            return SessionRunArgs({"loss": self._loss, "step": self._global_step})
        return None

    def after_run(self, run_context, run_values):
        if run_values.results is None:
            return
        step = int(run_values.results["step"])
        loss = run_values.results["loss"]
        now = time.time()
        self._runs_since_log = 0
        if self._last_step is None:
            self._last_step, self._last_time = step, now
            tf.get_logger().info("loss = %s, step = %d", loss, step)
            return
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        tf.get_logger().info("loss = %s, step = %d (%.3f steps/sec)", loss, step, rate)
        if self._summary_dir is not None:
            summary = v1.Summary(value=[v1.Summary.Value(tag="global_step/sec", simple_value=rate)])
            v1.summary.FileWriterCache.get(self._summary_dir).add_summary(summary, step)
        self._last_step, self._last_time = step, now

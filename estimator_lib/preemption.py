"""Preemption: on SIGTERM, finish the step in flight, checkpoint, and exit with "preempted, retry".

Vertex AI, GKE and spot/preemptible VMs and TPUs send SIGTERM and, after a grace period, SIGKILL.
TensorFlow's default reaction to SIGTERM is to die at once, losing every step since the last periodic
checkpoint. While `Estimator.train` runs, `sigterm_notice()` replaces that with a flag; `PreemptionHook`
reads it after each `session.run` (one step, or one loop of `iterations_per_loop` steps) and asks the
monitored session to stop. Stopping runs the hooks' `end()`: the checkpoint saver writes the final step
and calls its listeners (the bucket mirror), as at the normal end of training. `train()` then raises
`TrainingPreempted`, a `SystemExit` with code 143 (128 + SIGTERM, the code TensorFlow's own
`PreemptionCheckpointHandler` exits with on GCE, `failure_handling_util.gce_exit_fn`), so the process
ends with a failure status that a retrying orchestrator (KFP `set_retry`, Vertex custom job restarts)
re-runs; the next attempt resumes from the checkpoint.

On Compute Engine (or where ESTIMATOR_LIB_METADATA_URL points) the metadata server's preemption notice sets
the same flag (`estimator_lib.metadata_notice`); a flag set before the first step stops training before it.

Multi-worker collective training must stop every worker at the same step or the all-reduce of the ones
still running hangs. There the hook feeds its local flag into a max all-reduce fetched with every
training step (`multi_worker.agreement_op`): when any worker has been told to stop, all stop after the
same step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from estimator_lib.distribute import multi_worker

PREEMPTED_EXIT_CODE = 143  # 128 + SIGTERM; TensorFlow's _RESTARTABLE_EXIT_CODE for GCE


class TrainingPreempted(SystemExit):
    """Training stopped on a termination notice after saving a checkpoint; the process should exit and be
    retried. A `SystemExit`, so it ends the process with PREEMPTED_EXIT_CODE unless the caller catches it."""

    def __init__(self, model_dir: str, global_step: int | None):
        super().__init__(PREEMPTED_EXIT_CODE)
        self.model_dir = model_dir
        self.global_step = global_step

    def __str__(self) -> str:
        return (
            f"Training was preempted (SIGTERM or a preemption notice); a checkpoint at global step "
            f"{self.global_step} is in {self.model_dir}. Exiting with code {PREEMPTED_EXIT_CODE} so the "
            "orchestrator retries; the next attempt resumes from that checkpoint."
        )


def preempted(model_dir: str, global_step: int | None) -> TrainingPreempted:
    """The exception to raise after a preemption checkpoint, logged (an uncaught SystemExit prints nothing)."""
    error = TrainingPreempted(model_dir, global_step)
    tf.get_logger().warning("%s", error)
    return error


class PreemptionNotice:
    """A flag set by the SIGTERM handler (or by `request()`, e.g. from a platform's preemption notice)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self, reason: str = "requested") -> None:
        if not self._event.is_set():
            tf.get_logger().warning("Preemption notice (%s): stopping after the step in flight to save a checkpoint.",
                                    reason)
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


_active: list[PreemptionNotice] = []  # the notice of the innermost sigterm_notice() block


@contextlib.contextmanager
def sigterm_notice() -> Iterator[PreemptionNotice]:
    """Within the block, SIGTERM (or GCE's metadata preemption notice, `estimator_lib.metadata_notice`) sets
    the returned notice instead of killing the process.

    Python runs signal handlers only in the main thread, between bytecodes: a SIGTERM during a
    `session.run` is handled when the run returns, so the step in flight completes. Outside the main
    thread (no handler can be installed) the notice still works through `request()`. Nested blocks share
    the outer notice. The previous handler is restored at the end.
    """
    if _active:
        yield _active[-1]
        return
    from estimator_lib import metadata_notice

    notice = PreemptionNotice()
    watcher = metadata_notice.start_watching(notice)  # GCE's preemption notice, when there is a metadata server
    try:
        if threading.current_thread() is not threading.main_thread():
            tf.get_logger().info("Not in the main thread: SIGTERM keeps its default action during training.")
            _active.append(notice)
            try:
                yield notice
            finally:
                _active.pop()
            return

        def on_sigterm(signum, frame):  # noqa: ARG001 - the signal module's signature
            notice.request("SIGTERM")

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        _active.append(notice)
        try:
            yield notice
        finally:
            _active.pop()
            signal.signal(signal.SIGTERM, previous)
    finally:
        if watcher is not None:
            watcher.stop()


class PreemptionHook(tf.compat.v1.train.SessionRunHook):
    """Stops training after the run in which a preemption notice arrived (on every worker at once)."""

    def __init__(self, notice: PreemptionNotice, config: Any):
        self._notice = notice
        self._config = config
        self._agreement = None
        self.stopped = False

    def begin(self) -> None:
        self.stopped = False
        if multi_worker.is_multi_worker(getattr(self._config, "train_distribute", None)):
            self._agreement = multi_worker.agreement_op(self._config)

    def after_create_session(self, session, coord) -> None:
        # A notice that came during graph building or the restore stops training before its first step (and
        # so without a new checkpoint). Multi-worker trainers must agree on the step, so they stop after one.
        if self._agreement is None and self._notice.requested:
            self.stopped = True
            tf.get_logger().warning("Preempted before the first step: stopping training.")
            coord.request_stop()

    def before_run(self, run_context):
        if self._agreement is None:
            return None
        flag, agreed = self._agreement
        return tf.compat.v1.train.SessionRunArgs(agreed, feed_dict={flag: 1.0 if self._notice.requested else 0.0})

    def after_run(self, run_context, run_values) -> None:
        stop = run_values.results > 0 if self._agreement is not None else self._notice.requested
        if stop and not self.stopped:
            self.stopped = True
            tf.get_logger().warning("Preempted: stopping training to write a final checkpoint.")
            run_context.request_stop()

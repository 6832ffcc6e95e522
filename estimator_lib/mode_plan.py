"""`ModePlan`: where and how the steps of one `train` or `evaluate` call run, decided once per call.

The Estimator asks for a plan at the start of a call (`Estimator._plan(mode)`) and reads values from it
while it builds the graph, instead of calling back into a subclass at each turn; TPUEstimator supplies
its own (its strategy, its iterations_per_loop loop, what its specs send to the host). A plan holds no
tensors, so it is made before the graph and serves again when training falls back to one step per run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from estimator_lib import step_outfeed

v1 = tf.compat.v1


def _sends_nothing(raw_spec: Any) -> None:
    return None


@dataclasses.dataclass(frozen=True)
class ModePlan:
    """What one call of one mode runs on. The defaults are the Estimator's.

    Attributes:
        strategy: The `tf.distribute` strategy the graph is built under; None for the default device.
        steps_per_run: Training steps in one `session.run` (iterations_per_loop); 1 builds no loop.
        loop_seconds: iterations_per_loop given as a duration: each loop is sized from the measured step
            time instead (`steps_per_run` is then ignored).
        log_step_after_run: The progress line names the global step read after each run rather than the
            one before it (TPUEstimator on a TPU, as the original logged it).
        host_side: From model_fn's raw spec, what each replica's step sends to the host and what the host
            builds from it once gathered (`tpu.host_calls.HostSide`: `.outputs`, `.train_hooks(gathered)`,
            `.eval_results(per_replica_outputs)`), or None when the spec sends nothing, as an
            `EstimatorSpec` never does.
    """

    strategy: Any = None
    steps_per_run: int = 1
    loop_seconds: float | None = None
    log_step_after_run: bool = False
    host_side: Callable[[Any], Any] = _sends_nothing

    def one_step_per_run(self) -> ModePlan:
        """The same plan without the loop, for a model_fn or input_fn whose ops cannot live inside one."""
        return dataclasses.replace(self, steps_per_run=1, loop_seconds=None)

    def describe_loop(self) -> str:
        """The loop as iterations_per_loop names it, for messages: a step count or a duration."""
        return str(self.steps_per_run) if self.loop_seconds is None else f"{self.loop_seconds:g}s"


def loop_steps(plan: ModePlan) -> tuple[int | tf.Tensor, list]:
    """The step count a training loop is built with, and the hooks that size it (call inside the graph).

    A fixed count needs no hook. A duration becomes a placeholder that `LoopDurationHook` feeds before
    each run, so one graph serves loops of any length.
    """
    if plan.loop_seconds is None:
        return plan.steps_per_run, []
    steps = v1.placeholder_with_default(tf.constant(1), shape=[], name="iterations_per_loop_steps")
    return steps, [LoopDurationHook(steps, plan.loop_seconds)]


class LoopDurationHook(v1.train.SessionRunHook):
    """Sizes each loop to last about `seconds` from the step time measured on the run before; the first
    loop is one step long, to measure."""

    def __init__(self, steps_tensor: tf.Tensor, seconds: float):
        self._steps_tensor = steps_tensor
        self._seconds = seconds
        self._steps = 1
        self._started = None
        self._step_before = None
        self._global_step = None

    def begin(self):
        self._global_step = v1.train.get_global_step()

    def before_run(self, run_context):
        self._started = time.time()
        self._step_before = run_context.session.run(self._global_step)
        return v1.train.SessionRunArgs(fetches=None, feed_dict={self._steps_tensor: self._steps})

    def after_run(self, run_context, run_values):
        elapsed = max(time.time() - self._started, 1e-6)
        done = max(int(run_context.session.run(self._global_step)) - int(self._step_before), 1)
        per_step = elapsed / done
        self._steps = int(np.clip(self._seconds / per_step, 1, step_outfeed.MAX_STEPS_PER_LOOP))

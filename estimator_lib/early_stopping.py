"""Early stopping: training hooks that stop when the evaluation results say so.

The hooks read the results `Estimator.evaluate` writes to its eval directory (event files), so they work
in one process with `train_and_evaluate` (evaluations happen between checkpoints) and with a separate
evaluator task writing to the same model directory. Put the hook in `TrainSpec.hooks`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.distribute import multi_worker
from estimator_lib.training.eval_events import eval_dir_pattern, read_eval_results

_log = tf.compat.v1.logging


class _StopOnPredicateHook(tf.compat.v1.train.SessionRunHook):
    """Asks training to stop when `should_stop_fn()` returns True; checks it every N secs or steps.

    In multi-worker collective training (`multi_worker_config` given) all training tasks must stop at the
    same step, or the all-reduce of the one still running hangs. So the check runs every
    `run_every_steps` session runs, the same runs on every task (they are in lockstep), and the tasks
    agree through a max-reduction of their local answers: if any task says stop, all stop.
    """

    def __init__(
        self,
        should_stop_fn: Callable[[], bool],
        run_every_secs: float | None,
        run_every_steps: int | None,
        multi_worker_config: Any = None,
    ):
        self._should_stop_fn = should_stop_fn
        self._timer = tf.compat.v1.train.SecondOrStepTimer(
            every_secs=None if run_every_steps is not None else run_every_secs, every_steps=run_every_steps
        )
        self._run_every_steps = run_every_steps
        self._multi_worker_config = multi_worker_config
        self._global_step = None
        self._agreement = None
        self._runs = 0

    def begin(self) -> None:
        self._global_step = tf.compat.v1.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError(
                "Early stopping needs a global step; create it with tf.compat.v1.train.get_or_create_global_step()."
            )
        self._runs = 0
        if self._multi_worker_config is not None:
            self._agreement = multi_worker.agreement_op(self._multi_worker_config)

    def before_run(self, run_context):
        return tf.compat.v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values) -> None:
        step = int(run_values.results)
        if self._agreement is not None:
            self._runs += 1
            if self._runs % self._run_every_steps:
                return
            flag, agreed = self._agreement
            local = 1.0 if self._should_stop_fn() else 0.0
            stop = run_context.session.run(agreed, feed_dict={flag: local}) > 0
        else:
            if not self._timer.should_trigger_for_step(step):
                return
            self._timer.update_last_triggered_step(step)
            stop = self._should_stop_fn()
        if stop:
            _log.info("Early stopping requested at global step %d.", step)
            run_context.request_stop()


def _multi_worker_config(estimator: Any, run_every_steps: int | None) -> Any:
    """The estimator's config when it trains with a multi-worker strategy (then steps are required)."""
    config = getattr(estimator, "config", None)
    if config is None or not multi_worker.is_multi_worker(getattr(config, "train_distribute", None)):
        return None
    if run_every_steps is None:
        raise ValueError(
            "In multi-worker training every task must check for early stopping at the same step, so pass "
            "run_every_steps=N (received run_every_steps=None; time-based checks fire at different steps)."
        )
    return config


def _check_common(
    estimator: Any, metric_name: Any, eval_dir: Any, min_steps: Any, run_every_secs: Any, run_every_steps: Any
) -> str:
    if eval_dir is None:
        if not hasattr(estimator, "eval_dir"):
            raise TypeError(
                f"estimator must be an Estimator (it provides eval_dir()); received {estimator!r}. "
                "Or pass eval_dir= explicitly."
            )
        eval_dir = estimator.eval_dir()
    if not isinstance(eval_dir, (str, bytes)) or not eval_dir:
        raise TypeError(f"eval_dir must be a directory path; received eval_dir={eval_dir!r}.")
    if not isinstance(metric_name, str) or not metric_name:
        raise TypeError(f"metric_name must be a non-empty str such as 'loss'; received metric_name={metric_name!r}.")
    validation.check_int("min_steps", min_steps, minimum=0)
    if run_every_steps is not None:
        validation.check_int("run_every_steps", run_every_steps, allow_none=True)
    else:
        validation.check_number(
            "run_every_secs", run_every_secs, unit="seconds", fix="Give it, or run_every_steps, to schedule the checks."
        )
    return eval_dir.decode() if isinstance(eval_dir, bytes) else eval_dir


def _results_after(eval_dir: str, min_steps: int, metric_name: str) -> list:
    """[(step, value)] for evaluations at global step >= min_steps, oldest first."""
    results: dict[int, dict[str, float]] = read_eval_results(eval_dir_pattern(eval_dir))
    out = []
    for step in sorted(results):
        if step < min_steps:
            continue
        if metric_name not in results[step]:
            raise ValueError(
                f"Early stopping watches metric {metric_name!r}, but the evaluation at step {step} in {eval_dir} "
                f"has only {sorted(results[step])}. Pass one of those as metric_name."
            )
        out.append((step, results[step][metric_name]))
    return out


def _threshold_hook(compare, estimator, metric_name, threshold, eval_dir, min_steps, run_every_secs, run_every_steps):
    eval_dir = _check_common(estimator, metric_name, eval_dir, min_steps, run_every_secs, run_every_steps)
    if not validation.is_number(threshold):
        raise validation.WrongTypeError(f"threshold must be a number; received threshold={threshold!r}.")

    def should_stop() -> bool:
        return any(compare(value, threshold) for _, value in _results_after(eval_dir, min_steps, metric_name))

    return _StopOnPredicateHook(
        should_stop, run_every_secs, run_every_steps, _multi_worker_config(estimator, run_every_steps)
    )


def _plateau_hook(
    better, estimator, metric_name, max_steps_without, eval_dir, min_steps, run_every_secs, run_every_steps
):
    eval_dir = _check_common(estimator, metric_name, eval_dir, min_steps, run_every_secs, run_every_steps)
    name = "max_steps_without_increase" if better is operator.gt else "max_steps_without_decrease"
    validation.check_int(name, max_steps_without, rule="steps without improvement")

    def should_stop() -> bool:
        best_value, best_step = None, None
        for step, value in _results_after(eval_dir, min_steps, metric_name):
            if best_value is None or better(value, best_value):
                best_value, best_step = value, step
            elif step - best_step >= max_steps_without:
                return True
        return False

    return _StopOnPredicateHook(
        should_stop, run_every_secs, run_every_steps, _multi_worker_config(estimator, run_every_steps)
    )


def stop_if_higher_hook(
    estimator: Any,
    metric_name: str,
    threshold: float,
    eval_dir: str | None = None,
    min_steps: int = 0,
    run_every_secs: float | None = 60,
    run_every_steps: int | None = None,
) -> tf.compat.v1.train.SessionRunHook:
    """Stops training once an evaluation at step >= min_steps has `metric_name` > `threshold`.

    The check runs every `run_every_secs` seconds, or every `run_every_steps` steps when that is given.
    """
    return _threshold_hook(
        operator.gt, estimator, metric_name, threshold, eval_dir, min_steps, run_every_secs, run_every_steps
    )


def stop_if_lower_hook(
    estimator: Any,
    metric_name: str,
    threshold: float,
    eval_dir: str | None = None,
    min_steps: int = 0,
    run_every_secs: float | None = 60,
    run_every_steps: int | None = None,
) -> tf.compat.v1.train.SessionRunHook:
    """Stops training once an evaluation at step >= min_steps has `metric_name` < `threshold`."""
    return _threshold_hook(
        operator.lt, estimator, metric_name, threshold, eval_dir, min_steps, run_every_secs, run_every_steps
    )


def stop_if_no_increase_hook(
    estimator: Any,
    metric_name: str,
    max_steps_without_increase: int,
    eval_dir: str | None = None,
    min_steps: int = 0,
    run_every_secs: float | None = 60,
    run_every_steps: int | None = None,
) -> tf.compat.v1.train.SessionRunHook:
    """Stops training when `metric_name` has not increased for `max_steps_without_increase` global steps.

    Steps are measured between evaluations: the best evaluation so far and a later one at least that many
    global steps after it.
    """
    return _plateau_hook(
        operator.gt, estimator, metric_name, max_steps_without_increase, eval_dir, min_steps, run_every_secs,
        run_every_steps,
    )


def stop_if_no_decrease_hook(
    estimator: Any,
    metric_name: str,
    max_steps_without_decrease: int,
    eval_dir: str | None = None,
    min_steps: int = 0,
    run_every_secs: float | None = 60,
    run_every_steps: int | None = None,
) -> tf.compat.v1.train.SessionRunHook:
    """Stops training when `metric_name` has not decreased for `max_steps_without_decrease` global steps."""
    return _plateau_hook(
        operator.lt, estimator, metric_name, max_steps_without_decrease, eval_dir, min_steps, run_every_secs,
        run_every_steps,
    )

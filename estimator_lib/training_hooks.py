"""Which hooks a training session runs, and in what order: one function, `assemble`.

The order is the contract (it decides what a user's hook sees and when checkpoints are written):

1. the NaN detector, first of all, so no saver checkpoints a step whose loss is NaN;
2. chief only: the spec's `training_chief_hooks`, then our checkpoint saver (unless the user brought a
   `CheckpointSaverHook`, which then gets the listeners) and our summary saver. A non-chief task of a
   collective multi-worker run mirrors the chief's saves into a scratch directory instead;
3. every task: input hooks, estimator-specific hooks (TPU host_call, loop sizing), the progress log,
   the stop hook, the spec's `training_hooks`, the user's hooks (`train()` appends its preemption hook);
4. the NaN raiser, last, so every other hook's `after_run` still sees the NaN step (as in tf.estimator).

Stopping at a step has one mechanism, `StopAtStepAfterRunHook`: it fetches the global step read after
the train op, so it stops after the run that reached the step whether that run did 1 or K steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import tensorflow as tf

from estimator_lib.distribute import multi_worker
from estimator_lib.hooks import NanLossHook, StepLogHook
from estimator_lib.resume_saver import ResumingCheckpointSaverHook
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1

NEVER = 10**12  # a save_steps no run reaches: the saver only writes at session creation and at the end


class TrainTensors(NamedTuple):
    """The graph tensors our own hooks fetch."""

    loss: tf.Tensor  # the last step's loss
    global_step: tf.Variable
    step_after_run: tf.Tensor  # the global step read after the train op ran (_graph.post_step_global_step_read)


class NanCheck:
    """A NaN loss is detected by `detector` (the first hook) and raised by `raiser` (the last one)."""

    def __init__(self, nan_hook: NanLossHook):
        self._nan_hook = nan_hook
        self.error: Exception | None = None
        self.detector = _NanDetector(self)
        self.raiser = _NanRaiser(self)

    @property
    def last_loss(self) -> Any:
        return self._nan_hook.last_loss


class _NanDetector(v1.train.SessionRunHook):
    def __init__(self, check: NanCheck):
        self._check = check

    def begin(self):
        self._check._nan_hook.begin()  # noqa: SLF001 - NanCheck's own parts

    def before_run(self, run_context):
        return self._check._nan_hook.before_run(run_context)  # noqa: SLF001

    def after_run(self, run_context, run_values):
        try:
            self._check._nan_hook.after_run(run_context, run_values)  # noqa: SLF001
        except v1.train.NanLossDuringTrainingError as error:
            self._check.error = error


class _NanRaiser(v1.train.SessionRunHook):
    def __init__(self, check: NanCheck):
        self._check = check

    def after_run(self, run_context, run_values):
        if self._check.error is not None:
            raise self._check.error


class NanSkippingSaverHook(ResumingCheckpointSaverHook):
    """The Estimator's saver: it never checkpoints a step whose loss was NaN (the original could), and a
    restart does not rewrite the checkpoint it resumes from (resume_saver)."""

    def __init__(self, checkpoint_dir: str, *, nan_check: NanCheck | None = None, **kwargs):
        super().__init__(checkpoint_dir, **kwargs)
        self._nan_check = nan_check

    def after_run(self, run_context, run_values):
        if self._nan_check is not None and self._nan_check.error is not None:
            return
        super().after_run(run_context, run_values)


SaverHookFactory = Callable[..., v1.train.CheckpointSaverHook]
"""Called as factory(model_dir, nan_check=, save_secs=, save_steps=, scaffold=, listeners=, save_graph_def=)."""


class FinalCheckpointHook(v1.train.SessionRunHook):
    """With periodic checkpoints disabled, a saver that still writes at session creation and at the end
    (as the original did), never in between."""

    def __init__(self, saver_hook: v1.train.CheckpointSaverHook):
        self._hook = saver_hook

    def begin(self):
        self._hook.begin()

    def after_create_session(self, session, coord):
        self._hook.after_create_session(session, coord)

    def after_run(self, run_context, run_values):
        if isinstance(self._hook, ResumingCheckpointSaverHook):
            self._hook.wait_for_graph_text()  # graph.pbtxt is on disk once the first step has run, as with saves

    def end(self, session):
        self._hook.end(session)


class StopAtStepAfterRunHook(v1.train.SessionRunHook):
    """Requests a stop after the run that brought the global step to `last_step`.

    It fetches the step as read after the train op, so it sees the step the run ended on: exact after
    one step per run, and after a loop of K steps (which itself ends early at `last_step`).
    """

    def __init__(self, step_after_run: tf.Tensor, last_step: int):
        self._request = v1.train.SessionRunArgs(step_after_run)
        self._last_step = last_step

    def before_run(self, run_context):
        return self._request

    def after_run(self, run_context, run_values):
        if run_values.results >= self._last_step:
            run_context.request_stop()


def _step_to_log(tensors: TrainTensors, steps_per_run: Any, after_run: bool) -> tf.Tensor:
    """The step in the progress line: the original Estimator logged the step read before a one-step run
    (the first line says step = 0); after a loop of K steps, and TPUEstimator on a TPU at any K
    (`after_run`), the step the run ended on."""
    if not after_run and isinstance(steps_per_run, int) and steps_per_run == 1:
        return tensors.step_after_run - 1
    return tensors.step_after_run


def _saver_hooks(
    *,
    config: RunConfig,
    model_dir: str,
    scaffold: v1.train.Scaffold,
    listeners: Sequence,
    other_hooks: Sequence,
    nan_check: NanCheck,
    make_saver_hook: SaverHookFactory,
) -> list:
    """The chief's checkpoint and summary savers, by the RunConfig's schedule."""
    savers: list = []
    users_savers = [hook for hook in other_hooks if isinstance(hook, v1.train.CheckpointSaverHook)]
    if users_savers:  # as in tf.estimator: the user's saver is the only one, and gets the listeners
        attached = users_savers[0]._listeners  # noqa: SLF001 - TF keeps listeners in this list only
        attached.extend(listener for listener in listeners if listener not in attached)
    else:
        periodic = bool(config.save_checkpoints_secs or config.save_checkpoints_steps)
        saver = make_saver_hook(
            model_dir,
            nan_check=nan_check,
            save_secs=None if config.save_checkpoints_steps or not periodic else config.save_checkpoints_secs,
            save_steps=config.save_checkpoints_steps if periodic else NEVER,
            scaffold=scaffold,
            listeners=list(listeners),
            save_graph_def=config.checkpoint_save_graph_def,
        )
        savers.append(saver if periodic else FinalCheckpointHook(saver))
    if config.save_summary_steps:
        savers.append(
            v1.train.SummarySaverHook(save_steps=config.save_summary_steps, output_dir=model_dir, scaffold=scaffold)
        )
    return savers


class TrainingHooks(NamedTuple):
    hooks: list  # in the order the session calls them
    nan_check: NanCheck  # its last_loss is the loss of the final step


def assemble(
    *,
    config: RunConfig,
    is_chief: bool,
    model_dir: str,
    tensors: TrainTensors,
    scaffold: v1.train.Scaffold,
    input_hooks: Sequence = (),
    extra_hooks: Sequence = (),
    spec_hooks: Sequence = (),
    spec_chief_hooks: Sequence = (),
    user_hooks: Sequence = (),
    listeners: Sequence = (),
    stop_at: int | None = None,
    steps_per_run: Any = 1,
    mirrors_chief: bool = False,
    make_saver_hook: SaverHookFactory = NanSkippingSaverHook,
    log_step_after_run: bool = False,
) -> TrainingHooks:
    """The hooks of one training session, ordered as the module docstring says.

    `extra_hooks` are the estimator's own (TPU host_call, loop sizing), passed in as values;
    `mirrors_chief` is True on a non-chief task of a collective multi-worker run, which must run the
    chief's save ops at the same steps; `make_saver_hook` builds the periodic (or final-only) saver;
    `log_step_after_run` makes the progress line name the step after every run (TPUEstimator on a TPU).
    """
    nan_check = NanCheck(NanLossHook(tensors.loss, tensors.global_step))
    chief_part: list = []
    if is_chief:
        chief_part = list(spec_chief_hooks) + _saver_hooks(
            config=config,
            model_dir=model_dir,
            scaffold=scaffold,
            listeners=listeners,
            other_hooks=list(user_hooks) + list(spec_hooks) + list(spec_chief_hooks),
            nan_check=nan_check,
            make_saver_hook=make_saver_hook,
        )
    elif mirrors_chief:
        chief_part = multi_worker.worker_mirror_hooks(config, scaffold)
    every_task = list(input_hooks) + list(extra_hooks)
    if config.log_step_count_steps:
        every_task.append(
            StepLogHook(
                tensors.loss,
                _step_to_log(tensors, steps_per_run, log_step_after_run),
                config.log_step_count_steps,
                model_dir if is_chief else None,
                steps_per_run=steps_per_run if isinstance(steps_per_run, int) else 1,
            )
        )
    if stop_at is not None:
        every_task.append(StopAtStepAfterRunHook(tensors.step_after_run, stop_at))
    every_task += list(spec_hooks) + list(user_hooks)
    hooks = [nan_check.detector] + chief_part + every_task + [nan_check.raiser]
    return TrainingHooks(hooks, nan_check)

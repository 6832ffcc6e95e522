"""The distributed executor: each task of a TF_CONFIG cluster runs its role.

chief/worker train together (a multi-worker collective strategy in `RunConfig.train_distribute`); a
legacy `master` trains and evaluates like a local run;
the evaluator follows the chief's checkpoints, evaluates and exports; parameter servers are not part of
graph-mode collective training and are refused with a message saying what to do instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib.checkpoints import global_step_of, latest_checkpoint
from estimator_lib.distribute import multi_worker
from estimator_lib.training.evaluation import Evaluation, RoundResult
from estimator_lib.training.local import check_checkpointing, run_local
from estimator_lib.training.specs import TrainSpec

_log = tf.compat.v1.logging

POLL_SECS = 1.0  # how often the evaluator looks for a new checkpoint


def run_trainer(estimator: Any, train_spec: TrainSpec) -> None:
    """The chief or a worker: train to max_steps; the strategy keeps the workers in lockstep."""
    config = estimator.config
    multi_worker.check_trainer_config(config)
    if config.is_chief:
        multi_worker.clear_finished(estimator.model_dir)
    estimator.train(
        input_fn=train_spec.input_fn,
        max_steps=train_spec.max_steps,
        hooks=list(train_spec.hooks),
        saving_listeners=list(train_spec.saving_listeners),
    )
    if config.is_chief:
        # Tells the evaluator which checkpoint is the last, also when a hook stopped training early.
        multi_worker.mark_finished(estimator.model_dir, global_step_of(latest_checkpoint(estimator.model_dir)))


def run_evaluator(
    estimator: Any,
    train_spec: TrainSpec,
    eval_specs: tuple,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[int, RoundResult]:
    """The evaluator: evaluate each new checkpoint (throttled) until the last one has been evaluated.

    The last checkpoint is the one at max_steps, or the one the chief marks as final when training ended
    earlier (an early-stopping hook, the end of the input).
    """
    if train_spec.max_steps is None:
        raise ValueError(
            "The evaluator task stops after evaluating the checkpoint at TrainSpec.max_steps, so it needs "
            "max_steps; received TrainSpec.max_steps=None. Set TrainSpec(max_steps=...)."
        )
    model_dir = estimator.model_dir
    evaluation = Evaluation(estimator, eval_specs, train_spec.max_steps)
    throttle = min(spec.throttle_secs for spec in eval_specs)
    start_delay = min(spec.start_delay_secs for spec in eval_specs)
    if start_delay:
        _log.info("Evaluator waits start_delay_secs=%s before the first evaluation.", start_delay)
        sleep(start_delay)
    results: dict[int, RoundResult] = {}
    last_checkpoint: str | None = None
    last_step: int | None = None
    while True:
        checkpoint = latest_checkpoint(model_dir)
        if checkpoint is None or checkpoint == last_checkpoint:
            if last_step is not None and multi_worker.finished_step(model_dir) == last_step:
                # Training ended at the checkpoint evaluated last: give it the final export round.
                for index, spec in enumerate(eval_specs):
                    done = results[index]
                    results[index] = evaluation.export(spec, done.checkpoint_path, done.metrics, final=True)
                return results
            sleep(POLL_SECS)
            continue
        started = time.time()
        try:
            step = global_step_of(checkpoint)
            final = multi_worker.finished_step(model_dir) == step
            for index, spec in enumerate(eval_specs):
                results[index] = evaluation.evaluate(spec, checkpoint, final=final)
        except tf.errors.NotFoundError as error:
            # The chief may delete an old checkpoint (keep_checkpoint_max) while it is read: take the next.
            _log.warning(
                "Checkpoint %s disappeared during evaluation (%s); waiting for the next one.", checkpoint, error
            )
            last_checkpoint = checkpoint
            continue
        last_checkpoint, last_step = checkpoint, step
        if all(r.is_final for r in results.values()):
            return results
        remaining = throttle - (time.time() - started)
        if remaining > 0:
            sleep(remaining)


def run_distributed(estimator: Any, train_spec: TrainSpec, eval_specs: tuple) -> dict[int, RoundResult]:
    """Runs this task's role from `estimator.config`; chief/worker return {} (they do not evaluate)."""
    config = estimator.config
    role = multi_worker.task_role(config)
    if role == multi_worker.EVALUATOR:
        return run_evaluator(estimator, train_spec, eval_specs)
    check_checkpointing(estimator)
    if role == multi_worker.MASTER:
        # The legacy master trains and evaluates its own checkpoints, like a local run.
        multi_worker.check_trainer_config(config)
        return run_local(estimator, train_spec, eval_specs)
    run_trainer(estimator, train_spec)
    return {}

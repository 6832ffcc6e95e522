"""The local executor: one process trains once and evaluates new checkpoints along the way.

Evaluation hangs off a checkpoint listener, so the training input pipeline runs uninterrupted (it is
not rebuilt from the start at each evaluation, unlike a train/evaluate loop), and every evaluated model
is exactly a checkpoint on disk.
"""

from __future__ import annotations

import time
from typing import Any

import tensorflow as tf

from estimator_lib.checkpoints import latest_checkpoint
from estimator_lib.training.evaluation import Evaluation, RoundResult
from estimator_lib.training.specs import TrainSpec

_log = tf.compat.v1.logging


class EvaluateNewCheckpoints(tf.compat.v1.train.CheckpointSaverListener):
    """Evaluates a freshly saved checkpoint for each EvalSpec whose throttle allows it.

    The checkpoint written when the session is created (the state training resumed from) is skipped.
    `end()` makes sure the last checkpoint gets a final evaluation and a final export.
    """

    def __init__(self, estimator: Any, evaluation: Evaluation) -> None:
        self._estimator = estimator
        self._evaluation = evaluation
        self._last_start: dict[int, float] = {}
        self._results: dict[int, RoundResult] = {}
        self._first_save = True
        self.ended = False

    @property
    def results(self) -> dict[int, RoundResult]:
        """The newest RoundResult of each EvalSpec (by index)."""
        return dict(self._results)

    def begin(self) -> None:
        self._first_save = True

    def _checkpoint_at(self, step: int) -> str | None:
        path = latest_checkpoint(self._estimator.model_dir)
        if path is None or not path.endswith(f"-{step}"):
            _log.warning("Checkpoint for step %d not found (latest is %s); skipping its evaluation.", step, path)
            return None
        return path

    def after_save(self, session, global_step_value) -> None:
        if self._first_save:
            self._first_save = False
            return
        checkpoint = self._checkpoint_at(int(global_step_value))
        if checkpoint is None:
            return
        for index, spec in enumerate(self._evaluation.specs):
            last = self._last_start.get(index)
            now = time.time()
            if last is not None and now - last < spec.throttle_secs:
                _log.info("Skipping evaluation %s of %s: throttle_secs=%s.", spec.name, checkpoint, spec.throttle_secs)
                continue
            self._last_start[index] = now
            self._results[index] = self._evaluation.evaluate(spec, checkpoint)

    def end(self, session, global_step_value) -> None:
        self.finish()

    def finish(self) -> None:
        """Final evaluation and export of the latest checkpoint for every EvalSpec (once)."""
        if self.ended:
            return
        self.ended = True
        checkpoint = latest_checkpoint(self._estimator.model_dir)
        if checkpoint is None:
            raise RuntimeError(
                f"train_and_evaluate found no checkpoint in {self._estimator.model_dir} to evaluate after training."
            )
        for index, spec in enumerate(self._evaluation.specs):
            done = self._results.get(index)
            if done is not None and done.checkpoint_path == checkpoint:
                if not done.is_final:
                    self._results[index] = self._evaluation.export(spec, checkpoint, done.metrics, final=True)
            else:
                self._results[index] = self._evaluation.evaluate(spec, checkpoint, final=True)


def check_checkpointing(estimator: Any) -> None:
    config = estimator.config
    if (
        getattr(config, "save_checkpoints_steps", None) is None
        and getattr(config, "save_checkpoints_secs", None) is None
    ):
        raise ValueError(
            "train_and_evaluate evaluates the checkpoints training writes, but the RunConfig disables "
            "checkpoints (save_checkpoints_steps=None and save_checkpoints_secs=None). Set one of them."
        )


def run_local(estimator: Any, train_spec: TrainSpec, eval_specs: tuple) -> dict[int, RoundResult]:
    """Trains to `train_spec.max_steps`, evaluating new checkpoints; returns each spec's final round."""
    check_checkpointing(estimator)
    evaluation = Evaluation(estimator, eval_specs, train_spec.max_steps)
    listener = EvaluateNewCheckpoints(estimator, evaluation)
    estimator.train(
        input_fn=train_spec.input_fn,
        max_steps=train_spec.max_steps,
        hooks=list(train_spec.hooks),
        saving_listeners=list(train_spec.saving_listeners) + [listener],
    )
    # Training may have been skipped (already at max_steps) or ended without a session: evaluate anyway.
    listener.finish()
    return listener.results

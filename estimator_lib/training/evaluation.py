"""One evaluation round: evaluate a checkpoint for every EvalSpec, then run that spec's exporters.

Shared by the local executor (called from a checkpoint listener) and the evaluator task (called for each
new checkpoint it finds), so both evaluate and export the same way.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import tensorflow as tf

from estimator_lib.training.specs import EvalSpec

_log = tf.compat.v1.logging


class RoundResult(NamedTuple):
    """What one EvalSpec produced for one checkpoint."""

    checkpoint_path: str
    metrics: dict[str, Any]
    export_results: list[bytes]
    is_final: bool


def export_dir(estimator: Any, exporter_name: str) -> str:
    """Where an exporter writes: `model_dir/export/<exporter name>`."""
    return os.path.join(estimator.model_dir, "export", exporter_name)


def _global_step(metrics: dict[str, Any]) -> int | None:
    step = metrics.get("global_step")
    return None if step is None else int(step)


class Evaluation:
    """Evaluates checkpoints with the EvalSpecs and exports after each evaluation."""

    def __init__(self, estimator: Any, eval_specs: tuple, max_steps: int | None) -> None:
        self._estimator = estimator
        self._specs = eval_specs
        self._max_steps = max_steps

    @property
    def specs(self) -> tuple:
        return self._specs

    def reached_max_steps(self, metrics: dict[str, Any]) -> bool:
        step = _global_step(metrics)
        return self._max_steps is not None and step is not None and step >= self._max_steps

    def evaluate(self, spec: EvalSpec, checkpoint_path: str, final: bool = False) -> RoundResult:
        """Evaluates `checkpoint_path` with `spec`, then exports; final if asked or at max_steps."""
        metrics = self._estimator.evaluate(
            spec.input_fn, steps=spec.steps, hooks=list(spec.hooks), checkpoint_path=checkpoint_path, name=spec.name
        )
        _log.info("Evaluation %s of %s: %s", spec.name or "(default)", checkpoint_path, metrics)
        final = final or self.reached_max_steps(metrics)
        return self.export(spec, checkpoint_path, metrics, final)

    def export(self, spec: EvalSpec, checkpoint_path: str, metrics: dict[str, Any], final: bool) -> RoundResult:
        """Runs the spec's exporters on an evaluated checkpoint."""
        exports = []
        for exporter in spec.exporters:
            path = exporter.export(
                estimator=self._estimator,
                export_path=export_dir(self._estimator, exporter.name),
                checkpoint_path=checkpoint_path,
                eval_result=metrics,
                is_the_final_export=final,
            )
            if path is not None:
                exports.append(path)
        return RoundResult(checkpoint_path, metrics, exports, final)

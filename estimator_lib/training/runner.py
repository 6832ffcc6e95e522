"""The `train_and_evaluate` entry point: validate, then run locally or as this task's cluster role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from estimator_lib.distribute import multi_worker
from estimator_lib.training.distributed import run_distributed
from estimator_lib.training.local import run_local
from estimator_lib.training.specs import EvalSpec, TrainSpec, check_eval_specs


def _check_estimator(estimator: Any) -> None:
    missing = [
        m for m in ("train", "evaluate", "export_saved_model", "model_dir", "config") if not hasattr(estimator, m)
    ]
    if missing:
        raise TypeError(
            "estimator must be an Estimator (with train, evaluate, export_saved_model, model_dir and config); "
            f"received {estimator!r} of type {type(estimator).__name__}, which lacks {missing}."
        )


def train_and_evaluate(
    estimator: Any,
    train_spec: TrainSpec,
    eval_spec: EvalSpec | Sequence[EvalSpec],
) -> tuple[dict[str, Any] | dict[str, dict[str, Any]] | None, list[bytes] | dict[str, list[bytes]]]:
    """Trains `estimator` and evaluates (and exports) its checkpoints along the way.

    Without a cluster in TF_CONFIG: one process trains to `train_spec.max_steps`, evaluates new checkpoints
    no more often than `throttle_secs`, and finishes with a final evaluation and export. With a cluster,
    this task runs its role: chief/worker train, the evaluator evaluates and exports. The same call works
    in every task, so one program serves the whole cluster.

    Args:
        estimator: The `Estimator` (or `TPUEstimator`) to train; its `config` decides local or distributed.
        train_spec: The training data, `max_steps`, hooks and saving listeners.
        eval_spec: One `EvalSpec`, or a list of them with distinct names (e.g. validation and test sets),
            each evaluated and exported on its own.

    Returns:
        `(metrics, export_results)` of the final evaluation: a metrics dict and a list of export paths for
        one EvalSpec, or dicts keyed by EvalSpec name for a list of EvalSpecs. Tasks that do not evaluate
        (chief, worker) return `(None, [])` (or `(None, {})` for a list).

    Raises:
        TypeError: `estimator` is not an Estimator, `train_spec` not a `TrainSpec`, or `eval_spec` neither
            an `EvalSpec` nor a non-empty list of them.
        ValueError: Several EvalSpecs share a name or an exporter name, or TF_CONFIG describes a cluster
            this library does not run (parameter servers, or several workers without a strategy that
            spans them); the message says what to change.
    """
    _check_estimator(estimator)
    if not isinstance(train_spec, TrainSpec):
        raise TypeError(f"train_spec must be a TrainSpec; received {train_spec!r} of type {type(train_spec).__name__}.")
    specs = check_eval_specs(eval_spec)
    if multi_worker.is_distributed(estimator.config):
        results = run_distributed(estimator, train_spec, specs)
    else:
        results = run_local(estimator, train_spec, specs)
    if isinstance(eval_spec, EvalSpec):
        final = results.get(0)
        return (final.metrics, list(final.export_results)) if final else (None, [])
    if not results:
        return None, {}
    metrics = {specs[i].name: r.metrics for i, r in sorted(results.items())}
    exports = {specs[i].name: list(r.export_results) for i, r in sorted(results.items())}
    return metrics, exports

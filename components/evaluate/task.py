"""Evaluate: Estimator.evaluate on the train step's checkpoint, plus a confusion matrix for classifiers.

The confusion matrix comes from running Estimator.predict over the same evaluation input (labels
dropped) and comparing each prediction's class id with the label the input yields. It is computed when
the labels are integer class ids and the predictions dict has a class-id key (`class_key`, or the first
of CLASS_KEYS found); otherwise it is skipped and the reason is printed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .. import _io
from .._estimator import (
    EstimatorOptions,
    build_estimator,
    call_input_fn,
    check_int,
    configure_logging,
    make_input_fn,
    require_checkpoint,
    scratch_dir,
    step_params,
)
from .._model_ref import ModelFunctions, parse_params, resolve_model

CLASS_KEYS = ("class_ids", "classes", "class_id", "predicted_class")


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Scalar metrics (always with 'loss' and 'global_step'), the gate value and an optional confusion matrix."""

    metrics: dict[str, float]
    gate_metric: str
    gate_value: float
    class_names: list[str] | None = None
    confusion_matrix: list[list[int]] | None = None
    skipped_confusion_reason: str = ""


def run_evaluate(
    *,
    model_ref: str,
    model_dir: str,
    params_json: str = "{}",
    input_fn_ref: str = "",
    eval_steps: int = 0,
    eval_batch_size: int = 0,
    eval_data: str = "",
    gate_metric: str = "accuracy",
    class_key: str = "",
    class_names: str = "",
    confusion_matrix: bool = True,
    use_tpu: bool = False,
) -> EvaluationResult:
    """Evaluates the newest checkpoint in model_dir and returns its metrics; eval_steps=0 reads all input."""
    from estimator_lib.mode_keys import ModeKeys

    check_int(eval_steps, "eval_steps", minimum=0)
    if not isinstance(gate_metric, str) or not gate_metric:
        raise ValueError(f"gate_metric must name a metric such as 'accuracy' or 'loss'; received {gate_metric!r}.")
    options = EstimatorOptions(use_tpu=use_tpu, eval_batch_size=eval_batch_size, predict_batch_size=eval_batch_size)
    functions = resolve_model(model_ref, input_fn_ref=input_fn_ref)
    params = step_params(parse_params(params_json), batch_size=eval_batch_size, data_path=eval_data, options=options)
    names = _parse_class_names(class_names)
    configure_logging()
    local_dir = _io.local_path(model_dir, "model_dir")
    checkpoint = require_checkpoint(local_dir, "model_dir")
    # The estimator writes eval summaries into its model_dir: a scratch folder, never the upstream artifact.
    estimator = build_estimator(functions, scratch_dir("evaluate-"), params, options)
    raw = estimator.evaluate(
        make_input_fn(functions, ModeKeys.EVAL), steps=eval_steps or None, checkpoint_path=checkpoint
    )
    metrics = scalar_metrics(raw)
    if gate_metric not in metrics:
        raise ValueError(
            f"gate_metric={gate_metric!r} is not among the evaluation metrics {sorted(metrics)}. Pick one of them, "
            f"or add it to the eval_metric_ops your model_fn returns in EVAL mode."
        )
    result = EvaluationResult(metrics=metrics, gate_metric=gate_metric, gate_value=metrics[gate_metric])
    if not confusion_matrix:
        return dataclasses.replace(result, skipped_confusion_reason="confusion_matrix=False")
    labels, reason = collect_class_labels(functions, params, eval_steps)
    if labels is None:
        return dataclasses.replace(result, skipped_confusion_reason=reason)
    predictions = estimator.predict(
        make_input_fn(functions, ModeKeys.EVAL, features_only=True, take_batches=eval_steps),
        checkpoint_path=checkpoint,
    )
    predicted, reason = collect_predicted_classes(predictions, class_key, len(labels))
    if predicted is None:
        return dataclasses.replace(result, skipped_confusion_reason=reason)
    if len(predicted) != len(labels):
        return dataclasses.replace(
            result,
            skipped_confusion_reason=f"the input gave {len(labels)} labels but {len(predicted)} predictions "
            f"(is input_fn deterministic in EVAL mode?)",
        )
    categories, matrix = build_confusion_matrix(labels, predicted, names)
    return dataclasses.replace(result, class_names=categories, confusion_matrix=matrix)


def scalar_metrics(raw: dict[str, Any]) -> dict[str, float]:
    """Keeps the finite-or-not scalar numbers of an evaluate() result as Python floats."""
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        array = np.asarray(value)
        if array.ndim == 0 and np.issubdtype(array.dtype, np.number):
            metrics[str(name)] = float(array)
    return metrics


def _parse_class_names(class_names: str) -> list[str] | None:
    if not class_names:
        return None
    names = [name.strip() for name in class_names.split(",")]
    if any(not name for name in names):
        raise ValueError(
            f"class_names must be a comma-separated list of names such as 'cat,dog,bird'; received {class_names!r}."
        )
    return names


def collect_class_labels(functions: ModelFunctions, params: dict[str, Any], eval_steps: int):
    """Runs the EVAL input eagerly and returns (int labels, '') or (None, why they are not class ids)."""
    import tensorflow as tf

    from estimator_lib.mode_keys import ModeKeys

    result = call_input_fn(functions, ModeKeys.EVAL, dict(params))
    if isinstance(result, tf.data.Dataset):
        if not (isinstance(result.element_spec, tuple) and len(result.element_spec) == 2):
            return None, "the EVAL dataset yields no (features, labels) pairs"
        if eval_steps:
            result = result.take(eval_steps)
        batches = [labels for _, labels in result]
    elif isinstance(result, tuple) and len(result) == 2:
        batches = [result[1]]
    else:
        return None, "input_fn in EVAL mode returned no labels"
    if not batches or any(isinstance(batch, dict) for batch in batches):
        return None, "labels are empty or a dict (multi-head); no single class id per example"
    arrays = [np.asarray(batch) for batch in batches]
    if not all(np.issubdtype(array.dtype, np.integer) for array in arrays):
        return None, f"labels have dtype {arrays[0].dtype}, not integer class ids"
    flat = [array.reshape(-1) if array.ndim <= 1 or array.shape[-1] == 1 else None for array in arrays]
    if any(array is None for array in flat):
        return None, "labels are not one class id per example (shape [batch] or [batch, 1])"
    return np.concatenate(flat).astype(np.int64), ""


def collect_predicted_classes(predictions, class_key: str, expected: int):
    """Returns (class ids, '') from predict() output, or (None, reason) when no class-id key exists."""
    ids: list[int] = []
    key = class_key or None
    for index, prediction in enumerate(predictions):
        if not isinstance(prediction, dict):
            return None, "predictions are not a dict; name the class-id output in predictions={...}"
        if key is None:
            key = next((candidate for candidate in CLASS_KEYS if candidate in prediction), None)
            if key is None:
                return None, f"predictions have none of the class-id keys {CLASS_KEYS} (keys: {sorted(prediction)})"
        if key not in prediction:
            raise ValueError(
                f"class_key={key!r} is not a prediction key; the model predicts {sorted(prediction)}."
            )
        value = np.asarray(prediction[key]).reshape(-1)
        if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
            return None, f"prediction {key!r} is not one integer class id per example"
        ids.append(int(value[0]))
        if index + 1 > expected:
            break
    return np.asarray(ids, dtype=np.int64), ""


def build_confusion_matrix(labels, predicted, class_names: list[str] | None):
    """Rows are true classes, columns predicted classes, in the order of `class_names` (or 0..n-1)."""
    size = int(max(labels.max(initial=0), predicted.max(initial=0))) + 1
    if class_names is not None:
        if len(class_names) < size:
            raise ValueError(
                f"class_names lists {len(class_names)} classes but class id {size - 1} occurs; "
                f"give one name per class id 0..{size - 1}."
            )
        size = len(class_names)
    matrix = np.zeros((size, size), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    categories = class_names or [str(index) for index in range(size)]
    return categories, matrix.tolist()


def to_json_number(value: float) -> float | str:
    """JSON has no NaN/inf: keep them readable as strings."""
    return value if math.isfinite(value) else str(value)

"""`EstimatorSpec`: what a `model_fn` returns, checked field by field.

Each field has one small validator; `TPUEstimatorSpec` reuses the ones it shares.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

import tensorflow as tf

from estimator_lib.export.export_output import ExportOutput, PredictOutput
from estimator_lib.metrics import check_keras_metric
from estimator_lib.mode_keys import ModeKeys, check_mode

v1 = tf.compat.v1

DEFAULT_SERVING_KEY = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
RESERVED_METRIC_NAMES = ("loss", "global_step")


def _is_graph_tensor(value: Any) -> bool:
    return isinstance(value, (tf.Tensor, tf.Operation, tf.Variable))


def check_same_graph(value: Any, field: str) -> None:
    """Raises if a tensor or op was built in another graph than the one `model_fn` is building."""
    graph = v1.get_default_graph()
    for item in tf.nest.flatten(value):
        item_graph = getattr(item, "graph", None)
        if _is_graph_tensor(item) and item_graph is not None and item_graph is not graph:
            raise ValueError(
                f"{field} holds {item!r}, which was created in another graph. Build every tensor inside "
                "model_fn (not at module level or in a previous call), so it belongs to the graph the "
                "Estimator is building."
            )


def check_loss(loss: Any) -> Any:
    """A scalar loss tensor. As in the original Estimator, any shape that holds one element ([1], [1, 1])
    or may hold one ((None, 1)) is reshaped to a scalar; a wrong size then fails when the step runs."""
    if loss is None:
        return None
    if not isinstance(loss, (tf.Tensor, tf.Variable)):
        raise TypeError(f"loss must be a scalar Tensor; received loss={loss!r} of type {type(loss).__name__}.")
    check_same_graph(loss, "loss")
    shape = loss.shape
    if shape.num_elements() not in (None, 1):
        raise ValueError(
            f"loss must be a scalar (or hold a single element); received shape {shape}. Reduce it first, "
            "for example with tf.reduce_mean(per_example_loss)."
        )
    if not shape.is_compatible_with(tf.TensorShape([])):
        return tf.reshape(loss, [])
    return loss


def check_train_op(train_op: Any) -> Any:
    if train_op is None:
        return None
    if not isinstance(train_op, (tf.Operation, tf.Tensor, tf.Variable)):
        raise TypeError(
            f"train_op must be an Operation or Tensor (for example optimizer.minimize(loss, global_step)); "
            f"received {train_op!r} of type {type(train_op).__name__}."
        )
    check_same_graph(train_op, "train_op")
    return train_op


def _refuse_sparse(value: Any, where: str) -> None:
    if isinstance(value, (tf.SparseTensor, v1.SparseTensorValue)):
        raise TypeError(
            f"{where} is a SparseTensor; predictions must be dense Tensors (as in the original Estimator). "
            "Convert it with tf.sparse.to_dense(...)."
        )


def check_predictions(predictions: Any) -> Any:
    if predictions is None:
        return None
    _refuse_sparse(predictions, "predictions")
    if isinstance(predictions, Mapping):
        for key, value in predictions.items():
            if not isinstance(key, str):
                raise TypeError(f"predictions keys must be strings; received key {key!r}.")
            _refuse_sparse(value, f"predictions[{key!r}]")
            if not isinstance(value, (tf.Tensor, tf.SparseTensor, tf.Variable)):
                raise TypeError(
                    f"predictions[{key!r}] must be a Tensor; received {value!r} of type {type(value).__name__}."
                )
        check_same_graph(dict(predictions), "predictions")
        return dict(predictions)
    if not isinstance(predictions, (tf.Tensor, tf.SparseTensor, tf.Variable)):
        raise TypeError(
            f"predictions must be a Tensor or a dict of string to Tensor; received {predictions!r} "
            f"of type {type(predictions).__name__}."
        )
    check_same_graph(predictions, "predictions")
    return predictions


def _is_keras_metric(value: Any) -> bool:
    try:
        import keras

        if isinstance(value, keras.metrics.Metric):
            return True
    except ImportError:  # pragma: no cover - keras ships with TF
        pass
    return type(value).__name__ != "tuple" and hasattr(value, "result") and hasattr(value, "update_state")


def check_metric_names(names: Iterable[str], field: str) -> None:
    """Refuses the names evaluate() reports itself; checked by evaluate() only, as in the original."""
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{field} keys must be strings; received key {name!r}.")
        if name in RESERVED_METRIC_NAMES:
            raise ValueError(
                f"{field} may not use the name {name!r}: the Estimator reports 'loss' and 'global_step' "
                "itself. Rename the metric (for example 'eval_loss')."
            )


def check_eval_metric_ops(eval_metric_ops: Any) -> dict | None:
    """A dict of name -> (value, update_op) or a Keras metric object."""
    if eval_metric_ops is None:
        return None
    if not isinstance(eval_metric_ops, Mapping):
        raise TypeError(
            "eval_metric_ops must be a dict of name -> (metric_tensor, update_op) or Keras Metric; "
            f"received {type(eval_metric_ops).__name__}: {eval_metric_ops!r}."
        )
    for name in eval_metric_ops:
        if not isinstance(name, str):
            raise TypeError(f"eval_metric_ops keys must be strings; received key {name!r}.")
    checked = {}
    for name, value in eval_metric_ops.items():
        if _is_keras_metric(value):
            check_keras_metric(value)
            checked[name] = value
            continue
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(
                f"eval_metric_ops[{name!r}] must be a (metric_tensor, update_op) pair, as returned by "
                f"tf.compat.v1.metrics.*, or a Keras Metric; received {value!r}."
            )
        # The value may be a nested structure of tensors (the original returned it as is from evaluate()).
        for part in tf.nest.flatten(tuple(value)):
            if not isinstance(part, (tf.Tensor, tf.Operation, tf.Variable)):
                raise TypeError(
                    f"eval_metric_ops[{name!r}] must hold Tensors or Operations; received {part!r} "
                    f"of type {type(part).__name__}."
                )
        check_same_graph(tuple(value), f"eval_metric_ops[{name!r}]")
        checked[name] = tuple(value)
    return checked


def check_export_outputs(export_outputs: Any, predictions: Any) -> dict[str, ExportOutput] | None:
    """A dict of name -> ExportOutput with a serving default; None means 'derive from predictions'."""
    if export_outputs is None:
        if predictions is None:
            return None
        return {DEFAULT_SERVING_KEY: PredictOutput(predictions)}
    if not isinstance(export_outputs, Mapping):
        raise TypeError(
            "export_outputs must be a dict of signature name -> ExportOutput (ClassificationOutput, "
            f"RegressionOutput or PredictOutput); received {type(export_outputs).__name__}."
        )
    for name, output in export_outputs.items():
        if not isinstance(name, str):
            raise TypeError(f"export_outputs keys must be strings; received key {name!r}.")
        if not isinstance(output, ExportOutput):
            raise TypeError(
                f"export_outputs[{name!r}] must be an ExportOutput (ClassificationOutput, RegressionOutput or "
                f"PredictOutput); received {output!r} of type {type(output).__name__}."
            )
    outputs = dict(export_outputs)
    if DEFAULT_SERVING_KEY not in outputs:
        if len(outputs) == 1:
            outputs[DEFAULT_SERVING_KEY] = next(iter(outputs.values()))
        elif outputs:
            raise ValueError(
                f"export_outputs has several entries {sorted(outputs)} but none is named "
                f"{DEFAULT_SERVING_KEY!r}; name the default one "
                "tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY so servers know which to use."
            )
    return outputs


def check_hooks(hooks: Any, field: str) -> tuple:
    if hooks is None:
        return ()
    if isinstance(hooks, v1.train.SessionRunHook):
        raise TypeError(f"{field} must be a list of SessionRunHook, not a single hook; wrap it: [{hooks!r}].")
    hooks = tuple(hooks)
    for hook in hooks:
        if not isinstance(hook, v1.train.SessionRunHook):
            raise TypeError(
                f"{field} must contain only SessionRunHook instances (estimator_lib.SessionRunHook); "
                f"received {hook!r} of type {type(hook).__name__}."
            )
    return hooks


def check_scaffold(scaffold: Any) -> Any:
    if scaffold is None:
        return v1.train.Scaffold()
    if not isinstance(scaffold, v1.train.Scaffold):
        raise TypeError(
            f"scaffold must be a tf.compat.v1.train.Scaffold; received {scaffold!r} of type "
            f"{type(scaffold).__name__}."
        )
    return scaffold


def check_required_fields(mode: str, *, loss: Any, train_op: Any, predictions: Any) -> None:
    if mode == ModeKeys.TRAIN:
        if train_op is None:
            raise ValueError("train_op is missing: in TRAIN mode model_fn must return a train_op (optimizer step).")
        if loss is None:
            raise ValueError("loss is missing: in TRAIN mode model_fn must return a scalar loss.")
    elif mode == ModeKeys.EVAL and loss is None:
        raise ValueError("loss is missing: in EVAL mode model_fn must return a scalar loss.")
    elif mode == ModeKeys.PREDICT and predictions is None:
        raise ValueError("predictions are missing: in PREDICT mode model_fn must return predictions.")


_SPEC_FIELDS = (
    "mode",
    "predictions",
    "loss",
    "train_op",
    "eval_metric_ops",
    "export_outputs",
    "training_chief_hooks",
    "training_hooks",
    "scaffold",
    "evaluation_hooks",
    "prediction_hooks",
)


class EstimatorSpec(collections.namedtuple("EstimatorSpec", _SPEC_FIELDS)):
    """Everything an Estimator needs from one `model_fn` call, validated on construction so that a mistake
    is reported where `model_fn` made it, not later inside a session.

    Which fields are required depends on `mode`: TRAIN needs `loss` and `train_op`, EVAL needs `loss`,
    PREDICT needs `predictions`. Every tensor must belong to the graph `model_fn` is building.

    Args:
        mode: The `ModeKeys` value `model_fn` was called with.
        predictions: A tensor or a dict of str to tensor (not sparse); what `predict()` yields and,
            without `export_outputs`, what the exported model serves.
        loss: A scalar tensor. A single-element shape such as [1] or [1, 1] is reshaped to a scalar, as
            tf.estimator did.
        train_op: The op (or tensor) that runs one optimisation step; it should also increment the global
            step, which is what stops training at `max_steps`.
        eval_metric_ops: A dict of metric name to a `(value, update_op)` pair (`tf.compat.v1.metrics.*`)
            or to a Keras metric object whose `update_state` was called in `model_fn`.
        export_outputs: A dict of signature name to `ClassificationOutput`, `RegressionOutput` or
            `PredictOutput`, one signature each. A single entry also becomes `serving_default`; several
            need one named `serving_default`. None serves `predictions` as `serving_default`.
        training_chief_hooks: `SessionRunHook`s run only on the chief during training.
        training_hooks: `SessionRunHook`s run on every worker during training.
        scaffold: A `tf.compat.v1.train.Scaffold` to customise initialisation, the saver or the summary op.
        evaluation_hooks: `SessionRunHook`s run during evaluation.
        prediction_hooks: `SessionRunHook`s run during prediction.

    Raises:
        ValueError: `mode` is not a `ModeKeys` value; a field the mode requires is missing; `loss` holds more
            than one element; a tensor comes from another graph; several `export_outputs` and none named
            `serving_default`.
        TypeError: A field has the wrong type (the message names the field and what it takes), or a hooks
            field is a single hook rather than a list.
    """

    __slots__ = ()

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metric_ops=None,
        export_outputs=None,
        training_chief_hooks=None,
        training_hooks=None,
        scaffold=None,
        evaluation_hooks=None,
        prediction_hooks=None,
    ):
        check_mode(mode)
        loss = check_loss(loss)
        train_op = check_train_op(train_op)
        predictions = check_predictions(predictions)
        check_required_fields(mode, loss=loss, train_op=train_op, predictions=predictions)
        return super().__new__(
            cls,
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=check_eval_metric_ops(eval_metric_ops) or {},
            export_outputs=check_export_outputs(export_outputs, predictions),
            training_chief_hooks=check_hooks(training_chief_hooks, "training_chief_hooks"),
            training_hooks=check_hooks(training_hooks, "training_hooks"),
            scaffold=check_scaffold(scaffold),
            evaluation_hooks=check_hooks(evaluation_hooks, "evaluation_hooks"),
            prediction_hooks=check_hooks(prediction_hooks, "prediction_hooks"),
        )

    def _replace(self, **kwargs):
        if "mode" in kwargs and kwargs["mode"] != self.mode:
            raise ValueError(
                f"EstimatorSpec._replace cannot change mode (from {self.mode!r} to {kwargs['mode']!r}); "
                "build a new EstimatorSpec for the other mode."
            )
        fields = self._asdict()
        fields.update(kwargs)
        return EstimatorSpec(**fields)

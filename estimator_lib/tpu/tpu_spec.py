"""`TPUEstimatorSpec`: what a TPU `model_fn` returns; shares its field checks with `EstimatorSpec`."""

from __future__ import annotations

import collections
import inspect
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib import spec as spec_lib
from estimator_lib import validation
from estimator_lib.fn_args import declared_args
from estimator_lib.mode_keys import ModeKeys, check_mode

v1 = tf.compat.v1


def check_fn_and_tensors(value: Any, field: str) -> tuple[Callable, Any] | None:
    """eval_metrics / host_call: a 2-sequence (fn, tensors) whose tensors fit fn's arguments."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(
            f"{field} must be a (function, tensors) pair, where tensors is a list or dict of Tensors; "
            f"received {value!r}."
        )
    fn, tensors = value
    if not callable(fn):
        raise TypeError(f"{field}[0] must be callable; received {fn!r} of type {type(fn).__name__}.")
    if not isinstance(tensors, (list, tuple, dict)):
        raise TypeError(
            f"{field}[1] must be a list, tuple or dict of Tensors; received {type(tensors).__name__}: {tensors!r}."
        )
    for item in tf.nest.flatten(tensors):
        if not isinstance(item, (tf.Tensor, tf.Variable)):
            raise TypeError(f"{field} tensors must all be Tensors; received {item!r} of type {type(item).__name__}.")
    signature = inspect.signature(fn)
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    names, has_varkw = declared_args(fn)
    if isinstance(tensors, (list, tuple)) and not has_varargs:
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        required = [p for p in positional if p.default is inspect.Parameter.empty]
        if not (len(required) <= len(tensors) <= len(positional)):
            raise ValueError(
                f"{field}: the function {getattr(fn, '__name__', fn)!r} takes {len(positional)} positional "
                f"argument(s) ({[p.name for p in positional]}) but {len(tensors)} tensor(s) were given. "
                "Pass one tensor per argument, in order."
            )
    if isinstance(tensors, dict) and not has_varkw:
        unknown = sorted(set(tensors) - names)
        missing = sorted(
            p.name
            for p in signature.parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name not in tensors
        )
        if unknown or missing:
            raise ValueError(
                f"{field}: the dict keys {sorted(tensors)} must match the arguments of "
                f"{getattr(fn, '__name__', fn)!r} ({sorted(names)}); unknown {unknown}, missing {missing}."
            )
    return fn, tensors


def call_fn_with_tensors(fn: Callable, tensors: Any) -> Any:
    """Calls fn positionally for a list/tuple and by keyword for a dict, as the seeds describe."""
    if isinstance(tensors, dict):
        return fn(**tensors)
    return fn(*tensors)


def check_host_call_tensors(tensors: Any) -> None:
    validation.check_batch_major(tensors, "host_call tensors")


_FIELDS = (
    "mode",
    "predictions",
    "loss",
    "train_op",
    "eval_metrics",
    "export_outputs",
    "scaffold_fn",
    "host_call",
    "training_hooks",
    "evaluation_hooks",
    "prediction_hooks",
)


class TPUEstimatorSpec(collections.namedtuple("TPUEstimatorSpec", _FIELDS)):
    """What a TPU `model_fn` returns. It differs from `EstimatorSpec` where the TPU needs it: metrics and
    summaries are functions that run on the host over tensors gathered from every replica, and the scaffold
    is a function, so that it is built on the host rather than inside the replicated step.

    Args:
        mode: The `ModeKeys` value `model_fn` was called with.
        predictions: As for `EstimatorSpec`; with several replicas, a dict of batch-major tensors.
        loss: As for `EstimatorSpec`: a scalar, the mean over this replica's batch.
        train_op: As for `EstimatorSpec`.
        eval_metrics: A `(metric_fn, tensors)` pair; `tensors` is a list (passed positionally) or a dict
            (passed by name) of per-replica tensors. They are concatenated across replicas along the batch
            axis and `metric_fn` gets them on the host, returning a dict of `(value, update_op)` pairs.
        export_outputs: As for `EstimatorSpec`.
        scaffold_fn: A function that takes no arguments and returns a `tf.compat.v1.train.Scaffold`, called
            once on the host (where `init_from_checkpoint` in it changes the real variables' initialisers).
        host_call: A `(fn, tensors)` pair like `eval_metrics`, run on the host with the gathered tensors
            (every step, or at the end of each `iterations_per_loop` loop) and in `evaluate()`; typically it
            writes summaries. Each tensor needs a batch dimension (rank >= 1).
        training_hooks: `SessionRunHook`s run during training.
        evaluation_hooks: `SessionRunHook`s run during evaluation.
        prediction_hooks: `SessionRunHook`s run during prediction.

    Raises:
        ValueError: As for `EstimatorSpec`; also `eval_metrics` or `host_call` is not a pair, its tensors do
            not fit its function's arguments, or a `host_call` tensor is a scalar.
        TypeError: As for `EstimatorSpec`; also the function of a pair is not callable, its tensors are not
            Tensors in a list, tuple or dict, or `scaffold_fn` is not callable.
    """

    __slots__ = ()

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metrics=None,
        export_outputs=None,
        scaffold_fn=None,
        host_call=None,
        training_hooks=None,
        evaluation_hooks=None,
        prediction_hooks=None,
    ):
        check_mode(mode)
        loss = spec_lib.check_loss(loss)
        train_op = spec_lib.check_train_op(train_op)
        predictions = spec_lib.check_predictions(predictions)
        spec_lib.check_required_fields(mode, loss=loss, train_op=train_op, predictions=predictions)
        eval_metrics = check_fn_and_tensors(eval_metrics, "eval_metrics")
        host_call = check_fn_and_tensors(host_call, "host_call")
        if host_call is not None:
            check_host_call_tensors(host_call[1])
        if scaffold_fn is not None and not callable(scaffold_fn):
            raise TypeError(f"scaffold_fn must be a function returning a Scaffold; received {scaffold_fn!r}.")
        if export_outputs is not None:
            spec_lib.check_export_outputs(export_outputs, predictions)
        return super().__new__(
            cls,
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metrics=eval_metrics,
            export_outputs=export_outputs,
            scaffold_fn=scaffold_fn,
            host_call=host_call,
            training_hooks=spec_lib.check_hooks(training_hooks, "training_hooks"),
            evaluation_hooks=spec_lib.check_hooks(evaluation_hooks, "evaluation_hooks"),
            prediction_hooks=spec_lib.check_hooks(prediction_hooks, "prediction_hooks"),
        )

    def build_scaffold(self):
        if self.scaffold_fn is None:
            return None
        # On the host, outside any iterations_per_loop loop body or TPU computation, as the original
        # TPUEstimator called it: init_from_checkpoint there changes the initialisers of the real variables.
        with tf.init_scope():
            scaffold = self.scaffold_fn()
        if not isinstance(scaffold, v1.train.Scaffold):
            raise TypeError(
                f"scaffold_fn must return a tf.compat.v1.train.Scaffold; it returned {type(scaffold).__name__}: "
                f"{scaffold!r}."
            )
        return scaffold

    def as_estimator_spec(self, *, include_eval_metrics: bool = True) -> spec_lib.EstimatorSpec:
        """The equivalent EstimatorSpec for CPU/GPU runs: metric_fn called on this replica's tensors."""
        eval_metric_ops = None
        if include_eval_metrics and self.eval_metrics is not None and self.mode == ModeKeys.EVAL:
            eval_metric_ops = call_fn_with_tensors(*self.eval_metrics)
        hooks = {
            "training_hooks": self.training_hooks,
            "evaluation_hooks": self.evaluation_hooks,
            "prediction_hooks": self.prediction_hooks,
        }
        return spec_lib.EstimatorSpec(
            mode=self.mode,
            predictions=self.predictions,
            loss=self.loss,
            train_op=self.train_op,
            eval_metric_ops=eval_metric_ops,
            export_outputs=self.export_outputs,
            scaffold=self.build_scaffold(),
            **hooks,
        )

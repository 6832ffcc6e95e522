"""`TrainSpec` and `EvalSpec`: what `train_and_evaluate` trains on and how it evaluates.

Both are validated named tuples (the tf.estimator API demands tuples); every field has one small
validator so a bad value fails when the spec is built, not an hour into a run.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.exporters import BestExporter, Exporter

_SessionRunHook = tf.compat.v1.train.SessionRunHook
_CheckpointSaverListener = tf.compat.v1.train.CheckpointSaverListener


def _check_input_fn(spec: str, input_fn: Any) -> Callable:
    if not callable(input_fn):
        raise TypeError(
            f"{spec}.input_fn must be a callable returning a tf.data.Dataset or (features, labels); "
            f"received input_fn={input_fn!r} of type {type(input_fn).__name__}. "
            "Pass the function itself, e.g. input_fn=my_input_fn, not my_input_fn()."
        )
    return input_fn


def _check_steps(spec: str, field: str, value: Any) -> int | None:
    return validation.check_int(
        f"{spec}.{field}", value, allow_none=True, fix="Use None to run until the input is exhausted."
    )


def _check_seconds(spec: str, field: str, value: Any) -> float:
    return validation.check_number(f"{spec}.{field}", value, unit="seconds")


def _check_instances(spec: str, field: str, values: Any, kind: type, kind_name: str) -> tuple:
    if values is None:
        return ()
    if isinstance(values, kind):
        values = [values]
    if not isinstance(values, Iterable) or isinstance(values, (str, bytes, dict)):
        raise TypeError(f"{spec}.{field} must be a list of {kind_name}; received {field}={values!r}.")
    values = tuple(values)
    for value in values:
        if not isinstance(value, kind):
            raise TypeError(
                f"{spec}.{field} must contain only {kind_name} instances; received an element "
                f"{value!r} of type {type(value).__name__}."
            )
    return values


def _check_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise TypeError(f"EvalSpec.name must be a non-empty str or None; received name={name!r}.")
    if "/" in name or "\\" in name:
        raise ValueError(
            f"EvalSpec.name becomes the directory eval_<name>, so it cannot contain a path separator; "
            f"received name={name!r}."
        )
    return name


def _check_exporters(exporters: Any, name: str | None) -> tuple:
    exporters = _check_instances("EvalSpec", "exporters", exporters, Exporter, "Exporter")
    seen: set = set()
    for exporter in exporters:
        if not isinstance(exporter.name, str) or not exporter.name.strip():
            raise ValueError(f"Every exporter needs a non-empty str name; received name={exporter.name!r}.")
        if exporter.name in seen:
            raise ValueError(
                f"EvalSpec.exporters must have unique names (each one exports to export/<name>); "
                f"{exporter.name!r} appears more than once. Give each exporter its own name."
            )
        seen.add(exporter.name)
        if (
            name is not None
            and isinstance(exporter, BestExporter)
            and exporter.event_file_pattern is not None
            and exporter.event_file_pattern.replace("\\", "/").startswith("eval/")
        ):
            raise ValueError(
                f"BestExporter {exporter.name!r} reads past results from {exporter.event_file_pattern!r}, "
                f"but EvalSpec name={name!r} writes its results to eval_{name}/. Pass "
                f"event_file_pattern='eval_{name}/*.tfevents.*' to the BestExporter."
            )
    return exporters


class TrainSpec(
    collections.namedtuple("TrainSpec", ["input_fn", "max_steps", "hooks", "saving_listeners"])
):
    """What to train on and for how long (`max_steps` is a global step; None trains until the input ends).

    Args:
        input_fn: Returns the training data, as for `Estimator.train`.
        max_steps: The global step to stop at; absolute, so a restarted job trains only what is left.
            None trains until the input ends.
        hooks: `SessionRunHook`s for training (a single hook is accepted too).
        saving_listeners: `CheckpointSaverListener`s called around every checkpoint save.

    Raises:
        TypeError: `input_fn` is not callable (e.g. the result of calling it was passed), `max_steps` is not
            an int, or `hooks` / `saving_listeners` hold objects of the wrong type.
        ValueError: `max_steps` is not positive.
    """

    def __new__(
        cls,
        input_fn: Callable,
        max_steps: int | None = None,
        hooks: Sequence[_SessionRunHook] | None = None,
        saving_listeners: Sequence[_CheckpointSaverListener] | None = None,
    ) -> TrainSpec:
        return super().__new__(
            cls,
            input_fn=_check_input_fn("TrainSpec", input_fn),
            max_steps=_check_steps("TrainSpec", "max_steps", max_steps),
            hooks=_check_instances("TrainSpec", "hooks", hooks, _SessionRunHook, "tf.compat.v1.train.SessionRunHook"),
            saving_listeners=_check_instances(
                "TrainSpec",
                "saving_listeners",
                saving_listeners,
                _CheckpointSaverListener,
                "tf.compat.v1.train.CheckpointSaverListener",
            ),
        )


class EvalSpec(
    collections.namedtuple(
        "EvalSpec", ["input_fn", "steps", "name", "hooks", "exporters", "start_delay_secs", "throttle_secs"]
    )
):
    """How to evaluate: the data, the number of batches, when (delay/throttle) and what to export after.

    Args:
        input_fn: Returns the evaluation data, as for `Estimator.evaluate`.
        steps: Batches per evaluation; None evaluates until the input ends.
        name: Separates several evaluations: their results go to `model_dir/eval_<name>`.
        hooks: `SessionRunHook`s for evaluation (a single hook is accepted too).
        exporters: `Exporter`s run after each evaluation with its results (a single exporter is accepted
            too); names must be unique, since each writes to `model_dir/export/<name>`.
        start_delay_secs: How long a separate evaluator task waits before its first evaluation (there is
            no checkpoint to read at first); a local run ignores it.
        throttle_secs: The minimum time between the starts of two evaluations, so that evaluation does not
            take over from training. 0 evaluates every new checkpoint.

    Raises:
        TypeError: `input_fn` is not callable, `steps` is not an int, `name` is not a non-empty str, a
            number of seconds is not a number, or `hooks` / `exporters` hold objects of the wrong type.
        ValueError: `steps` or a number of seconds is out of range; `name` contains a path separator;
            two exporters share a name; a `BestExporter` reads the results of another evaluation than
            this named one (the message gives the `event_file_pattern` to pass).
    """

    def __new__(
        cls,
        input_fn: Callable,
        steps: int | None = 100,
        name: str | None = None,
        hooks: Sequence[_SessionRunHook] | None = None,
        exporters: Exporter | Sequence[Exporter] | None = None,
        start_delay_secs: float = 120,
        throttle_secs: float = 600,
    ) -> EvalSpec:
        name = _check_name(name)
        return super().__new__(
            cls,
            input_fn=_check_input_fn("EvalSpec", input_fn),
            steps=_check_steps("EvalSpec", "steps", steps),
            name=name,
            hooks=_check_instances("EvalSpec", "hooks", hooks, _SessionRunHook, "tf.compat.v1.train.SessionRunHook"),
            exporters=_check_exporters(exporters, name),
            start_delay_secs=_check_seconds("EvalSpec", "start_delay_secs", start_delay_secs),
            throttle_secs=_check_seconds("EvalSpec", "throttle_secs", throttle_secs),
        )


def check_eval_specs(eval_spec: Any) -> tuple:
    """Returns a tuple of EvalSpecs from one spec or a list; names must be distinct (one eval dir each)."""
    if isinstance(eval_spec, EvalSpec):
        return (eval_spec,)
    if isinstance(eval_spec, (list, tuple)) and eval_spec and all(isinstance(s, EvalSpec) for s in eval_spec):
        names = [s.name for s in eval_spec]
        duplicates = sorted({str(n) for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                "Several EvalSpecs need distinct names, since each writes its results to its own "
                f"eval_<name> directory; duplicated name(s): {duplicates}. Set EvalSpec(name=...)."
            )
        exporter_names = [e.name for s in eval_spec for e in s.exporters]
        shared = sorted({n for n in exporter_names if exporter_names.count(n) > 1})
        if shared:
            raise ValueError(
                "Exporters of different EvalSpecs would write to the same export/<name> directory; "
                f"rename the duplicated exporter name(s): {shared}."
            )
        return tuple(eval_spec)
    raise TypeError(
        "eval_spec must be an EvalSpec or a non-empty list of EvalSpecs with distinct names; "
        f"received {eval_spec!r} of type {type(eval_spec).__name__}."
    )

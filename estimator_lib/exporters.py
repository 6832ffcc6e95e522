"""Exporters: write a SavedModel after an evaluation in `train_and_evaluate`.

An exporter decides *whether* to export (every time, only the best model, only at the end); the
estimator's `export_saved_model` does the writing (to a temporary name, then a rename, so a crash never
leaves a half-written export under a timestamp). Old exports are garbage collected here, safely: only
complete timestamped directories are counted, the export just written is never removed, and anything
else in the directory (temporary exports in flight, user files) is left alone.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from estimator_lib import validation

_log = tf.compat.v1.logging
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


class Exporter(abc.ABC):
    """Base class: `name` picks the directory `model_dir/export/<name>`, `export` writes (or not)."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Directory name under `model_dir/export/`; unique among one EvalSpec's exporters."""

    @abc.abstractmethod
    def export(
        self,
        estimator: Any,
        export_path: str,
        checkpoint_path: str,
        eval_result: Mapping[str, Any],
        is_the_final_export: bool,
    ) -> bytes | None:
        """Exports the model at `checkpoint_path` under `export_path` if this exporter wants to.

        `train_and_evaluate` calls it after each evaluation; a subclass decides whether this one is worth
        exporting.

        Args:
            estimator: The Estimator that was evaluated; its `export_saved_model` does the writing.
            export_path: The directory that holds this exporter's timestamped exports.
            checkpoint_path: The checkpoint that was just evaluated.
            eval_result: That evaluation's metrics (with `loss` and `global_step`).
            is_the_final_export: True for the evaluation after training ended.

        Returns:
            The export directory (bytes, as `export_saved_model` returns it), or None when nothing was
            exported.
        """


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"An exporter name must be a non-empty str; received name={name!r}.")
    if "/" in name or "\\" in name:
        raise ValueError(
            f"An exporter name becomes the directory export/<name>, so it cannot contain a path "
            f"separator; received name={name!r}."
        )
    return name


def _check_receiver_fn(fn: Any) -> Callable:
    if not callable(fn):
        raise TypeError(
            "serving_input_receiver_fn must be a callable returning a ServingInputReceiver; "
            f"received {fn!r} of type {type(fn).__name__}."
        )
    return fn


def _check_assets_extra(assets_extra: Any) -> dict[str, str] | None:
    if assets_extra is None:
        return None
    if not isinstance(assets_extra, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in assets_extra.items()
    ):
        raise TypeError(
            "assets_extra must be a dict mapping a destination path inside assets.extra to a source file "
            f"path (both str); received assets_extra={assets_extra!r}."
        )
    return dict(assets_extra)


def _check_exports_to_keep(exports_to_keep: Any) -> int | None:
    return validation.check_int("exports_to_keep", exports_to_keep, allow_none=True, fix="None keeps every export.")


def _check_as_text(as_text: Any) -> bool:
    if not isinstance(as_text, bool):
        raise TypeError(f"as_text must be a bool; received as_text={as_text!r}.")
    return as_text


def _as_str(path: Any) -> str:
    return path.decode("utf-8") if isinstance(path, bytes) else str(path)


def complete_exports(export_path: str) -> list:
    """The complete timestamped export directories under `export_path`, oldest first.

    A directory counts only if its name is all digits (a timestamp) and it holds a saved_model file,
    so exports still being written (temporary names) and foreign files are never counted.
    """
    if not tf.io.gfile.isdir(export_path):
        return []
    found = []
    for entry in tf.io.gfile.listdir(export_path):
        name = entry.rstrip("/")
        if not name.isdigit():
            continue
        directory = os.path.join(export_path, name)
        if any(tf.io.gfile.exists(os.path.join(directory, f)) for f in _SAVED_MODEL_FILES):
            found.append((int(name), directory))
    return [directory for _, directory in sorted(found)]


def garbage_collect_exports(export_path: str, exports_to_keep: int | None, protect: str | None) -> list:
    """Deletes all but the newest `exports_to_keep` complete exports; never deletes `protect`.

    Each victim is first renamed out of the timestamp pattern, then deleted, so a crash in the middle
    leaves a directory nobody will load rather than a half-deleted model. Returns the deleted paths.
    """
    if exports_to_keep is None:
        return []
    exports = complete_exports(export_path)
    protect = os.path.normpath(protect) if protect else None
    keep = set(exports[-exports_to_keep:])
    deleted = []
    for directory in exports:
        if directory in keep or os.path.normpath(directory) == protect:
            continue
        doomed = os.path.join(export_path, "temp-gc-" + os.path.basename(directory))
        try:
            tf.io.gfile.rename(directory, doomed, overwrite=True)
            tf.io.gfile.rmtree(doomed)
            deleted.append(directory)
        except tf.errors.OpError as error:  # another process collected it first; not fatal
            _log.warning("Could not garbage collect export %s: %s", directory, error)
    return deleted


class _SavedModelExporter(Exporter):
    """Shared part: arguments of `export_saved_model`, the write itself and garbage collection."""

    def __init__(
        self,
        name: str,
        serving_input_receiver_fn: Callable,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
    ) -> None:
        self._name = _check_name(name)
        self._serving_input_receiver_fn = _check_receiver_fn(serving_input_receiver_fn)
        self._assets_extra = _check_assets_extra(assets_extra)
        self._as_text = _check_as_text(as_text)
        self._exports_to_keep = _check_exports_to_keep(exports_to_keep)

    @property
    def name(self) -> str:
        return self._name

    def _write(self, estimator: Any, export_path: str, checkpoint_path: str) -> bytes:
        path = estimator.export_saved_model(
            export_path,
            self._serving_input_receiver_fn,
            assets_extra=self._assets_extra,
            as_text=self._as_text,
            checkpoint_path=checkpoint_path,
        )
        garbage_collect_exports(export_path, self._exports_to_keep, protect=_as_str(path))
        return path


class LatestExporter(_SavedModelExporter):
    """Exports after every evaluation and keeps the newest `exports_to_keep` exports.

    A checkpoint already exported by this object is not exported again (the final export of a checkpoint
    that was just evaluated returns the existing directory).

    Args:
        name: The directory under `model_dir/export/` this exporter writes to; no path separators.
        serving_input_receiver_fn: As for `Estimator.export_saved_model`.
        assets_extra: As for `Estimator.export_saved_model`: {destination inside `assets.extra`: source}.
        as_text: Also write the readable `saved_model.pbtxt`.
        exports_to_keep: How many complete exports to keep (oldest removed first); None keeps all.

    Raises:
        ValueError: `name` is empty or contains a path separator, or `exports_to_keep` is not a positive int.
        TypeError: `serving_input_receiver_fn` is not callable, `assets_extra` is not a dict of str to str,
            or `as_text` is not a bool.
    """

    def __init__(
        self,
        name: str,
        serving_input_receiver_fn: Callable,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep)
        self._last: tuple | None = None  # (checkpoint_path, export dir)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if self._last and self._last[0] == checkpoint_path and tf.io.gfile.exists(_as_str(self._last[1])):
            return self._last[1]
        path = self._write(estimator, export_path, checkpoint_path)
        self._last = (checkpoint_path, path)
        return path


class FinalExporter(_SavedModelExporter):
    """Exports once, after the final evaluation of `train_and_evaluate`.

    Args:
        name: The directory under `model_dir/export/` this exporter writes to; no path separators.
        serving_input_receiver_fn: As for `Estimator.export_saved_model`.
        assets_extra: As for `Estimator.export_saved_model`: {destination inside `assets.extra`: source}.
        as_text: Also write the readable `saved_model.pbtxt`.

    Raises:
        ValueError: `name` is empty or contains a path separator.
        TypeError: `serving_input_receiver_fn` is not callable, `assets_extra` is not a dict of str to str,
            or `as_text` is not a bool.
    """

    def __init__(
        self,
        name: str,
        serving_input_receiver_fn: Callable,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep=None)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if not is_the_final_export:
            return None
        return self._write(estimator, export_path, checkpoint_path)


def loss_smaller(best_eval_result: Mapping[str, Any], current_eval_result: Mapping[str, Any]) -> bool:
    """The default `compare_fn`: True when the current evaluation has a strictly smaller 'loss'."""
    for label, result in (("best_eval_result", best_eval_result), ("current_eval_result", current_eval_result)):
        if not result or "loss" not in result:
            raise ValueError(
                f"The default compare_fn compares 'loss', but {label} has no 'loss': {dict(result or {})!r}. "
                "Return 'loss' from evaluation or pass BestExporter(compare_fn=...)."
            )
    return float(current_eval_result["loss"]) < float(best_eval_result["loss"])


class BestExporter(_SavedModelExporter):
    """Exports only when an evaluation beats every earlier one according to `compare_fn`.

    `compare_fn(best_eval_result, current_eval_result) -> bool` returns True when the current result is
    better. On first use the best earlier result is read back from the evaluation event files matching
    `event_file_pattern` (relative to the model directory), so a restarted job does not export a model
    worse than one exported before the restart. `event_file_pattern=None` starts from scratch. The first
    export into an empty directory always happens, so a run always leaves a model.

    Args:
        name: The directory under `model_dir/export/` this exporter writes to (default 'best_exporter'); no
            path separators.
        serving_input_receiver_fn: As for `Estimator.export_saved_model`.
        assets_extra: As for `Estimator.export_saved_model`: {destination inside `assets.extra`: source}.
        as_text: Also write the readable `saved_model.pbtxt`.
        event_file_pattern: Where earlier evaluation results are read from, relative to the model
            directory: `eval/*.tfevents.*` for an unnamed EvalSpec, `eval_<name>/*.tfevents.*` for a named
            one. None ignores earlier results.
        compare_fn: `(best_eval_result, current_eval_result) -> bool`, called with those keyword names;
            True when the current result is better. The default, `loss_smaller`, compares `loss`.
        exports_to_keep: How many complete exports to keep (oldest removed first); None keeps all.

    Raises:
        ValueError: `name` is empty or contains a path separator, `exports_to_keep` is not a positive int, or
            `event_file_pattern` is an absolute path.
        TypeError: `serving_input_receiver_fn` or `compare_fn` is not callable, `assets_extra` is not a dict
            of str to str, `as_text` is not a bool, or `event_file_pattern` is not a non-empty str or None.
    """

    def __init__(
        self,
        name: str = "best_exporter",
        serving_input_receiver_fn: Callable | None = None,
        event_file_pattern: str | None = "eval/*.tfevents.*",
        compare_fn: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = loss_smaller,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep)
        if not callable(compare_fn):
            raise TypeError(
                "compare_fn must be a callable (best_eval_result, current_eval_result) -> bool; "
                f"received compare_fn={compare_fn!r}."
            )
        if event_file_pattern is not None and (not isinstance(event_file_pattern, str) or not event_file_pattern):
            raise TypeError(
                "event_file_pattern must be a glob relative to the model directory (e.g. "
                f"'eval/*.tfevents.*') or None; received event_file_pattern={event_file_pattern!r}."
            )
        if event_file_pattern is not None and os.path.isabs(event_file_pattern):
            raise ValueError(
                "event_file_pattern is relative to the model directory; received the absolute "
                f"pattern {event_file_pattern!r}. Drop the model directory prefix."
            )
        self._compare_fn = compare_fn
        self._event_file_pattern = event_file_pattern
        self._best_eval_result: dict[str, Any] | None = None
        self._loaded_model_dir: str | None = None

    @property
    def event_file_pattern(self) -> str | None:
        return self._event_file_pattern

    @property
    def best_eval_result(self) -> dict[str, Any] | None:
        return None if self._best_eval_result is None else dict(self._best_eval_result)

    def _is_better(self, best: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
        return best is None or bool(self._compare_fn(best_eval_result=best, current_eval_result=current))

    def _load_best(self, model_dir: str, current_step: int | None) -> None:
        """Folds the earlier evaluations on disk into the best result, except the current one."""
        from estimator_lib.training.eval_events import read_eval_results  # avoids an import cycle

        self._loaded_model_dir = model_dir
        if self._event_file_pattern is None:
            return
        history = read_eval_results(os.path.join(model_dir, self._event_file_pattern))
        for step in sorted(history):
            if step == current_step:
                continue  # that is the evaluation being judged now
            try:
                if self._is_better(self._best_eval_result, history[step]):
                    self._best_eval_result = history[step]
            except (KeyError, ValueError, TypeError) as error:
                _log.warning("BestExporter %s ignores the evaluation at step %d: %s", self.name, step, error)
        if self._best_eval_result is not None:
            _log.info("BestExporter %s restored the best result %s", self.name, self._best_eval_result)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        if self._loaded_model_dir != estimator.model_dir:
            step = None if eval_result is None else eval_result.get("global_step")
            self._load_best(estimator.model_dir, None if step is None else int(step))
        # As in the original, the first export into an empty export_path always happens (even without an
        # eval_result), so a run leaves a best model; later ones must beat the best result, also one read
        # back from earlier evaluations (the original re-exported after a restart even when worse).
        first_export = not complete_exports(_as_str(export_path))
        if not first_export and not self._is_better(self._best_eval_result, eval_result):
            return None
        path = self._write(estimator, export_path, checkpoint_path)
        if first_export and self._best_eval_result is not None and eval_result is not None:
            try:
                if not self._is_better(self._best_eval_result, eval_result):
                    return path  # exported, but the best result seen stays the one to beat
            except (KeyError, ValueError, TypeError):
                pass
        self._best_eval_result = None if eval_result is None else dict(eval_result)
        return path

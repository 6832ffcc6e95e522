"""Warm-starting a new model from another model's checkpoint or SavedModel."""

from __future__ import annotations

import collections
import os
import re
from typing import Any

import tensorflow as tf

from estimator_lib import checkpoints

v1 = tf.compat.v1


class WarmStartSettings(
    collections.namedtuple(
        "WarmStartSettings",
        ["ckpt_to_initialize_from", "vars_to_warm_start", "var_name_to_vocab_info", "var_name_to_prev_var_name"],
    )
):
    """Which checkpoint to start from and which variables to take from it.

    `vars_to_warm_start` is a regex (default '.*', all trainable variables), a list of regexes or
    variable names, or None for no variables; `var_name_to_prev_var_name` maps renamed variables.
    """

    def __new__(cls, ckpt_to_initialize_from, vars_to_warm_start=".*", var_name_to_vocab_info=None,
                var_name_to_prev_var_name=None):
        if not ckpt_to_initialize_from or not isinstance(ckpt_to_initialize_from, (str, os.PathLike)):
            raise ValueError(
                "WarmStartSettings ckpt_to_initialize_from must be a checkpoint path, a model directory or a "
                f"SavedModel directory; received {ckpt_to_initialize_from!r}."
            )
        if var_name_to_vocab_info:
            raise ValueError(
                "WarmStartSettings var_name_to_vocab_info (vocabulary remapping) is not supported; warm-start "
                "vocabulary variables by name instead."
            )
        if vars_to_warm_start is not None and not isinstance(vars_to_warm_start, (str, list, tuple)):
            raise ValueError(
                f"WarmStartSettings vars_to_warm_start must be a regex, a list of names/regexes or None; "
                f"received {vars_to_warm_start!r}."
            )
        return super().__new__(cls, os.fspath(ckpt_to_initialize_from), vars_to_warm_start, None,
                               dict(var_name_to_prev_var_name or {}))


def as_settings(warm_start_from: Any) -> WarmStartSettings | None:
    if warm_start_from is None:
        return None
    if isinstance(warm_start_from, WarmStartSettings):
        return warm_start_from
    if isinstance(warm_start_from, (str, os.PathLike)):
        return WarmStartSettings(ckpt_to_initialize_from=warm_start_from)
    raise ValueError(
        "warm_start_from must be a checkpoint/SavedModel path or a WarmStartSettings; "
        f"received {warm_start_from!r}."
    )


def _resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix from a prefix, a model_dir, or a SavedModel dir (its variables/variables)."""
    saved_model_variables = tf.io.gfile.join(path, "variables", "variables")
    if tf.io.gfile.exists(saved_model_variables + ".index"):
        return saved_model_variables
    if tf.io.gfile.isdir(path):
        latest = checkpoints.latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"warm_start_from={path!r} is a directory without a checkpoint or SavedModel in it.")
        return latest
    if tf.io.gfile.exists(path + ".index"):
        return path
    raise ValueError(f"warm_start_from={path!r} is not a checkpoint, a model directory or a SavedModel.")


def _select_variables(vars_to_warm_start: Any) -> list[tf.Variable]:
    if vars_to_warm_start is None:
        return []
    if isinstance(vars_to_warm_start, str):
        pattern = re.compile(vars_to_warm_start)
        candidates = v1.trainable_variables()
        return [v for v in candidates if pattern.match(v.op.name)]
    chosen = []
    every = v1.global_variables()
    for item in vars_to_warm_start:
        if isinstance(item, tf.Variable):
            chosen.append(item)
            continue
        pattern = re.compile(item)
        chosen.extend(v for v in every if pattern.match(v.op.name) and v not in chosen)
    return chosen


def apply(settings: WarmStartSettings) -> None:
    """Makes the current graph's chosen variables initialise from the checkpoint (call before finalize)."""
    prefix = _resolve_checkpoint(settings.ckpt_to_initialize_from)
    reader = tf.train.load_checkpoint(prefix)
    available = reader.get_variable_to_shape_map()
    assignment = {}
    for variable in _select_variables(settings.vars_to_warm_start):
        name = variable.op.name
        previous = settings.var_name_to_prev_var_name.get(name, name)
        if previous not in available:
            raise ValueError(
                f"Warm start: variable {name!r} (looked up as {previous!r}) is not in checkpoint {prefix!r}. "
                "Map renamed variables with var_name_to_prev_var_name or narrow vars_to_warm_start."
            )
        if list(available[previous]) != variable.shape.as_list():
            raise ValueError(
                f"Warm start: variable {name!r} has shape {variable.shape.as_list()} but {previous!r} in {prefix!r} "
                f"has shape {available[previous]}."
            )
        assignment[previous] = variable
    if assignment:
        v1.train.init_from_checkpoint(prefix, assignment)
    tf.get_logger().info("Warm-started %d variables from %s.", len(assignment), prefix)

"""Resolving the user's model from importable references: no pickles cross a pipeline step.

A model is named either by a *model module* (`package.module`, exposing `model_fn`, `input_fn` and,
for export, `serving_input_receiver_fn`) or by `package.module:attribute` references for each function.

A reference resolves only to code of the package it names: the function (or class, or callable
instance, or `functools.partial` of such a function) must be defined in the named module's top-level
package (`my_pkg.models:model_fn` may use a function defined in `my_pkg.common`). Dotted attributes may
go through classes, never through modules, and built-in functions are refused, so a reference cannot
reach `os.system` or `sys.exit` through what a module imported.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

_MODULE = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_REFERENCE = re.compile(rf"^(?P<module>{_MODULE})(?::(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))?$")

EXAMPLE_MODEL = "estimator_kfp.example_models.classifier"


@dataclasses.dataclass(frozen=True)
class ModelFunctions:
    """The user's functions, resolved: `serving_input_receiver_fn` is None when the model has none."""

    model_fn: Callable[..., Any]
    input_fn: Callable[..., Any]
    serving_input_receiver_fn: Callable[..., Any] | None
    reference: str


def _split(reference: str, role: str) -> tuple[str, str | None]:
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError(
            f"{role} must name importable Python code, e.g. 'my_package.my_model' (a module exposing "
            f"model_fn and input_fn) or 'my_package.my_model:model_fn'; received {role}={reference!r}."
        )
    match = _REFERENCE.match(reference.strip())
    if match is None:
        raise ValueError(
            f"{role}={reference!r} is not a valid reference. Use 'package.module' or 'package.module:function' "
            f"(dotted module path, one ':' before the attribute, no spaces or file paths)."
        )
    return match.group("module"), match.group("attr")


def _import(module_name: str, reference: str, role: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{role}={reference!r}: cannot import module {module_name!r} ({error}). Install the package "
            f"that provides it in the component image (or locally with `pip install -e .`), and check the "
            f"spelling."
        ) from error


def _attribute(obj: Any, path: str, reference: str, role: str) -> Any:
    for index, part in enumerate(path.split(".")):
        if index and inspect.ismodule(obj):
            raise ValueError(
                f"{role}={reference!r} goes through the module {obj.__name__!r}: a reference may name a function "
                f"of its own module (or an attribute of a class defined there), not reach into modules it imports. "
                f"Reference '{obj.__name__}:...' directly if that is your code."
            )
        if not hasattr(obj, part):
            available = sorted(name for name in dir(obj) if not name.startswith("_"))
            raise ValueError(
                f"{role}={reference!r}: {getattr(obj, '__name__', obj)!r} has no attribute {part!r}. "
                f"Available names: {available[:20]}."
            )
        obj = getattr(obj, part)
    return obj


def _defining_module(target: Any) -> str | None:
    if isinstance(target, functools.partial):
        return _defining_module(target.func)
    if inspect.isfunction(target) or inspect.isclass(target) or inspect.ismethod(target):
        return getattr(target, "__module__", None)
    if inspect.isbuiltin(target) or inspect.isroutine(target):
        return None  # built-in functions and methods: never user code
    return type(target).__module__  # a callable instance: its class's module


def check_defined_in_package(target: Any, module_name: str, reference: str, role: str) -> Any:
    """Raises unless `target` is code defined in the top-level package of `module_name` (see the module doc)."""
    owner = _defining_module(target)
    package = module_name.split(".")[0]
    if owner is None or owner.split(".")[0] != package:
        where = "a built-in" if owner is None else f"defined in {owner!r}"
        raise ValueError(
            f"{role}={reference!r} resolves to {getattr(target, '__name__', type(target).__name__)!r}, {where}, not "
            f"in the package {package!r} it names. A reference must name your own function, defined in that "
            f"package; wrap other code in a function of yours."
        )
    return target


def load_callable(reference: str, *, role: str = "reference") -> Callable[..., Any]:
    """Imports `package.module:function` and returns the function, checking it is callable."""
    module_name, attr = _split(reference, role)
    if attr is None:
        raise ValueError(
            f"{role}={reference!r} names a module, not a function. Add ':function_name', "
            f"e.g. '{module_name}:input_fn'."
        )
    target = _attribute(_import(module_name, reference, role), attr, reference, role)
    if not callable(target):
        raise TypeError(f"{role}={reference!r} must name a callable; it names a {type(target).__name__}.")
    return check_defined_in_package(target, module_name, reference, role)


def resolve_model(
    model_ref: str, *, input_fn_ref: str = "", serving_input_fn_ref: str = "", require_serving: bool = False
) -> ModelFunctions:
    """Resolves a model module or function references into ModelFunctions, failing with an actionable error.

    `input_fn_ref` / `serving_input_fn_ref` override the module's own functions when given.
    """
    module_name, attr = _split(model_ref, "model_ref")
    if attr is None:
        module = _import(module_name, model_ref, "model_ref")
        model_fn = getattr(module, "model_fn", None)
        if not callable(model_fn):
            raise ValueError(
                f"model_ref={model_ref!r} names a module without a callable `model_fn`. Define "
                f"`model_fn(features, labels, mode, params)` in it, or pass 'module:function'."
            )
        check_defined_in_package(model_fn, module_name, model_ref, "model_ref")
        input_fn = getattr(module, "input_fn", None)
        serving = getattr(module, "serving_input_receiver_fn", None)
        for name, function in (("input_fn", input_fn), ("serving_input_receiver_fn", serving)):
            if callable(function):
                check_defined_in_package(function, module_name, f"{model_ref} ({name})", "model_ref")
    else:
        model_fn = load_callable(model_ref, role="model_ref")
        input_fn = None
        serving = None
    if input_fn_ref:
        input_fn = load_callable(input_fn_ref, role="input_fn_ref")
    if not callable(input_fn):
        raise ValueError(
            f"No input_fn for model_ref={model_ref!r}: pass input_fn_ref='package.module:input_fn' or define "
            f"`input_fn(mode, params)` in the model module."
        )
    if serving_input_fn_ref:
        serving = load_callable(serving_input_fn_ref, role="serving_input_fn_ref")
    if serving is not None and not callable(serving):
        raise TypeError(f"serving_input_receiver_fn of {model_ref!r} must be callable; got {type(serving).__name__}.")
    if require_serving and serving is None:
        raise ValueError(
            f"Exporting needs a serving input function, and model_ref={model_ref!r} has none: pass "
            f"serving_input_fn_ref='package.module:serving_input_receiver_fn' or define "
            f"`serving_input_receiver_fn()` in the model module."
        )
    return ModelFunctions(model_fn=model_fn, input_fn=input_fn, serving_input_receiver_fn=serving, reference=model_ref)


def parse_params(params_json: str | dict | None) -> dict[str, Any]:
    """Parses the JSON `params` string handed to model_fn/input_fn; an object is required."""
    if params_json is None or params_json == "":
        return {}
    if isinstance(params_json, dict):
        return dict(params_json)
    if not isinstance(params_json, str):
        raise TypeError(f"params_json must be a JSON object string; received {type(params_json).__name__}.")
    try:
        value = json.loads(params_json)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"params_json is not valid JSON ({error.msg} at position {error.pos}); received "
            f"params_json={params_json!r}. Pass an object such as '{{\"learning_rate\": 0.1}}'."
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"params_json must be a JSON object (a dict of hyperparameters); received {params_json!r}."
        )
    return value

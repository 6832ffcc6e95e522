"""Calls user functions with only the arguments they declare (model_fn, input_fn, metric_fn...)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def declared_args(fn: Callable[..., Any]) -> tuple[set[str], bool]:
    """Returns (names fn accepts, whether it takes **kwargs); understands functools.partial and methods."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Cannot read the signature of {fn!r}: {error}. Pass a plain Python function.") from None
    bound = set()
    if isinstance(fn, functools.partial):
        bound = set(fn.keywords or {})
    names = set()
    takes_kwargs = False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
        elif parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(parameter.name)
    return names - bound, takes_kwargs


def call_with_declared_args(
    fn: Callable[..., Any], available: Mapping[str, Any], *, required: tuple[str, ...] = (), role: str = "function"
) -> Any:
    """Calls fn with the subset of `available` it declares.

    Raises a TypeError when fn declares an argument we cannot supply or lacks a required one, naming it.
    """
    names, takes_kwargs = declared_args(fn)
    missing_required = [name for name in required if name not in names and not takes_kwargs]
    if missing_required:
        raise TypeError(
            f"{role} {getattr(fn, '__name__', fn)!r} must accept the argument(s) {missing_required}; "
            f"it declares {sorted(names)}."
        )
    unknown = sorted(names - set(available))
    if unknown:
        signature = inspect.signature(fn)
        really_unknown = [n for n in unknown if signature.parameters[n].default is inspect.Parameter.empty]
        if really_unknown:
            raise TypeError(
                f"{role} {getattr(fn, '__name__', fn)!r} declares argument(s) {really_unknown} that this library "
                f"cannot supply; a {role} may declare only {sorted(available)}."
            )
    if takes_kwargs:
        kwargs = dict(available)
    else:
        kwargs = {name: value for name, value in available.items() if name in names}
    return fn(**kwargs)

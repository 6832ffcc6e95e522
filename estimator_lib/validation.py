"""The argument checks many modules share, with one rule for the exception type.

The rule: a value of the wrong type raises `WrongTypeError`, a `TypeError`; a value of the right type
that breaks the rule (0 where a positive count is needed) raises `ValueError`. `WrongTypeError` is also
a `ValueError`, because tf.estimator raised ValueError for many wrong types (`TPUConfig(num_shards='8')`,
`Estimator(config={})`) and code written against it catches that.

Every message names the argument, the value received, the rule, and how to fix it when that is not
obvious from the rule. Booleans are never integers here, though Python's `bool` is an `int`.
"""

from __future__ import annotations

import numbers
from typing import Any


class WrongTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError; also a ValueError, as tf.estimator raised)."""


def is_int(value: Any) -> bool:
    """An integer (Python or NumPy), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number (Python or NumPy int or float), but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _received(name: str, value: Any, *, with_type: bool) -> str:
    short = name.rsplit(" ", 1)[-1].rsplit(".", 1)[-1]  # "RunConfig keep_checkpoint_max" -> keep_checkpoint_max
    kind = f" of type {type(value).__name__}" if with_type else ""
    return f"received {short}={value!r}{kind}"


def _integer_rule(minimum: int | None) -> str:
    if minimum is None:
        return "an integer"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = 1,
    below: int | None = None,
    allow_none: bool = False,
    rule: str = "",
    fix: str = "",
) -> Any:
    """`value` if it is an integer >= minimum (and < below, when given; or None when allowed), else a
    WrongTypeError/ValueError.

    `name` is how the message names the argument ("steps", "RunConfig save_summary_steps"); `rule` adds what
    the number means ("the global batch size"); `fix` is a sentence on how to correct it.
    """
    if value is None and allow_none:
        return None
    rule_text = f"an integer in [{minimum or 0}, {below})" if below is not None else _integer_rule(minimum)
    described = rule_text + (f" ({rule})" if rule else "") + (" or None" if allow_none else "")
    tail = f" {fix}" if fix else ""
    if not is_int(value):
        raise WrongTypeError(f"{name} must be {described}; {_received(name, value, with_type=True)}.{tail}")
    if (minimum is not None and value < minimum) or (below is not None and value >= below):
        raise ValueError(f"{name} must be {described}; {_received(name, value, with_type=False)}.{tail}")
    return value


def check_number(
    name: str, value: Any, *, minimum: float = 0, exclusive: bool = False, allow_none: bool = False, unit: str = "",
    fix: str = "",
) -> Any:
    """`value` if it is a real number >= minimum (> minimum when exclusive), or None when allowed."""
    if value is None and allow_none:
        return None
    if exclusive and minimum == 0:
        bound = "a positive number"
    elif minimum == 0:
        bound = "a non-negative number"
    else:
        bound = f"a number {'>' if exclusive else '>='} {minimum}"
    described = bound + (f" of {unit}" if unit else "") + (" or None" if allow_none else "")
    tail = f" {fix}" if fix else ""
    if not is_number(value):
        raise WrongTypeError(f"{name} must be {described}; {_received(name, value, with_type=True)}.{tail}")
    if value < minimum or (exclusive and value == minimum):
        raise ValueError(f"{name} must be {described}; {_received(name, value, with_type=False)}.{tail}")
    return value


def check_bool(name: str, value: Any, *, meaning: str = "") -> bool:
    """`value` if it is True or False (not 0/1, not a string)."""
    if not isinstance(value, bool):
        explained = f" ({meaning})" if meaning else ""
        raise WrongTypeError(f"{name} must be True or False{explained}; {_received(name, value, with_type=True)}.")
    return value


def check_batch_major(tensors: Any, what: str) -> None:
    """Tensors that are concatenated across replicas along axis 0 must have a batch axis (rank >= 1)."""
    import tensorflow as tf  # here, so importing this module costs no TensorFlow

    for tensor in tf.nest.flatten(tensors):
        if tensor.shape.rank == 0:
            raise ValueError(
                f"{what} are concatenated along the batch axis, so each must have rank >= 1; {tensor.name} is a "
                "scalar. Return a batch-major tensor, or reshape it: tf.reshape(x, [1])."
            )

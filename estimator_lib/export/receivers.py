"""Serving input receivers: what a served model takes as input and how it becomes features."""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

v1 = tf.compat.v1

SINGLE_FEATURE_NAME = "feature"
SINGLE_RECEIVER_NAME = "input"


_TENSOR_TYPES = (tf.Tensor, tf.SparseTensor, tf.RaggedTensor)


def _as_tensor(value: Any, field: str, key: Any) -> Any:
    """A Tensor, SparseTensor or RaggedTensor as is; a tensor wrapper (an object with a `.tensor` attribute
    and a registered conversion, such as a labeled tensor) converted, as the original accepted it."""
    if isinstance(value, _TENSOR_TYPES):
        return value
    if hasattr(value, "tensor"):
        try:
            return tf.convert_to_tensor(value)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{field}[{key!r}] must be a Tensor, SparseTensor or RaggedTensor; received {value!r}.")


def _as_tensor_dict(value: Any, default_name: str, field: str, *, allow_int_keys: bool = False) -> dict[Any, Any]:
    if not isinstance(value, Mapping) and (isinstance(value, _TENSOR_TYPES) or hasattr(value, "tensor")):
        return {default_name: _as_tensor(value, field, default_name)}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{field} must be a Tensor or a non-empty dict of string to Tensor; received {value!r}.")
    checked = {}
    for key, tensor in value.items():
        if isinstance(key, bool) or not isinstance(key, (str, int) if allow_int_keys else str):
            rule = "strings or ints" if allow_int_keys else "strings"
            raise ValueError(f"{field} keys must be {rule}; received key {key!r}.")
        checked[key] = _as_tensor(tensor, field, key)
    return checked


def _check_alternatives(alternatives: Any) -> dict[str, dict[str, Any]] | None:
    if alternatives is None:
        return None
    if not isinstance(alternatives, Mapping):
        raise ValueError(
            f"receiver_tensors_alternatives must be a dict of name -> receiver tensors; received {alternatives!r}."
        )
    return {
        name: _as_tensor_dict(tensors, SINGLE_RECEIVER_NAME, f"receiver_tensors_alternatives[{name!r}]")
        for name, tensors in alternatives.items()
    }


class ServingInputReceiver(
    collections.namedtuple("ServingInputReceiver", ["features", "receiver_tensors", "receiver_tensors_alternatives"])
):
    """Features for model_fn (a dict) and the tensors the server feeds."""

    def __new__(cls, features, receiver_tensors, receiver_tensors_alternatives=None):
        if features is None:
            raise ValueError("ServingInputReceiver needs features; received None.")
        return super().__new__(
            cls,
            features=_as_tensor_dict(features, SINGLE_FEATURE_NAME, "features", allow_int_keys=True),
            receiver_tensors=_as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_NAME, "receiver_tensors"),
            receiver_tensors_alternatives=_check_alternatives(receiver_tensors_alternatives),
        )


class TensorServingInputReceiver(
    collections.namedtuple(
        "TensorServingInputReceiver", ["features", "receiver_tensors", "receiver_tensors_alternatives"]
    )
):
    """Like ServingInputReceiver, but model_fn receives `features` as one bare Tensor."""

    def __new__(cls, features, receiver_tensors, receiver_tensors_alternatives=None):
        if not isinstance(features, (tf.Tensor, tf.SparseTensor)):
            raise ValueError(f"TensorServingInputReceiver features must be a single Tensor; received {features!r}.")
        return super().__new__(
            cls,
            features=features,
            receiver_tensors=_as_tensor_dict(receiver_tensors, SINGLE_RECEIVER_NAME, "receiver_tensors"),
            receiver_tensors_alternatives=_check_alternatives(receiver_tensors_alternatives),
        )


def build_parsing_serving_input_receiver_fn(
    feature_spec: Mapping[str, Any], default_batch_size: int | None = None
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn that takes serialized tf.Example strings and parses them with `feature_spec`."""
    if not isinstance(feature_spec, Mapping) or not feature_spec:
        raise ValueError(
            "feature_spec must be a non-empty dict of name -> tf.io.FixedLenFeature/VarLenFeature; "
            f"received {feature_spec!r}."
        )

    def serving_input_receiver_fn() -> ServingInputReceiver:
        examples = v1.placeholder(tf.string, shape=[default_batch_size], name="input_example_tensor")
        features = tf.io.parse_example(examples, dict(feature_spec))
        return ServingInputReceiver(features, {"examples": examples})

    return serving_input_receiver_fn


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, tf.Tensor] | tf.Tensor, default_batch_size: int | None = None
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn that feeds raw tensors shaped like `features` (the batch dimension left open)."""
    templates = _as_tensor_dict(features, SINGLE_FEATURE_NAME, "features")

    def serving_input_receiver_fn() -> ServingInputReceiver:
        placeholders = {}
        for name, template in templates.items():
            # The batch dimension is replaced; a template of unknown rank gives a placeholder of unknown shape.
            shape = tf.TensorShape([default_batch_size]).concatenate(template.shape[1:])
            placeholders[name] = v1.placeholder(template.dtype, shape=shape, name=name)
        return ServingInputReceiver(placeholders, dict(placeholders))

    return serving_input_receiver_fn

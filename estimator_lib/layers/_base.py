"""What every v1 layer here shares: TF1's variable naming (scope per layer object, uniquified on first
call, reused on later calls) and the argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib import validation

v1 = tf.compat.v1

_ACTIVATIONS: dict[str, Callable] = {
    "linear": lambda x: x,
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "elu": tf.nn.elu,
    "selu": tf.nn.selu,
    "gelu": tf.nn.gelu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "softmax": tf.nn.softmax,
    "softplus": tf.nn.softplus,
    "swish": tf.nn.silu,
}


def activation_fn(activation: Any) -> Callable | None:
    """None, a callable, or a Keras activation name (mnist_tpu passes activation="relu")."""
    if activation is None or callable(activation):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation]
    raise ValueError(
        f"activation must be None, a callable or one of {sorted(_ACTIVATIONS)}; received {activation!r}. "
        "Pass the function itself, e.g. activation=tf.nn.relu."
    )


def pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints (kernel_size, strides, pool_size, dilation_rate)."""
    if validation.is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(validation.is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints; received {value!r}.")


def pad_of(padding: Any) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'; received {padding!r}.")
    return padding.upper()


def channels_last(data_format: Any) -> bool:
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first'; received {data_format!r}.")
    return data_format == "channels_last"


def positive_int(value: Any, name: str) -> int:
    """`units` / `filters`: a positive int (a bool is refused, though Python counts it as an int)."""
    return validation.check_int(name, value)


def refuse(**unsupported: Any) -> None:
    """Arguments of the v1 layers this module does not implement: an error rather than silent neglect."""
    given = sorted(name for name, value in unsupported.items() if value not in (None, False))
    if given:
        raise ValueError(
            f"estimator_lib.layers does not support {', '.join(given)}; received "
            + ", ".join(f"{name}={unsupported[name]!r}" for name in given)
            + ". Apply it outside the layer (e.g. tf.clip_by_norm on the variable) or leave it unset."
        )


class Layer:
    """A v1 layer object: variables live in a variable scope named after the layer, chosen at the first
    call (`dense`, `dense_1`, ... within the enclosing scope, or the given name, uniquified the same way),
    and reused by later calls, as tf.compat.v1.layers did."""

    base_name = "layer"

    def __init__(self, *, name: str | None = None, trainable: bool = True, reuse: Any = None, dtype: Any = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None; received {type(name).__name__}: {name!r}.")
        self.name = name or self.base_name
        self.trainable = trainable
        self._reuse = reuse
        self.dtype = dtype
        self._scope: Any = None
        self.built = False

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self._scope is None:
            if self._reuse:
                with v1.variable_scope(self.name) as scope:
                    self._scope = scope
            else:
                with v1.variable_scope(None, default_name=self.name) as scope:
                    self._scope = scope
        reuse = True if (self.built or self._reuse is True) else self._reuse
        with v1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False), \
                tf.name_scope(self._scope.original_name_scope):
            inputs = tf.convert_to_tensor(inputs)
            outputs = self.call(inputs, *args, **kwargs)
        self.built = True
        return outputs

    def call(self, inputs: tf.Tensor, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def variable(self, name: str, shape, initializer=None, regularizer=None, trainable: bool | None = None,
                 dtype=None) -> tf.Variable:
        return v1.get_variable(
            name, shape=shape, dtype=dtype or self.dtype or tf.float32, initializer=initializer,
            regularizer=regularizer, trainable=self.trainable if trainable is None else trainable,
        )


class KernelLayer(Layer):
    """What Dense and Conv2D share: a kernel, an optional bias, an activation, their initializers and
    regularizers, and the same refused arguments (constraints, activity regularizer). Subclasses keep the v1
    signature (users pass these positionally) and hand the shared part here by keyword."""

    def __init__(self, *, activation: Any, use_bias: bool, kernel_initializer: Any, bias_initializer: Any,
                 kernel_regularizer: Any, bias_regularizer: Any, activity_regularizer: Any, kernel_constraint: Any,
                 bias_constraint: Any, trainable: bool, name: str | None, **kwargs: Any):
        refuse(activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
               bias_constraint=bias_constraint)
        super().__init__(name=name, trainable=trainable, reuse=kwargs.pop("_reuse", None),
                         dtype=kwargs.pop("dtype", None))
        self.activation = activation_fn(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or v1.zeros_initializer()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer

    def kernel(self, shape: list) -> tf.Variable:
        return self.variable("kernel", shape, self.kernel_initializer, self.kernel_regularizer)

    def add_bias_and_activate(self, outputs: tf.Tensor, width: int, data_format: str | None = None) -> tf.Tensor:
        """`activation(outputs + bias)`, each part only when configured (bias variable `<scope>/bias`)."""
        if self.use_bias:
            bias = self.variable("bias", [width], self.bias_initializer, self.bias_regularizer)
            outputs = tf.nn.bias_add(outputs, bias, data_format=data_format)
        return self.activation(outputs) if self.activation is not None else outputs

"""Dense, Dropout and Flatten as tf.compat.v1.layers had them (functions and classes)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.layers._base import Layer, activation_fn, refuse

v1 = tf.compat.v1


class Dense(Layer):
    base_name = "dense"

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = None, kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 trainable: bool = True, name: str | None = None, **kwargs: Any):
        validation.check_int("units", units)
        refuse(activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
               bias_constraint=bias_constraint)
        super().__init__(name=name, trainable=trainable, reuse=kwargs.pop("_reuse", None),
                         dtype=kwargs.pop("dtype", None))
        self.units = units
        self.activation = activation_fn(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or v1.zeros_initializer()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        depth = inputs.shape[-1]
        if depth is None:
            raise ValueError(f"The last dimension of the inputs to Dense must be known; received shape {inputs.shape}.")
        kernel = self.variable("kernel", [depth, self.units], self.kernel_initializer, self.kernel_regularizer)
        if inputs.shape.rank == 2:
            outputs = tf.matmul(inputs, kernel)
        else:
            outputs = tf.tensordot(inputs, kernel, [[inputs.shape.rank - 1], [0]])
        if self.use_bias:
            bias = self.variable("bias", [self.units], self.bias_initializer, self.bias_regularizer)
            outputs = tf.nn.bias_add(outputs, bias)
        return self.activation(outputs) if self.activation is not None else outputs


def dense(inputs: Any, units: int, activation: Any = None, use_bias: bool = True, kernel_initializer: Any = None,
          bias_initializer: Any = None, kernel_regularizer: Any = None, bias_regularizer: Any = None,
          activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
          trainable: bool = True, name: str | None = None, reuse: Any = None) -> tf.Tensor:
    """`inputs @ kernel + bias`; variables `<scope>/<name or dense>/kernel|bias`."""
    return Dense(units, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, trainable, name,
                 _reuse=reuse)(inputs)


class Dropout(Layer):
    base_name = "dropout"

    def __init__(self, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None, name: str | None = None,
                 **kwargs: Any):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1) (the fraction of units dropped); received {rate!r}.")
        super().__init__(name=name, dtype=kwargs.pop("dtype", None))
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: tf.Tensor, training: Any = False) -> tf.Tensor:
        def dropped():
            return tf.nn.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)

        if isinstance(training, (bool, type(None))):
            return dropped() if training and self.rate > 0 else tf.identity(inputs)
        return tf.cond(tf.cast(training, tf.bool), dropped, lambda: tf.identity(inputs))


def dropout(inputs: Any, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None, training: Any = False,
            name: str | None = None) -> tf.Tensor:
    """Drops a `rate` fraction of the units when `training` (a bool or a boolean Tensor)."""
    return Dropout(rate, noise_shape, seed, name)(inputs, training=training)


class Flatten(Layer):
    base_name = "flatten"

    def __init__(self, data_format: str | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, dtype=kwargs.pop("dtype", None))
        self.data_format = data_format or "channels_last"

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if self.data_format == "channels_first" and inputs.shape.rank and inputs.shape.rank > 2:
            inputs = tf.transpose(inputs, [0, *range(2, inputs.shape.rank), 1])
        rest = inputs.shape[1:]
        width = rest.num_elements() if rest.is_fully_defined() else -1
        return tf.reshape(inputs, [tf.shape(inputs)[0] if inputs.shape[0] is None else inputs.shape[0], width])


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> tf.Tensor:
    """[batch, ...] -> [batch, product of the rest]."""
    return Flatten(data_format, name)(inputs)

"""Conv2D, MaxPooling2D and AveragePooling2D as tf.compat.v1.layers had them (functions and classes)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.layers._base import Layer, activation_fn, channels_last, pad_of, pair, refuse

v1 = tf.compat.v1


class Conv2D(Layer):
    base_name = "conv2d"

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = (1, 1), activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = None,
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                 name: str | None = None, **kwargs: Any):
        validation.check_int("filters", filters)
        refuse(activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
               bias_constraint=bias_constraint)
        super().__init__(name=name, trainable=trainable, reuse=kwargs.pop("_reuse", None),
                         dtype=kwargs.pop("dtype", None))
        self.filters = filters
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        self.padding = pad_of(padding)
        self.nhwc = channels_last(data_format)
        self.dilation_rate = pair(dilation_rate, "dilation_rate")
        self.activation = activation_fn(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or v1.zeros_initializer()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if inputs.shape.rank != 4:
            raise ValueError(
                f"Conv2D needs 4-D inputs (batch, height, width, channels); received shape {inputs.shape}."
            )
        channels = inputs.shape[-1 if self.nhwc else 1]
        kernel = self.variable("kernel", [*self.kernel_size, channels, self.filters], self.kernel_initializer,
                               self.kernel_regularizer)
        data_format = "NHWC" if self.nhwc else "NCHW"
        outputs = tf.nn.conv2d(inputs, kernel, strides=self.strides, padding=self.padding,
                               data_format=data_format, dilations=self.dilation_rate)
        if self.use_bias:
            bias = self.variable("bias", [self.filters], self.bias_initializer, self.bias_regularizer)
            outputs = tf.nn.bias_add(outputs, bias, data_format=data_format)
        return self.activation(outputs) if self.activation is not None else outputs


def conv2d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: Any = (1, 1), activation: Any = None,
           use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = None,
           kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
           kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
           name: str | None = None, reuse: Any = None) -> tf.Tensor:
    """2-D convolution; variables `<scope>/<name or conv2d>/kernel|bias`, kernel [kh, kw, in, filters]."""
    return Conv2D(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                  kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
                  kernel_constraint, bias_constraint, trainable, name, _reuse=reuse)(inputs)


class _Pooling2D(Layer):
    pool = staticmethod(tf.nn.max_pool2d)

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid", data_format: str = "channels_last",
                 name: str | None = None, **kwargs: Any):
        super().__init__(name=name, dtype=kwargs.pop("dtype", None))
        self.pool_size = pair(pool_size, "pool_size")
        self.strides = pair(strides, "strides")
        self.padding = pad_of(padding)
        self.nhwc = channels_last(data_format)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return type(self).pool(inputs, ksize=self.pool_size, strides=self.strides, padding=self.padding,
                               data_format="NHWC" if self.nhwc else "NCHW")


class MaxPooling2D(_Pooling2D):
    base_name = "max_pooling2d"
    pool = staticmethod(tf.nn.max_pool2d)


class AveragePooling2D(_Pooling2D):
    base_name = "average_pooling2d"
    pool = staticmethod(tf.nn.avg_pool2d)


def max_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: str | None = None) -> tf.Tensor:
    return MaxPooling2D(pool_size, strides, padding, data_format, name)(inputs)


def average_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: str | None = None) -> tf.Tensor:
    return AveragePooling2D(pool_size, strides, padding, data_format, name)(inputs)

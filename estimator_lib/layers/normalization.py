"""batch_normalization (tf.compat.v1.layers) and layer_norm (tf.contrib.layers) with their variable names.

Moving statistics are updated by ops in the UPDATE_OPS collection, as in TF1: run them with the train op
(`tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))`). They are
ON_READ/MEAN variables, as Keras 2 made them, so each replica of a tf.distribute strategy may update its
own copy and a read (a checkpoint) gives the mean.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.layers import _base
from estimator_lib.layers._base import Layer, refuse

v1 = tf.compat.v1


def _as_bool_tensor_or_bool(training: Any) -> Any:
    if isinstance(training, (bool, type(None))):
        return bool(training)
    return tf.cast(training, tf.bool)


class BatchNormalization(Layer):
    base_name = "batch_normalization"

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = None, gamma_initializer: Any = None,
                 moving_mean_initializer: Any = None, moving_variance_initializer: Any = None,
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, fused: Any = None, trainable: bool = True,
                 virtual_batch_size: Any = None, adjustment: Any = None, name: str | None = None, **kwargs: Any):
        validation.check_int("axis", axis, minimum=None, rule="the channel axis")
        refuse(beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
               renorm_clipping=renorm_clipping, virtual_batch_size=virtual_batch_size, adjustment=adjustment)
        super().__init__(name=name, trainable=trainable, reuse=kwargs.pop("_reuse", None),
                         dtype=kwargs.pop("dtype", None))
        self.axis, self.momentum, self.epsilon, self.center, self.scale = axis, momentum, epsilon, center, scale
        self.beta_initializer = beta_initializer or v1.zeros_initializer()
        self.gamma_initializer = gamma_initializer or v1.ones_initializer()
        self.moving_mean_initializer = moving_mean_initializer or v1.zeros_initializer()
        self.moving_variance_initializer = moving_variance_initializer or v1.ones_initializer()
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.fused = fused

    def _moving(self, name: str, shape, initializer) -> tf.Variable:
        return v1.get_variable(
            name, shape=shape, dtype=tf.float32, initializer=initializer, trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ, aggregation=tf.VariableAggregation.MEAN,
        )

    def call(self, inputs: tf.Tensor, training: Any = False) -> tf.Tensor:
        rank = inputs.shape.rank
        if rank is None:
            raise ValueError("batch_normalization needs inputs of known rank; received an unknown shape.")
        axis = self.axis % rank
        channels = inputs.shape[axis]
        if channels is None:
            raise ValueError(
                f"The channel axis {self.axis} of the inputs must be known; received shape {inputs.shape}."
            )
        gamma = self.variable("gamma", [channels], self.gamma_initializer, self.gamma_regularizer) \
            if self.scale else None
        beta = self.variable("beta", [channels], self.beta_initializer, self.beta_regularizer) if self.center else None
        moving_mean = self._moving("moving_mean", [channels], self.moving_mean_initializer)
        moving_variance = self._moving("moving_variance", [channels], self.moving_variance_initializer)
        reduce_axes = [i for i in range(rank) if i != axis]
        shape = [1] * rank
        shape[axis] = channels

        def normalize(mean, variance):
            return tf.nn.batch_normalization(
                inputs, tf.reshape(mean, shape), tf.reshape(variance, shape),
                None if beta is None else tf.reshape(beta, shape), None if gamma is None else tf.reshape(gamma, shape),
                self.epsilon,
            )

        def batch_statistics():
            mean, variance = tf.nn.moments(tf.cast(inputs, tf.float32), reduce_axes)
            return mean, variance

        training = _as_bool_tensor_or_bool(training)
        if training is False:
            return normalize(moving_mean, moving_variance)
        mean, variance = batch_statistics()
        decay = 1.0 - self.momentum
        moving_target = variance
        if self.fused is not False and rank == 4 and axis in (1, 3):
            # TF1 ran 4-D inputs through the fused kernel, whose running variance is the unbiased one.
            count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), reduce_axes)), tf.float32)
            moving_target = variance * count / tf.maximum(count - 1.0, 1.0)
        if training is True:
            outputs = normalize(mean, variance)
            updates = [moving_mean.assign_sub((moving_mean - mean) * decay),
                       moving_variance.assign_sub((moving_variance - moving_target) * decay)]
        else:
            outputs = tf.cond(training, lambda: normalize(mean, variance),
                              lambda: normalize(moving_mean, moving_variance))
            weight = tf.cast(training, tf.float32) * decay
            updates = [moving_mean.assign_sub((moving_mean - mean) * weight),
                       moving_variance.assign_sub((moving_variance - moving_target) * weight)]
        for update in updates:
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
        return outputs


def batch_normalization(inputs: Any, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                        center: bool = True, scale: bool = True, beta_initializer: Any = None,
                        gamma_initializer: Any = None, moving_mean_initializer: Any = None,
                        moving_variance_initializer: Any = None, beta_regularizer: Any = None,
                        gamma_regularizer: Any = None, beta_constraint: Any = None, gamma_constraint: Any = None,
                        training: Any = False, trainable: bool = True, name: str | None = None, reuse: Any = None,
                        renorm: bool = False, renorm_clipping: Any = None, renorm_momentum: float = 0.99,
                        fused: Any = None, virtual_batch_size: Any = None, adjustment: Any = None) -> tf.Tensor:
    """Batch statistics when `training`, moving ones otherwise; variables gamma, beta, moving_mean,
    moving_variance under `<scope>/<name or batch_normalization>/`. The arithmetic runs unfused; for 4-D
    inputs (unless fused=False) the running variance takes the unbiased batch variance, as TF1's fused kernel did."""
    layer = BatchNormalization(axis, momentum, epsilon, center, scale, beta_initializer, gamma_initializer,
                               moving_mean_initializer, moving_variance_initializer, beta_regularizer,
                               gamma_regularizer, beta_constraint, gamma_constraint, renorm, renorm_clipping,
                               renorm_momentum, fused, trainable, virtual_batch_size, adjustment, name, _reuse=reuse)
    return layer(inputs, training=training)


def layer_norm(inputs: Any, center: bool = True, scale: bool = True, activation_fn: Any = None, reuse: Any = None,
               variables_collections: Any = None, outputs_collections: Any = None, trainable: bool = True,
               begin_norm_axis: int = 1, begin_params_axis: int = -1, scope: Any = None) -> tf.Tensor:
    """tf.contrib.layers.layer_norm: normalise over axes begin_norm_axis.. (epsilon 1e-12); variables
    `<scope or LayerNorm>/beta` and `/gamma` of shape inputs.shape[begin_params_axis:] (BERT's names)."""
    refuse(variables_collections=variables_collections, outputs_collections=outputs_collections)
    activation = _base.activation_fn(activation_fn)
    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if rank is None:
        raise ValueError("layer_norm needs inputs of known rank; received an unknown shape.")
    norm_axis = begin_norm_axis % rank if -rank <= begin_norm_axis < rank else None
    params_axis = begin_params_axis % rank if -rank <= begin_params_axis < rank else None
    if norm_axis is None or params_axis is None:
        raise ValueError(
            f"begin_norm_axis ({begin_norm_axis}) and begin_params_axis ({begin_params_axis}) must be axes of the "
            f"rank-{rank} inputs."
        )
    params_shape = inputs.shape[params_axis:]
    if not params_shape.is_fully_defined():
        raise ValueError(f"layer_norm needs inputs.shape[{begin_params_axis}:] known; received shape {inputs.shape}.")
    with v1.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse):
        beta = v1.get_variable("beta", params_shape, initializer=v1.zeros_initializer(), trainable=trainable) \
            if center else None
        gamma = v1.get_variable("gamma", params_shape, initializer=v1.ones_initializer(), trainable=trainable) \
            if scale else None
        mean, variance = tf.nn.moments(inputs, list(range(norm_axis, rank)), keepdims=True)
        outputs = tf.nn.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma, variance_epsilon=1e-12)
        return activation(outputs) if activation is not None else outputs

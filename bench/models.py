"""The benchmark models and data, written once and shared by every path.

Every path (estimator_lib, the hand loop, Keras and tf.estimator 2.15) runs the same forward
function on the same initial weights and the same batches, so differences in the figures come
from the training machinery alone. The module imports TensorFlow lazily and uses only APIs that
exist in both TF 2.15 and TF 2.21 (`tf.compat.v1.get_variable`, v1 optimizers, v1 metrics).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

DATA_BATCHES = 16  # distinct batches in the synthetic data set, repeated forever


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One benchmark model: architecture, batch size and SGD learning rate."""

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    batch_size: int
    learning_rate: float
    hidden: tuple[int, ...] = ()  # MLP hidden widths
    channels: int = 0  # CNN width
    blocks: int = 0  # CNN residual blocks

    @property
    def kind(self) -> str:
        return "cnn" if self.channels else "mlp"


MODELS: dict[str, ModelConfig] = {
    # Overhead-bound: a step is a few small matmuls.
    "mlp": ModelConfig("mlp", (32,), 4, 64, 0.05, hidden=(64, 64)),
    # Compute-bound: five 3x3 convolutions over 16x16 images per step.
    "cnn": ModelConfig("cnn", (16, 16, 3), 10, 32, 0.01, channels=16, blocks=2),
    # The smoke test's model: as small as a model gets.
    "tiny": ModelConfig("tiny", (8,), 2, 8, 0.05, hidden=(8,)),
}


def get_config(name: str) -> ModelConfig:
    """Returns the named model, with an error that lists the known names."""
    if name not in MODELS:
        raise ValueError(
            f"Unknown benchmark model: received model={name!r}. Choose one of {sorted(MODELS)}."
        )
    return MODELS[name]


def param_shapes(cfg: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the trainable weights, in creation order."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    if cfg.kind == "mlp":
        width = cfg.input_shape[0]
        for i, units in enumerate(cfg.hidden):
            shapes += [(f"dense{i}/kernel", (width, units)), (f"dense{i}/bias", (units,))]
            width = units
        shapes += [("logits/kernel", (width, cfg.num_classes)), ("logits/bias", (cfg.num_classes,))]
        return shapes
    c, in_c = cfg.channels, cfg.input_shape[-1]
    shapes += [("stem/kernel", (3, 3, in_c, c)), ("stem/bias", (c,))]
    for b in range(cfg.blocks):
        for j in (0, 1):
            shapes += [(f"block{b}/conv{j}/kernel", (3, 3, c, c)), (f"block{b}/conv{j}/bias", (c,))]
    shapes += [("logits/kernel", (c, cfg.num_classes)), ("logits/bias", (cfg.num_classes,))]
    return shapes


def initial_values(cfg: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot-uniform kernels and zero biases, drawn from numpy so every path starts identical."""
    rng = np.random.default_rng(seed)
    values: dict[str, np.ndarray] = {}
    for name, shape in param_shapes(cfg):
        if name.endswith("bias"):
            values[name] = np.zeros(shape, np.float32)
            continue
        fan_in = int(np.prod(shape[:-1]))
        fan_out = int(shape[-1]) * (int(np.prod(shape[:-2])) if len(shape) == 4 else 1)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        values[name] = rng.uniform(-limit, limit, shape).astype(np.float32)
    return values


def forward(weights: dict[str, Any], x: Any, cfg: ModelConfig) -> Any:
    """Logits for a batch; `weights` maps param names to variables or tensors."""
    import tensorflow as tf

    if cfg.kind == "mlp":
        h = x
        for i in range(len(cfg.hidden)):
            h = tf.nn.relu(tf.nn.bias_add(tf.matmul(h, weights[f"dense{i}/kernel"]), weights[f"dense{i}/bias"]))
        return tf.nn.bias_add(tf.matmul(h, weights["logits/kernel"]), weights["logits/bias"])

    def conv(t: Any, prefix: str) -> Any:
        y = tf.nn.conv2d(t, weights[f"{prefix}/kernel"], strides=1, padding="SAME")
        return tf.nn.bias_add(y, weights[f"{prefix}/bias"])

    h = tf.nn.relu(conv(x, "stem"))
    for b in range(cfg.blocks):
        y = tf.nn.relu(conv(h, f"block{b}/conv0"))
        h = tf.nn.relu(h + conv(y, f"block{b}/conv1"))
    pooled = tf.reduce_mean(h, axis=[1, 2])
    return tf.nn.bias_add(tf.matmul(pooled, weights["logits/kernel"]), weights["logits/bias"])


def loss_fn(logits: Any, labels: Any) -> Any:
    """Mean sparse softmax cross-entropy (labels int32)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def make_arrays(cfg: ModelConfig, n_batches: int = DATA_BATCHES, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pre-batched features [n, B, ...] and int32 labels [n, B] from a random linear teacher."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_batches, cfg.batch_size) + cfg.input_shape).astype(np.float32)
    teacher = rng.standard_normal((int(np.prod(cfg.input_shape)), cfg.num_classes)).astype(np.float32)
    flat = x.reshape(n_batches, cfg.batch_size, -1)
    y = np.argmax(flat @ teacher, axis=-1).astype(np.int32)
    return x, y


def make_dataset(cfg: ModelConfig, *, with_labels: bool = True, n_batches: int | None = None) -> Any:
    """The input pipeline every path uses: ({'x': batch}, labels) elements, already batched.

    Elements are whole batches sliced from one array, so the pipeline costs one slice per step
    and its batch dimension is static (what TPUEstimator-style input needs). With `n_batches`
    the data set is finite (for predict); otherwise it repeats forever.
    """
    import tensorflow as tf

    x, y = make_arrays(cfg)
    ds = tf.data.Dataset.from_tensor_slices(({"x": x}, y) if with_labels else {"x": x})
    ds = ds.repeat()
    if n_batches is not None:
        ds = ds.take(n_batches)
    return ds.prefetch(2)


# ---------------------------------------------------------------------------------------------
# model_fn for the Estimator paths (estimator_lib and tf.estimator 2.15): the same source for both.
# ---------------------------------------------------------------------------------------------


def _graph_weights(cfg: ModelConfig) -> dict[str, Any]:
    import tensorflow as tf

    weights = {}
    for name, value in initial_values(cfg).items():
        weights[name] = tf.compat.v1.get_variable(
            name, shape=value.shape, dtype=tf.float32, initializer=tf.compat.v1.constant_initializer(value)
        )
    return weights


def make_model_fn(cfg: ModelConfig, api: Any, *, tpu: bool) -> Callable[..., Any]:
    """A model_fn over v1 graph APIs; `api` supplies the spec classes of the library under test.

    `api` needs `ModeKeys`, `EstimatorSpec`, `PredictOutput` and, with `tpu=True`,
    `TPUEstimatorSpec` (returned with `eval_metrics=(metric_fn, tensors)` as TPU code does).
    """

    def metric_fn(labels: Any, logits: Any) -> dict[str, Any]:
        import tensorflow as tf

        classes = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"accuracy": tf.compat.v1.metrics.accuracy(labels=labels, predictions=classes)}

    def model_fn(features: Any, labels: Any, mode: str, params: Any) -> Any:
        import tensorflow as tf

        weights = _graph_weights(cfg)
        logits = forward(weights, features["x"], cfg)
        classes = tf.argmax(logits, axis=-1, output_type=tf.int32)
        if mode == api.ModeKeys.PREDICT:
            predictions = {"logits": logits, "classes": classes}
            outputs = {"serving_default": api.PredictOutput(predictions)}
            spec_cls = api.TPUEstimatorSpec if tpu else api.EstimatorSpec
            return spec_cls(mode=mode, predictions=predictions, export_outputs=outputs)
        loss = loss_fn(logits, labels)
        train_op = None
        if mode == api.ModeKeys.TRAIN:
            optimizer = tf.compat.v1.train.GradientDescentOptimizer(cfg.learning_rate)
            train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
        if tpu:
            return api.TPUEstimatorSpec(
                mode=mode, loss=loss, train_op=train_op, eval_metrics=(metric_fn, [labels, logits])
            )
        return api.EstimatorSpec(
            mode=mode, loss=loss, train_op=train_op, eval_metric_ops=metric_fn(labels, logits)
        )

    return model_fn


def serving_input_receiver_fn(cfg: ModelConfig, api: Any) -> Callable[[], Any]:
    """A receiver with one float32 placeholder 'x' of shape [None, *input_shape]."""

    def fn() -> Any:
        import tensorflow as tf

        x = tf.compat.v1.placeholder(tf.float32, (None,) + cfg.input_shape, name="x")
        return api.ServingInputReceiver({"x": x}, {"x": x})

    return fn

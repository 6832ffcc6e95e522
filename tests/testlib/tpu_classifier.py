"""A tiny classifier in the seeds' TPUEstimator style (the MNIST examples, imports aside), input_fns that
honour params['batch_size'], and TPU RunConfigs over N virtual CPU replicas (tests/conftest.py makes them)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.tpu.tpu_config import RunConfig, TPUConfig
from estimator_lib.tpu.tpu_estimator import TPUEstimator
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1

DIM = 6
NUM_CLASSES = 3
N_TRAIN = 64
N_EVAL = 48


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features x ~ N(0, 1) in DIM dims; the class is the argmax of the first NUM_CLASSES features plus
    noise, so no model is perfect and metrics can tell a wrong gather from a right one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    noisy = x[:, :NUM_CLASSES] + rng.normal(size=(n, NUM_CLASSES))
    return x, np.argmax(noisy, axis=1).astype(np.int32)


TRAIN_X, TRAIN_Y = make_data(N_TRAIN, 0)
EVAL_X, EVAL_Y = make_data(N_EVAL, 1)


def mirrored(replicas: int):
    """None for one replica (the default strategy), else a MirroredStrategy over that many virtual CPUs."""
    if replicas == 1:
        return None
    return v1.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])


def tpu_run_config(model_dir: str, replicas: int = 1, iterations_per_loop=1, per_host=True, **kwargs) -> RunConfig:
    kwargs.setdefault("save_checkpoints_steps", 1000)
    kwargs.setdefault("log_step_count_steps", 1000)
    kwargs.setdefault("save_summary_steps", 0)
    return RunConfig(
        model_dir=model_dir,
        train_distribute=mirrored(replicas),
        tf_random_seed=3,
        tpu_config=TPUConfig(iterations_per_loop=iterations_per_loop, per_host_input_for_training=per_host),
        **kwargs,
    )


def train_input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices(({"x": TRAIN_X, "id": np.arange(N_TRAIN)}, TRAIN_Y))
    return dataset.repeat().batch(params["batch_size"], drop_remainder=True)


def eval_input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices(({"x": EVAL_X, "id": np.arange(N_EVAL)}, EVAL_Y))
    return dataset.batch(params["batch_size"], drop_remainder=True)


def logits_of(features) -> tf.Tensor:
    w = v1.get_variable("w", [DIM, NUM_CLASSES], initializer=v1.zeros_initializer())
    b = v1.get_variable("b", [NUM_CLASSES], initializer=v1.zeros_initializer())
    return tf.matmul(features["x"], w) + b


def train_op_for(loss: tf.Tensor, learning_rate: float = 0.5):
    return v1.train.GradientDescentOptimizer(learning_rate).minimize(loss, global_step=v1.train.get_global_step())


def loss_of(labels, logits) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


# ---- the seeds' MNIST example, imports aside ---------------------------------------------------------
# The metric Fn which runs on CPU.
def metric_fn(labels, logits):
    predictions = tf.argmax(logits, 1)
    return {
        "accuracy": v1.metrics.precision(labels=labels, predictions=predictions),
    }


# Your model Fn which runs on TPU (eval_metrics is list in this example)
def model_fn_list(features, labels, mode, config, params):
    logits = logits_of(features)
    loss = loss_of(labels, logits) if mode != ModeKeys.PREDICT else None
    if mode == ModeKeys.EVAL:
        return TPUEstimatorSpec(mode=mode, loss=loss, eval_metrics=(metric_fn, [labels, logits]))
    if mode == ModeKeys.TRAIN:
        return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op_for(loss))
    return TPUEstimatorSpec(mode=mode, predictions={"logits": logits})


# or specify the eval_metrics tensors as dict.
def model_fn_dict(features, labels, mode, config, params):
    final_layer_output = logits_of(features)
    loss = loss_of(labels, final_layer_output)
    if mode == ModeKeys.EVAL:
        return TPUEstimatorSpec(
            mode=mode,
            loss=loss,
            eval_metrics=(
                metric_fn,
                {
                    "labels": labels,
                    "logits": final_layer_output,
                },
            ),
        )
    return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op_for(loss))


def estimator(model_fn, model_dir: str, replicas: int = 1, use_tpu: bool | None = None, iterations_per_loop=1,
              per_host=True, config_kwargs: dict | None = None, **kwargs) -> TPUEstimator:
    """A TPUEstimator over `replicas` virtual CPUs (use_tpu=True with an explicit strategy when > 1)."""
    kwargs.setdefault("train_batch_size", 16)
    kwargs.setdefault("eval_batch_size", 16)
    kwargs.setdefault("predict_batch_size", 16)
    config = tpu_run_config(model_dir, replicas, iterations_per_loop, per_host, **(config_kwargs or {}))
    return TPUEstimator(
        model_fn=model_fn, config=config, use_tpu=replicas > 1 if use_tpu is None else use_tpu, **kwargs
    )


def numpy_eval(weights: np.ndarray, bias: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The eval loss and the seeds' 'accuracy' (v1 precision of argmax vs labels) computed in numpy."""
    logits = x @ weights + bias
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    predicted = logits.argmax(axis=1)
    true_positive = np.sum((predicted != 0) & (y != 0))
    false_positive = np.sum((predicted != 0) & (y == 0))
    return {"loss": loss, "accuracy": float(true_positive / max(true_positive + false_positive, 1))}

"""A small 3-class classifier written the way the tf.estimator documents show.

Data is synthetic and deterministic (three Gaussian blobs in 4 dimensions), so the example needs no
download. Only the imports differ from tf.estimator code.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import estimator_lib as est

NUM_CLASSES = 3
NUM_FEATURES = 4
DEFAULT_PARAMS = {
    "hidden_units": [16, 16],
    "learning_rate": 0.1,
    "batch_size": 32,
    "n_examples": 1024,
    "seed": 0,
}


def make_data(n_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated blobs; the same (n_examples, seed) always gives the same arrays."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0, 0.0, 1.0], [-2.0, 1.5, 0.0, -1.0], [0.0, -2.0, 2.0, 0.0]], dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=n_examples).astype(np.int32)
    features = centers[labels] + rng.normal(scale=0.9, size=(n_examples, NUM_FEATURES)).astype(np.float32)
    return features.astype(np.float32), labels


def input_fn(mode, params):
    """Training data repeats and shuffles; evaluation and prediction read a held-out set once."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    train = mode == est.ModeKeys.TRAIN
    seed = params["seed"] if train else params["seed"] + 1
    features, labels = make_data(params["n_examples"], seed)
    if mode == est.ModeKeys.PREDICT:
        dataset = tf.data.Dataset.from_tensor_slices({"x": features})
    else:
        dataset = tf.data.Dataset.from_tensor_slices(({"x": features}, labels))
    if train:
        dataset = dataset.shuffle(params["n_examples"], seed=params["seed"]).repeat()
    return dataset.batch(params["batch_size"])


def _dense(inputs, units, name, activation=None):
    """A dense layer from tf.compat.v1.get_variable, so checkpoints keep the same names on any TF."""
    with tf.compat.v1.variable_scope(name):
        kernel = tf.compat.v1.get_variable(
            "kernel", [inputs.shape[-1], units], initializer=tf.compat.v1.glorot_uniform_initializer()
        )
        bias = tf.compat.v1.get_variable("bias", [units], initializer=tf.compat.v1.zeros_initializer())
        outputs = tf.matmul(inputs, kernel) + bias
        return activation(outputs) if activation else outputs


def model_fn(features, labels, mode, params):
    params = {**DEFAULT_PARAMS, **(params or {})}
    net = features["x"]
    for index, units in enumerate(params["hidden_units"]):
        net = _dense(net, units, f"hidden_{index}", activation=tf.nn.relu)
    logits = _dense(net, NUM_CLASSES, "logits")
    probabilities = tf.nn.softmax(logits)
    class_ids = tf.argmax(logits, axis=1, output_type=tf.int32)
    predictions = {"class_ids": class_ids, "probabilities": probabilities, "logits": logits}

    if mode == est.ModeKeys.PREDICT:
        classes = tf.strings.as_string(class_ids)[:, tf.newaxis]
        return est.EstimatorSpec(
            mode=mode,
            predictions=predictions,
            export_outputs={
                "serving_default": est.export.PredictOutput(predictions),
                "classification": est.export.ClassificationOutput(scores=probabilities, classes=classes),
            },
        )

    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    if mode == est.ModeKeys.EVAL:
        return est.EstimatorSpec(
            mode=mode,
            loss=loss,
            eval_metric_ops={"accuracy": tf.compat.v1.metrics.accuracy(labels=labels, predictions=class_ids)},
        )

    optimizer = tf.compat.v1.train.AdagradOptimizer(learning_rate=params["learning_rate"])
    train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
    return est.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)


def serving_input_receiver_fn():
    """Serving takes serialized tf.Example protos with a float feature 'x' of length 4."""
    feature_spec = {"x": tf.io.FixedLenFeature([NUM_FEATURES], tf.float32)}
    return est.export.build_parsing_serving_input_receiver_fn(feature_spec)()

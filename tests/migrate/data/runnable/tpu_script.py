"""A TPUEstimator script in the tf.compat.v1 style, as it was written for TF 2.15 with tensorflow-estimator.

use_tpu=False runs the same program on the CPU. The test upgrades it and runs the result on TF 2.21.
Usage: python tpu_script.py MODEL_DIR
"""
import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.compat.v1.estimator import tpu


def input_fn(params):
    batch_size = params["batch_size"]  # set by TPUEstimator from train/eval_batch_size
    rng = np.random.RandomState(3)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, y))
    return dataset.repeat().batch(batch_size, drop_remainder=True)


def metric_fn(labels, logits):
    return {"accuracy": tf.metrics.accuracy(labels, tf.argmax(logits, axis=1))}


def model_fn(features, labels, mode, params):
    with tf.variable_scope("linear"):
        weights = tf.get_variable("weights", [4, 2])
        logits = tf.matmul(features["x"], weights)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == tf.estimator.ModeKeys.EVAL:
        return tpu.TPUEstimatorSpec(mode, loss=loss, eval_metrics=(metric_fn, [labels, logits]))
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    if params.get("use_tpu"):
        optimizer = tf.tpu.CrossShardOptimizer(optimizer)
    train_op = optimizer.minimize(loss, global_step=tf.train.get_global_step())
    return tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op)


def main(model_dir):
    config = tpu.RunConfig(
        model_dir=model_dir,
        tf_random_seed=5,
        tpu_config=tpu.TPUConfig(iterations_per_loop=2),
    )
    estimator = tpu.TPUEstimator(
        model_fn=model_fn, config=config, use_tpu=False, params={"use_tpu": False},
        train_batch_size=16, eval_batch_size=16,
    )
    estimator.train(input_fn, max_steps=6)
    metrics = estimator.evaluate(input_fn, steps=2)
    print(json.dumps({"global_step": int(metrics["global_step"]), "accuracy": float(metrics["accuracy"])}))


if __name__ == "__main__":
    main(sys.argv[1])

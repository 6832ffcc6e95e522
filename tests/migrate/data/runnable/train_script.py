"""A tf.estimator training script as it was written for TF 2.x with tensorflow-estimator.

Runs as is on TF 2.15; the test upgrades it with the tool and runs the result on TF 2.21.
Usage: python train_script.py MODEL_DIR EXPORT_DIR
"""
import json
import sys

import numpy as np
import tensorflow as tf
from tensorflow.estimator import export as tf_export  # serving helpers

TRAIN_STEPS = 8


def input_fn(mode, params):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int32)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.data.Dataset.from_tensor_slices({"x": x}).batch(params["batch_size"])
    dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, y))
    if mode == tf.estimator.ModeKeys.TRAIN:
        dataset = dataset.repeat()
    return dataset.batch(params["batch_size"])


def model_fn(features, labels, mode, params):
    weights = tf.compat.v1.get_variable("weights", [4, 2])
    bias = tf.compat.v1.get_variable("bias", [2], initializer=tf.compat.v1.zeros_initializer())
    logits = tf.matmul(features["x"], weights) + bias
    predictions = {"class": tf.argmax(logits, axis=1)}
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(
            mode,
            predictions=predictions,
            export_outputs={"serving_default": tf_export.PredictOutput(predictions)},
        )
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == tf.estimator.ModeKeys.EVAL:
        accuracy = tf.compat.v1.metrics.accuracy(labels, predictions["class"])
        return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={"accuracy": accuracy})
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(params["learning_rate"])
    train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def main(model_dir, export_dir):
    config = tf.estimator.RunConfig(model_dir=model_dir, save_checkpoints_steps=4, tf_random_seed=1)
    estimator = tf.estimator.Estimator(
        model_fn, config=config, params={"learning_rate": 0.1, "batch_size": 16}
    )
    estimator.train(
        lambda: input_fn(tf.estimator.ModeKeys.TRAIN, estimator.params),
        hooks=[tf.estimator.StopAtStepHook(last_step=TRAIN_STEPS)],
    )
    metrics = estimator.evaluate(lambda: input_fn(tf.estimator.ModeKeys.EVAL, estimator.params))
    predictions = list(estimator.predict(lambda: input_fn(tf.estimator.ModeKeys.PREDICT, estimator.params)))
    serving_fn = tf_export.build_parsing_serving_input_receiver_fn(
        {"x": tf.io.FixedLenFeature([4], tf.float32)}
    )
    exported = estimator.export_saved_model(export_dir, serving_fn)
    print(json.dumps({
        "global_step": int(metrics["global_step"]),
        "accuracy": float(metrics["accuracy"]),
        "predictions": len(predictions),
        "export": exported.decode() if isinstance(exported, bytes) else exported,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

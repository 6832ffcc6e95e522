"""A TF 2.x tf.estimator program: every estimator name reached through `tf.` attribute chains."""

from __future__ import annotations

import os

import tensorflow as tf  # TensorFlow itself stays
import estimator_lib


def model_fn(features, labels, mode: estimator_lib.ModeKeys, params):
    logits = estimator_lib.layers.dense(features["x"], 3)  # no Keras 3 equivalent by that name
    if mode == estimator_lib.ModeKeys.PREDICT:
        return estimator_lib.EstimatorSpec(
            mode,
            predictions={"logits": logits},
            export_outputs={
                "serving_default": estimator_lib.export.PredictOutput({"logits": logits}),
            },
        )
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.compat.v1.train.AdamOptimizer().minimize(
        loss, global_step=tf.compat.v1.train.get_or_create_global_step())
    return estimator_lib.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)


class PrintHook(estimator_lib.SessionRunHook):
    def before_run(self, run_context):
        return estimator_lib.SessionRunArgs({"step": tf.compat.v1.train.get_global_step()})


def build(model_dir, tf=None):
    # `tf` is a parameter here: this chain is not the module and must stay as written.
    assert tf is None or tf.estimator
    config = tf.estimator.RunConfig(model_dir=model_dir) if tf else None
    estimator = tf.compat.v1.estimator.Estimator(model_fn, config=config)
    return estimator


def main():
    config = estimator_lib.RunConfig(
        model_dir=os.environ.get("MODEL_DIR"),  # where checkpoints go
        save_checkpoints_steps=100,
    )
    estimator = estimator_lib.Estimator(model_fn=model_fn, config=config)
    v2 = estimator_lib.RunConfig()
    hooks = [
        estimator_lib.StopAtStepHook(last_step=10),
        estimator_lib.experimental.stop_if_no_decrease_hook(estimator, "loss", 100),
        tf.estimator.SecondOrStepTimer(every_steps=5),
    ]
    train_spec = estimator_lib.TrainSpec(input_fn=lambda: None, max_steps=10, hooks=hooks)
    eval_spec = estimator_lib.EvalSpec(
        input_fn=lambda: None,
        exporters=[estimator_lib.LatestExporter("latest", serving_input_receiver_fn=None)],
    )
    estimator_lib.train_and_evaluate(estimator, train_spec, eval_spec)
    receiver_fn = estimator_lib.export.build_raw_serving_input_receiver_fn(
        {"x": tf.compat.v1.placeholder(tf.float32, [None, 4])})
    tpu_estimator = estimator_lib.tpu.TPUEstimator(
        model_fn=model_fn,
        config=estimator_lib.tpu.RunConfig(
            tpu_config=estimator_lib.tpu.TPUConfig(iterations_per_loop=10)),
        train_batch_size=32,
    )
    canned = tf.estimator.DNNClassifier(hidden_units=[8], feature_columns=[])
    data = tf.estimator.inputs.numpy_input_fn({"x": None})
    return estimator, v2, receiver_fn, tpu_estimator, canned, data, estimator_lib.ModeKeys.TRAIN

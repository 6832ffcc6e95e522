# A training script written the way tensorflow/tpu's models/official/resnet/resnet_main.py is written
# (tf.flags, tf.layers with fused batch norm, UPDATE_OPS, CrossShardOptimizer when use_tpu,
# tf.contrib.tpu.TPUEstimator), with a tiny network. Test data for `estimator-pipelines upgrade`.
"""Train a tiny ResNet-style network (test program)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import imagenet_input
import tensorflow as tf

FLAGS = tf.flags.FLAGS

tf.flags.DEFINE_bool("use_tpu", default=False, help="Use TPU to execute the model for training and evaluation.")
tf.flags.DEFINE_string("model_dir", default=None, help="The directory where the model and training/eval summaries are stored.")
tf.flags.DEFINE_integer("train_steps", default=4, help="The number of steps to use for training.")
tf.flags.DEFINE_integer("train_batch_size", default=16, help="Batch size for training.")
tf.flags.DEFINE_integer("eval_batch_size", default=16, help="Batch size for evaluation.")
tf.flags.DEFINE_integer("iterations_per_loop", default=2, help="Number of steps to run on TPU before outfeeding metrics.")
tf.flags.DEFINE_float("base_learning_rate", default=0.1, help="Base learning rate.")

BATCH_NORM_DECAY = 0.9
BATCH_NORM_EPSILON = 1e-5


def batch_norm_relu(inputs, is_training, relu=True):
  inputs = tf.layers.batch_normalization(
      inputs=inputs, axis=3, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON, center=True,
      scale=True, training=is_training, fused=True)
  if relu:
    inputs = tf.nn.relu(inputs)
  return inputs


def tiny_resnet(inputs, is_training, num_classes):
  inputs = tf.layers.conv2d(inputs=inputs, filters=4, kernel_size=3, strides=1, padding="SAME",
                            use_bias=False, kernel_initializer=tf.variance_scaling_initializer())
  inputs = batch_norm_relu(inputs, is_training)
  shortcut = inputs
  inputs = tf.layers.conv2d(inputs=inputs, filters=4, kernel_size=3, strides=1, padding="SAME",
                            use_bias=False, kernel_initializer=tf.variance_scaling_initializer())
  inputs = batch_norm_relu(inputs, is_training, relu=False)
  inputs = tf.nn.relu(inputs + shortcut)
  inputs = tf.layers.max_pooling2d(inputs=inputs, pool_size=2, strides=2, padding="SAME")
  inputs = tf.reduce_mean(inputs, [1, 2])
  return tf.layers.dense(inputs=inputs, units=num_classes,
                         kernel_initializer=tf.random_normal_initializer(stddev=.01))


def resnet_model_fn(features, labels, mode, params):
  logits = tiny_resnet(features, mode == tf.estimator.ModeKeys.TRAIN, imagenet_input.NUM_CLASSES)

  if mode == tf.estimator.ModeKeys.PREDICT:
    predictions = {"classes": tf.argmax(logits, axis=1), "probabilities": tf.nn.softmax(logits)}
    return tf.contrib.tpu.TPUEstimatorSpec(mode=mode, predictions=predictions)

  one_hot_labels = tf.one_hot(labels, imagenet_input.NUM_CLASSES)
  loss = tf.losses.softmax_cross_entropy(logits=logits, onehot_labels=one_hot_labels)

  train_op = None
  if mode == tf.estimator.ModeKeys.TRAIN:
    global_step = tf.train.get_global_step()
    optimizer = tf.train.MomentumOptimizer(learning_rate=FLAGS.base_learning_rate, momentum=0.9)
    if FLAGS.use_tpu:
      optimizer = tf.contrib.tpu.CrossShardOptimizer(optimizer)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_op = optimizer.minimize(loss, global_step)

  eval_metrics = None
  if mode == tf.estimator.ModeKeys.EVAL:
    def metric_fn(labels, logits):
      predictions = tf.argmax(logits, axis=1)
      return {"top_1_accuracy": tf.metrics.accuracy(labels, predictions)}

    eval_metrics = (metric_fn, [labels, logits])

  return tf.contrib.tpu.TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op, eval_metrics=eval_metrics)


def main(unused_argv):
  config = tf.contrib.tpu.RunConfig(
      cluster=None,
      model_dir=FLAGS.model_dir,
      save_checkpoints_steps=FLAGS.train_steps,
      tpu_config=tf.contrib.tpu.TPUConfig(
          iterations_per_loop=FLAGS.iterations_per_loop,
          per_host_input_for_training=tf.contrib.tpu.InputPipelineConfig.PER_HOST_V2))
  resnet_classifier = tf.contrib.tpu.TPUEstimator(
      use_tpu=FLAGS.use_tpu,
      model_fn=resnet_model_fn,
      config=config,
      train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size)

  imagenet_train = imagenet_input.ImageNetInput(is_training=True)
  imagenet_eval = imagenet_input.ImageNetInput(is_training=False)
  resnet_classifier.train(input_fn=imagenet_train.input_fn, max_steps=FLAGS.train_steps)
  eval_results = resnet_classifier.evaluate(input_fn=imagenet_eval.input_fn, steps=2)
  tf.logging.info("Eval results: %s", eval_results)


if __name__ == "__main__":
  tf.logging.set_verbosity(tf.logging.INFO)
  tf.app.run()

# A trainer written the way tensorflow/tpu's models/official/mnist/mnist_tpu.py is written (absl flags,
# `import tensorflow.compat.v1 as tf`, tf.layers classes, tf.tpu.CrossShardOptimizer when use_tpu), on
# synthetic 28x28 images. Test data for `estimator-pipelines upgrade`: do not modernise.
"""MNIST-style model training with TPUEstimator (test program)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.compat.v1 import estimator as tf_estimator

flags.DEFINE_string("model_dir", None, "Estimator model_dir")
flags.DEFINE_integer("batch_size", 16, "Mini-batch size for the training (global).")
flags.DEFINE_integer("train_steps", 4, "Total number of training steps.")
flags.DEFINE_float("learning_rate", 0.05, "Learning rate.")
flags.DEFINE_bool("use_tpu", True, "Use TPUs rather than plain CPUs")
flags.DEFINE_integer("iterations", 2, "Number of iterations per TPU training loop.")

FLAGS = flags.FLAGS


def metric_fn(labels, logits):
  accuracy = tf.metrics.accuracy(labels=labels, predictions=tf.argmax(logits, axis=1))
  return {"accuracy": accuracy}


def model_fn(features, labels, mode, params):
  del params
  image = features / 255.
  y = tf.layers.Conv2D(filters=4, kernel_size=5, padding="same", activation="relu")(image)
  y = tf.layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="same")(y)
  y = tf.layers.Conv2D(filters=4, kernel_size=5, padding="same", activation="relu")(y)
  y = tf.layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="same")(y)
  y = tf.layers.Flatten()(y)
  y = tf.layers.Dense(32, activation="relu")(y)
  y = tf.layers.Dropout(0.4)(y, training=(mode == tf_estimator.ModeKeys.TRAIN))
  logits = tf.layers.Dense(10)(y)

  loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  if mode == tf_estimator.ModeKeys.TRAIN:
    learning_rate = tf.train.exponential_decay(
        FLAGS.learning_rate, tf.train.get_global_step(), decay_steps=100000, decay_rate=0.96)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate=learning_rate)
    if FLAGS.use_tpu:
      optimizer = tf.tpu.CrossShardOptimizer(optimizer)
    return tf_estimator.tpu.TPUEstimatorSpec(
        mode=mode, loss=loss, train_op=optimizer.minimize(loss, tf.train.get_global_step()))
  return tf_estimator.tpu.TPUEstimatorSpec(mode=mode, loss=loss, eval_metrics=(metric_fn, [labels, logits]))


def train_input_fn(params):
  rng = np.random.RandomState(0)
  images = rng.randint(0, 255, size=(64, 28, 28, 1)).astype(np.float32)
  labels = rng.randint(0, 10, size=(64,)).astype(np.int64)
  return tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(
      params["batch_size"], drop_remainder=True)


def main(argv):
  del argv
  run_config = tf_estimator.tpu.RunConfig(
      model_dir=FLAGS.model_dir,
      tpu_config=tf_estimator.tpu.TPUConfig(FLAGS.iterations))
  estimator = tf_estimator.tpu.TPUEstimator(
      model_fn=model_fn, use_tpu=FLAGS.use_tpu, train_batch_size=FLAGS.batch_size,
      eval_batch_size=FLAGS.batch_size, config=run_config)
  estimator.train(input_fn=train_input_fn, max_steps=FLAGS.train_steps)


if __name__ == "__main__":
  app.run(main)

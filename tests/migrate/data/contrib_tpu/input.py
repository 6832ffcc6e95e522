"""TF 1.x TPUEstimator code written against tf.contrib.tpu."""
import tensorflow as tf
from tensorflow.contrib import tpu as contrib_tpu
from tensorflow.contrib.tpu.python.tpu import tpu_estimator as tpu_lib


def model_fn(features, labels, mode, params):
    logits = tf.contrib.layers.fully_connected(features, 2)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = tf.contrib.tpu.CrossShardOptimizer(tf.train.AdamOptimizer())
    train_op = optimizer.minimize(loss, tf.train.get_global_step())
    return tf.contrib.tpu.TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op)


config = tf.contrib.tpu.RunConfig(
    tpu_config=tf.contrib.tpu.TPUConfig(iterations_per_loop=50, num_shards=8))
estimator = tf.contrib.tpu.TPUEstimator(model_fn=model_fn, config=config, train_batch_size=128)
again = contrib_tpu.TPUEstimator(model_fn=model_fn, config=contrib_tpu.RunConfig())
shards = contrib_tpu.shard
third = tpu_lib.TPUEstimator(model_fn=model_fn, config=config)

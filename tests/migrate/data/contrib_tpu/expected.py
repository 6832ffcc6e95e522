"""TF 1.x TPUEstimator code written against tf.contrib.tpu."""
import tensorflow.compat.v1 as tf
import estimator_lib
from tensorflow.contrib import tpu as contrib_tpu
from estimator_lib import tpu as tpu_lib


def model_fn(features, labels, mode, params):
    logits = tf.contrib.layers.fully_connected(features, 2)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = estimator_lib.tpu.CrossShardOptimizer(tf.train.AdamOptimizer())
    train_op = optimizer.minimize(loss, tf.train.get_global_step())
    return estimator_lib.tpu.TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op)


config = estimator_lib.tpu.RunConfig(
    tpu_config=estimator_lib.tpu.TPUConfig(iterations_per_loop=50, num_shards=8))
estimator = estimator_lib.tpu.TPUEstimator(model_fn=model_fn, config=config, train_batch_size=128)
again = estimator_lib.tpu.TPUEstimator(model_fn=model_fn, config=estimator_lib.tpu.RunConfig())
shards = contrib_tpu.shard
third = tpu_lib.TPUEstimator(model_fn=model_fn, config=config)

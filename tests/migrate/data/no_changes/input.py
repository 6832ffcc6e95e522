"""Plain TensorFlow and already-migrated code: the tool leaves it exactly as it is."""
import tensorflow as tf

import estimator_lib
from estimator_lib import tpu


def model_fn(features, labels, mode, params):
    estimator = params.get("estimator")  # a variable named like the old module
    return estimator_lib.EstimatorSpec(mode, loss=tf.reduce_sum(features), train_op=tf.no_op())


def run(tf_estimator=None):
    est = tf_estimator.Estimator(model_fn) if tf_estimator else None
    return est, tpu.TPUEstimator, tf.data.Dataset.range(3), tf.compat.v1.train.SessionRunHook

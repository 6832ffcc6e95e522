"""Compares estimator_lib.layers with tf-keras's legacy_tf_layers (the code TF 2.15's tf.compat.v1.layers
ran): variable names, shapes, outputs and batch-norm moving statistics. Not part of the test suite (it
needs tf-keras, which the project does not install). Run in a scratch virtual environment:

    python -m venv --system-site-packages /tmp/tfk && /tmp/tfk/bin/pip install --no-deps tf-keras==2.21.0
    PYTHONPATH=. /tmp/tfk/bin/python scripts/compare_layers_with_tf_keras.py

Prints one `True` line per variable (same name, shape, trainable) and the largest output differences.
"""

import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, ".")
from tf_keras.src.legacy_tf_layers import convolutional as keras_conv  # noqa: E402
from tf_keras.src.legacy_tf_layers import core as keras_core  # noqa: E402
from tf_keras.src.legacy_tf_layers import normalization as keras_norm  # noqa: E402
from tf_keras.src.legacy_tf_layers import pooling as keras_pool  # noqa: E402

import estimator_lib.layers as ours  # noqa: E402

v1 = tf.compat.v1


def build(dense, conv2d, batch_normalization, max_pooling2d, classes):
    """An mnist_tpu-style stack of layer objects, BERT-style named and unnamed dense layers, a batch norm."""
    conv_cls, pool_cls, flatten_cls, dense_cls, dropout_cls = classes
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(1)
        x = tf.constant(np.random.RandomState(0).rand(2, 8, 8, 1).astype(np.float32))
        y = conv_cls(filters=4, kernel_size=3, padding="same", activation="relu",
                     kernel_initializer=v1.constant_initializer(0.1))(x)
        y = pool_cls(pool_size=(2, 2), strides=(2, 2), padding="same")(y)
        y = conv_cls(filters=4, kernel_size=3, padding="same", activation="relu",
                     kernel_initializer=v1.constant_initializer(0.05))(y)
        y = flatten_cls()(y)
        y = dense_cls(5, activation="relu", kernel_initializer=v1.constant_initializer(0.02))(y)
        y = dropout_cls(0.4)(y, training=False)
        with v1.variable_scope("bert/encoder/layer_0/attention/self"):
            query = dense(y, 3, name="query",
                          kernel_initializer=v1.truncated_normal_initializer(stddev=0.02, seed=2))
            unnamed = dense(y, 3, kernel_initializer=v1.constant_initializer(0.3))
            dense(y, 3, kernel_initializer=v1.constant_initializer(0.3))
        conv = conv2d(x, 2, 3, name="c", kernel_initializer=v1.constant_initializer(0.1))
        normalised = batch_normalization(conv, training=True, momentum=0.5)
        pooled = max_pooling2d(x, 2, 2)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            session.run(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
            outputs = session.run([query, unnamed, normalised, pooled])
            names = [(v.name, v.shape.as_list(), v.trainable) for v in v1.global_variables()]
            moving = session.run([v for v in v1.global_variables() if "moving" in v.name])
    return names, outputs, moving


def main() -> None:
    theirs = build(keras_core.dense, keras_conv.conv2d, keras_norm.batch_normalization, keras_pool.max_pooling2d,
                   (keras_conv.Conv2D, keras_pool.MaxPooling2D, keras_core.Flatten, keras_core.Dense,
                    keras_core.Dropout))
    mine = build(ours.dense, ours.conv2d, ours.batch_normalization, ours.max_pooling2d,
                 (ours.Conv2D, ours.MaxPooling2D, ours.Flatten, ours.Dense, ours.Dropout))
    for their_variable, my_variable in zip(theirs[0], mine[0], strict=True):
        print(their_variable == my_variable, their_variable, my_variable)
    print("variables:", len(theirs[0]), len(mine[0]))
    for their_output, my_output in zip(theirs[1], mine[1], strict=True):
        print("largest output difference:", float(np.abs(their_output - my_output).max()))
    for their_moving, my_moving in zip(theirs[2], mine[2], strict=True):
        print("moving statistics:", their_moving, my_moving)


if __name__ == "__main__":
    main()

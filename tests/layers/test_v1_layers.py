"""estimator_lib.layers: TF1 layer functions with TF1's variable names, outputs checked with NumPy.

The names below are the ones real checkpoints hold: BERT's (google-research/bert modeling.py calls
tf.layers.dense(name="query") inside variable_scope("bert/encoder/layer_0/attention/self") and
tf.contrib.layers.layer_norm(scope=None)) and mnist_tpu's (unnamed tf.layers.Conv2D/Dense objects).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from estimator_lib import layers

v1 = tf.compat.v1


def names_in(graph: tf.Graph) -> list[str]:
    return [v.op.name for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)]


def run(graph: tf.Graph, fetches, updates: bool = False):
    with v1.Session(graph=graph) as session:
        session.run(v1.global_variables_initializer())
        if updates:
            session.run(v1.get_collection(v1.GraphKeys.UPDATE_OPS, scope=None))
        return session.run(fetches)


def test_bert_names():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.ones([2, 4])
        with v1.variable_scope("bert/encoder/layer_0/attention/self"):
            layers.dense(x, 4, name="query")
            layers.dense(x, 4, name="key")
        with v1.variable_scope("bert/encoder/layer_0/attention/output"):
            layers.layer_norm(inputs=x, begin_norm_axis=-1, begin_params_axis=-1, scope=None)
        with v1.variable_scope("bert/embeddings"):
            layers.layer_norm(x, begin_norm_axis=-1, begin_params_axis=-1, scope="LayerNorm")
    assert names_in(graph) == [
        "bert/encoder/layer_0/attention/self/query/kernel",
        "bert/encoder/layer_0/attention/self/query/bias",
        "bert/encoder/layer_0/attention/self/key/kernel",
        "bert/encoder/layer_0/attention/self/key/bias",
        "bert/encoder/layer_0/attention/output/LayerNorm/beta",
        "bert/encoder/layer_0/attention/output/LayerNorm/gamma",
        "bert/embeddings/LayerNorm/beta",
        "bert/embeddings/LayerNorm/gamma",
    ]


def test_mnist_tpu_names_from_unnamed_layer_objects():
    graph = tf.Graph()
    with graph.as_default():
        image = tf.ones([2, 8, 8, 1])
        y = layers.Conv2D(filters=3, kernel_size=5, padding="same", activation="relu")(image)
        y = layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="same")(y)
        y = layers.Conv2D(filters=3, kernel_size=5, padding="same", activation="relu")(y)
        y = layers.Flatten()(y)
        y = layers.Dense(6, activation="relu")(y)
        y = layers.Dropout(0.4)(y, training=True)
        logits = layers.Dense(10)(y)
    assert logits.shape.as_list() == [2, 10]
    assert names_in(graph) == [
        "conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias",
        "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
    ]
    shapes = {v.op.name: v.shape.as_list() for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)}
    assert shapes["conv2d_1/kernel"] == [5, 5, 3, 3] and shapes["dense/kernel"] == [4 * 4 * 3, 6]


def test_reuse_shares_variables():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.ones([1, 3])
        a = layers.dense(x, 2, name="shared")
        b = layers.dense(x, 2, name="shared", reuse=True)
        with v1.variable_scope("tower", reuse=v1.AUTO_REUSE):
            layers.dense(x, 2, name="d")
        with v1.variable_scope("tower", reuse=v1.AUTO_REUSE):
            layers.dense(x, 2, name="d", reuse=True)
        layer = layers.Dense(2)
        layer(x)
        layer(x)
    assert names_in(graph) == ["shared/kernel", "shared/bias", "tower/d/kernel", "tower/d/bias",
                               "dense/kernel", "dense/bias"]
    first, second = run(graph, [a, b])
    np.testing.assert_allclose(first, second)


def test_dense_conv_and_pooling_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4, 2)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        kernel = rng.normal(size=(1, 1, 2, 3)).astype(np.float32)
        conv = layers.conv2d(x, 3, 1, kernel_initializer=tf.constant_initializer(kernel),
                             bias_initializer=tf.constant_initializer(0.5))
        pooled = layers.max_pooling2d(x, 2, 2)
        averaged = layers.average_pooling2d(x, 2, 2)
        flat = layers.flatten(x)
        weights = rng.normal(size=(32, 3)).astype(np.float32)
        dense = layers.dense(flat, 3, activation=tf.nn.relu, kernel_initializer=tf.constant_initializer(weights))
    got = run(graph, [conv, pooled, averaged, dense])
    np.testing.assert_allclose(got[0], np.einsum("bhwc,cf->bhwf", x, kernel[0, 0]) + 0.5, rtol=1e-5, atol=1e-5)
    blocks = x.reshape(2, 2, 2, 2, 2, 2)
    np.testing.assert_allclose(got[1], blocks.max(axis=(2, 4)), rtol=1e-6)
    np.testing.assert_allclose(got[2], blocks.mean(axis=(2, 4)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], np.maximum(x.reshape(2, -1) @ weights, 0), rtol=1e-4, atol=1e-5)


def test_layer_norm_matches_numpy():
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        y = layers.layer_norm(x, begin_norm_axis=-1, begin_params_axis=-1)
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
    np.testing.assert_allclose(run(graph, y), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rank", [2, 4])
def test_batch_normalization_moving_statistics(rank):
    """One update with momentum 0.5 moves the statistics half-way to the batch's (unbiased variance for
    4-D inputs, as TF1's fused kernel; the biased one for 2-D)."""
    shape = (8, 3) if rank == 2 else (2, 2, 2, 3)
    x = (np.random.default_rng(2).normal(size=shape) * 2 + 5).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        training = v1.placeholder_with_default(True, [])
        y = layers.batch_normalization(x, momentum=0.5, training=training)
        moving = [v for v in v1.global_variables() if "moving" in v.name]
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            outputs = session.run(y)
            session.run(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
            mean, variance = session.run(moving)
            inference = session.run(y, {training: False})
    flat = x.reshape(-1, 3)
    n = flat.shape[0]
    batch_variance = flat.var(0) * (n / (n - 1) if rank == 4 else 1.0)
    np.testing.assert_allclose(mean, 0.5 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(variance, 0.5 + 0.5 * batch_variance, rtol=1e-5)
    normalised = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3)
    np.testing.assert_allclose(outputs.reshape(-1, 3), normalised, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(inference.reshape(-1, 3), (flat - mean) / np.sqrt(variance + 1e-3), rtol=1e-4, atol=1e-4)


def test_bad_arguments_are_named():
    with tf.Graph().as_default():
        x = tf.ones([1, 3])
        with pytest.raises(ValueError, match=r"units must be a positive integer; received units=0"):
            layers.dense(x, 0)
        with pytest.raises(ValueError, match=r"activation must be None, a callable or one of .*received 'rellu'"):
            layers.dense(x, 2, activation="rellu")
        with pytest.raises(ValueError, match=r"does not support kernel_constraint; received kernel_constraint="):
            layers.dense(x, 2, kernel_constraint=lambda w: w)
        with pytest.raises(ValueError, match=r"padding must be 'valid' or 'same'; received 'full'"):
            layers.max_pooling2d(tf.ones([1, 2, 2, 1]), 2, 2, padding="full")
        with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\) .*received 1.5"):
            layers.dropout(x, rate=1.5)
        with pytest.raises(ValueError, match=r"does not support renorm; received renorm=True"):
            layers.batch_normalization(x, renorm=True)

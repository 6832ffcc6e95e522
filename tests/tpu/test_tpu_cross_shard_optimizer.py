"""CrossShardOptimizer (the name BERT, mnist_tpu and ResNet wrap their optimizer in when use_tpu=True)
trains exactly like the bare optimizer on one device and on mirrored CPU replicas: gradients are
reduced once, as a mean (reduction=MEAN) or a sum (SUM)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import estimator, logits_of, loss_of, train_input_fn

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.tpu import CrossShardOptimizer, TPUEstimatorSpec

v1 = tf.compat.v1


def make_model_fn(wrap: bool, learning_rate: float = 0.5, reduction=v1.losses.Reduction.MEAN):
    def model_fn(features, labels, mode, params):
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        optimizer = v1.train.GradientDescentOptimizer(learning_rate)
        if wrap:
            optimizer = CrossShardOptimizer(optimizer, reduction=reduction)
        train_op = optimizer.minimize(loss, global_step=v1.train.get_global_step())
        return TPUEstimatorSpec(mode=ModeKeys.TRAIN, loss=loss, train_op=train_op)

    return model_fn


def trained_w(model_dir: str, model_fn, replicas: int, steps: int = 3) -> np.ndarray:
    est = estimator(model_fn, model_dir, replicas=replicas, use_tpu=replicas > 1)
    est.train(train_input_fn, max_steps=steps)
    assert est.get_variable_value("global_step") == steps
    return est.get_variable_value("w")


@pytest.mark.parametrize("replicas", [1, 2])
def test_wrapped_optimizer_trains_like_the_bare_one(tmp_path, replicas):
    bare = trained_w(str(tmp_path / "bare"), make_model_fn(False), replicas)
    wrapped = trained_w(str(tmp_path / "wrapped"), make_model_fn(True), replicas)
    assert np.abs(bare).max() > 0.01  # it trained
    np.testing.assert_allclose(wrapped, bare, rtol=1e-5, atol=1e-6)


def test_two_replicas_give_the_one_replica_result(tmp_path):
    """Reduced exactly once: a double sum would double the step on two replicas."""
    one = trained_w(str(tmp_path / "one"), make_model_fn(True), 1)
    two = trained_w(str(tmp_path / "two"), make_model_fn(True), 2)
    np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-5)


def test_sum_reduction_adds_the_replica_gradients(tmp_path):
    """SUM over 2 replicas = the mean gradient times 2: one step equals a bare step with twice the rate."""
    summed = trained_w(str(tmp_path / "sum"), make_model_fn(True, 0.5, v1.losses.Reduction.SUM), 2, steps=1)
    doubled = trained_w(str(tmp_path / "double"), make_model_fn(False, 1.0), 2, steps=1)
    np.testing.assert_allclose(summed, doubled, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match=r"wraps a tf.compat.v1.train.Optimizer; received str"):
        CrossShardOptimizer("sgd")
    with pytest.raises(ValueError, match=r"reduction must be .*MEAN or .SUM; received 'none'"):
        CrossShardOptimizer(v1.train.GradientDescentOptimizer(0.1), reduction="none")


def test_group_assignment_under_a_strategy_is_refused(tmp_path):
    def model_fn(features, labels, mode, params):
        loss = loss_of(labels, logits_of(features))
        optimizer = CrossShardOptimizer(v1.train.GradientDescentOptimizer(0.1), group_assignment=[[0], [1]])
        return TPUEstimatorSpec(mode, loss=loss, train_op=optimizer.minimize(loss, v1.train.get_global_step()))

    with pytest.raises(ValueError, match=r"group_assignment=\[\[0\], \[1\]\]\. Leave group_assignment=None"):
        estimator(model_fn, str(tmp_path), replicas=2).train(train_input_fn, max_steps=1)

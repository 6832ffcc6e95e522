"""model_fns built with Keras 3 layers and metrics, v1 optimizers and v1 metrics."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from est_testlib import make_data

from estimator_lib.estimator import Estimator
from estimator_lib.hooks import SessionRunHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
CONFIG = RunConfig(log_step_count_steps=0, save_summary_steps=0, tf_random_seed=3)


def class_data(n: int, seed: int):
    x, _ = make_data(n, seed)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int32)


def class_input_fn(n=64, seed=0, repeat=True, labels=True):
    x, y = class_data(n, seed)

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, y) if labels else {"x": x})
        return (dataset.repeat() if repeat else dataset).batch(8)

    return input_fn


def keras_model_fn(features, labels, mode, params):
    """Two Keras 3 Dense layers, a v1 Adam optimizer, a Keras metric next to v1 metrics."""
    hidden = keras.layers.Dense(8, activation="relu")(features["x"])
    logits = keras.layers.Dense(2)(hidden)
    class_ids = tf.argmax(logits, axis=1, output_type=tf.int32)
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions={"class_ids": class_ids, "logits": logits})
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    if mode == ModeKeys.EVAL:
        keras_accuracy = keras.metrics.Accuracy()
        keras_accuracy.update_state(labels, class_ids)
        return EstimatorSpec(
            mode,
            loss=loss,
            eval_metric_ops={
                "keras_accuracy": keras_accuracy,
                "accuracy": v1.metrics.accuracy(labels, class_ids),
                "mean_logit": v1.metrics.mean(logits),
            },
        )
    train_op = v1.train.AdamOptimizer(params["learning_rate"]).minimize(loss, global_step=v1.train.get_global_step())
    return EstimatorSpec(mode, loss=loss, train_op=train_op)


def layer_scopes(estimator: Estimator) -> list[str]:
    """The two Dense layers' variable scopes in the checkpoint, in creation order.

    Keras 3 in a graph names them 'dense' and then 'dense_1_1' (the first layer's call took the
    'dense_1' name scope); what matters is that every graph of the model uses the same names."""
    kernels = [n[: -len("/kernel")] for n in estimator.get_variable_names() if n.endswith("/kernel")]
    return sorted(kernels, key=lambda scope: (len(scope), scope))


def numpy_logits(estimator: Estimator, x: np.ndarray) -> np.ndarray:
    first, second = layer_scopes(estimator)
    kernel0, bias0, kernel1, bias1 = estimator.get_variable_value(
        [f"{first}/kernel", f"{first}/bias", f"{second}/kernel", f"{second}/bias"]
    )
    return np.maximum(x @ kernel0 + bias0, 0.0) @ kernel1 + bias1


class VariableNamesHook(SessionRunHook):
    def begin(self):
        self.names = sorted(v.op.name for v in v1.global_variables())


@pytest.fixture(scope="module")
def keras_estimator(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("keras_model"))
    estimator = Estimator(keras_model_fn, model_dir=model_dir, config=CONFIG, params={"learning_rate": 0.05})
    estimator.train(class_input_fn(), steps=30)
    return estimator


def test_keras_layer_variable_names(keras_estimator):
    names = set(keras_estimator.get_variable_names())
    first, second = layer_scopes(keras_estimator)
    assert first == "dense" and second.startswith("dense_1")
    assert {"dense/kernel", "dense/bias", f"{second}/kernel", f"{second}/bias", "global_step"} <= names
    assert {"dense/kernel/Adam", "dense/kernel/Adam_1", "beta1_power"} <= names  # v1 Adam slots
    # The evaluation graph builds exactly the trained variables (no 'dense_2', no missing name).
    hook = VariableNamesHook()
    keras_estimator.evaluate(class_input_fn(n=8, seed=1, repeat=False), hooks=[hook])
    model_names = {n for n in names if "Adam" not in n and not n.startswith("beta")}
    assert set(hook.names) == model_names


def test_evaluate_restores_the_trained_keras_variables(keras_estimator):
    results = keras_estimator.evaluate(class_input_fn(n=32, seed=1, repeat=False))
    x, y = class_data(32, 1)
    logits = numpy_logits(keras_estimator, x)
    predicted = logits.argmax(axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    cross_entropy = -(shifted[np.arange(32), y] - np.log(np.exp(shifted).sum(axis=1)))
    assert results["global_step"] == 30
    assert results["loss"] == pytest.approx(float(cross_entropy.mean()), rel=1e-4)
    assert results["accuracy"] == pytest.approx(float((predicted == y).mean()))
    assert results["mean_logit"] == pytest.approx(float(logits.mean()), rel=1e-4, abs=1e-5)
    assert results["accuracy"] >= 0.8


def test_keras_metric_matches_v1_metric_and_restarts_each_evaluation(keras_estimator):
    first = keras_estimator.evaluate(class_input_fn(n=32, seed=1, repeat=False))
    second = keras_estimator.evaluate(class_input_fn(n=32, seed=1, repeat=False))
    assert first["keras_accuracy"] == pytest.approx(first["accuracy"])
    assert second == first
    assert not any("accuracy" in name for name in keras_estimator.get_variable_names())


def test_keras_metric_ignores_the_run_that_finds_the_input_exhausted(keras_estimator):
    """With a static batch size a Keras metric's count update reads no input; it must still wait for
    the batch, or the final (end-of-input) session.run would count 8 phantom examples."""
    x, y = class_data(32, 1)

    def static_batches():
        return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).batch(8, drop_remainder=True)

    for _ in range(3):
        results = keras_estimator.evaluate(static_batches)
        assert results["keras_accuracy"] == pytest.approx(results["accuracy"])


def test_keras_metric_never_updated(tmp_path):
    def model_fn(features, labels, mode):
        logits = keras.layers.Dense(2)(features["x"])
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        return EstimatorSpec(mode, loss=loss, eval_metric_ops={"acc": keras.metrics.Accuracy()})

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=CONFIG)
    message = r"Keras metric 'accuracy' was never updated in model_fn: call metric.update_state"
    with pytest.raises(ValueError, match=message):
        estimator.evaluate(class_input_fn(n=8, repeat=False))


def test_predict_and_train_again_keep_the_names(keras_estimator, tmp_path):
    x, _ = class_data(16, 2)
    predictions = list(keras_estimator.predict(class_input_fn(n=16, seed=2, repeat=False, labels=False)))
    np.testing.assert_allclose(
        np.stack([p["logits"] for p in predictions]), numpy_logits(keras_estimator, x), rtol=1e-5, atol=1e-5
    )
    # Training again in a new graph resumes the same variables (no 'dense_2' appears).
    import shutil

    copy_dir = str(tmp_path / "copy")
    shutil.copytree(keras_estimator.model_dir, copy_dir)
    again = Estimator(keras_model_fn, model_dir=copy_dir, config=CONFIG, params={"learning_rate": 0.05})
    again.train(class_input_fn(), steps=2)
    assert again.get_variable_value("global_step") == 32
    assert set(again.get_variable_names()) == set(keras_estimator.get_variable_names())


def test_keras_model_export_reproduces_predict(keras_estimator, tmp_path):
    from estimator_lib.export import build_raw_serving_input_receiver_fn

    path = keras_estimator.export_saved_model(
        str(tmp_path), build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    )
    x, _ = class_data(16, 2)
    served = tf.saved_model.load(path.decode()).signatures["serving_default"](x=tf.constant(x))
    predictions = list(keras_estimator.predict(class_input_fn(n=16, seed=2, repeat=False, labels=False)))
    np.testing.assert_allclose(
        served["logits"].numpy(), np.stack([p["logits"] for p in predictions]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(served["class_ids"].numpy(), [p["class_ids"] for p in predictions])


@pytest.mark.parametrize(
    "make_optimizer, slot",
    [
        (lambda: v1.train.GradientDescentOptimizer(0.1), None),
        (lambda: v1.train.MomentumOptimizer(0.1, momentum=0.9), "w/Momentum"),
        (lambda: v1.train.AdagradOptimizer(0.1), "w/Adagrad"),
        (lambda: v1.train.RMSPropOptimizer(0.01), "w/RMSProp"),
        (lambda: v1.train.AdamOptimizer(0.01), "w/Adam"),
        (lambda: v1.train.FtrlOptimizer(0.1), "w/Ftrl"),
    ],
    ids=["sgd", "momentum", "adagrad", "rmsprop", "adam", "ftrl"],
)
def test_v1_optimizers(tmp_path, make_optimizer, slot):
    def model_fn(features, labels, mode):
        w = v1.get_variable("w", [2, 1], initializer=v1.zeros_initializer())
        labels_f = tf.cast(labels[:, tf.newaxis], tf.float32)
        loss = tf.reduce_mean(tf.square(tf.matmul(features["x"], w) - labels_f))
        train_op = make_optimizer().minimize(loss, global_step=v1.train.get_global_step())
        return EstimatorSpec(mode, loss=loss, train_op=train_op)

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=CONFIG)
    estimator.train(class_input_fn(), steps=3)
    assert estimator.get_variable_value("global_step") == 3
    assert np.any(estimator.get_variable_value("w") != 0)
    if slot:
        assert slot in estimator.get_variable_names()


def test_v1_metrics(tmp_path):
    """A batch of v1 metrics computed over several batches, checked against numpy on the whole set."""

    def model_fn(features, labels, mode):
        w = v1.get_variable("w", [2, 1], initializer=v1.constant_initializer([[1.0], [0.5]]))
        score = tf.sigmoid(tf.matmul(features["x"], w))[:, 0]
        predicted = tf.cast(score > 0.5, tf.int32)
        loss = tf.reduce_mean(score)
        return EstimatorSpec(
            mode,
            loss=loss,
            eval_metric_ops={
                "accuracy": v1.metrics.accuracy(labels, predicted),
                "precision": v1.metrics.precision(labels, predicted),
                "recall": v1.metrics.recall(labels, predicted),
                "mean_score": v1.metrics.mean(score),
                "mse": v1.metrics.mean_squared_error(tf.cast(labels, tf.float32), score),
                "auc": v1.metrics.auc(labels, score),
            },
        )

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=CONFIG)
    results = estimator.evaluate(class_input_fn(n=48, seed=4, repeat=False))
    x, y = class_data(48, 4)
    score = 1 / (1 + np.exp(-(x @ np.array([1.0, 0.5]))))
    predicted = (score > 0.5).astype(int)
    true_positive = np.sum((predicted == 1) & (y == 1))
    assert results["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert results["precision"] == pytest.approx(true_positive / predicted.sum())
    assert results["recall"] == pytest.approx(true_positive / y.sum())
    assert results["mean_score"] == pytest.approx(score.mean(), rel=1e-5)
    assert results["mse"] == pytest.approx(np.mean((y - score) ** 2), rel=1e-5)
    assert results["loss"] == pytest.approx(score.mean(), rel=1e-5)
    assert 0.8 < results["auc"] <= 1.0

"""warm_start_from: a checkpoint, a model directory, a SavedModel or WarmStartSettings; only on a fresh model_dir."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.export import build_raw_serving_input_receiver_fn
from estimator_lib.hooks import SessionRunHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig
from estimator_lib.spec import EstimatorSpec
from estimator_lib.warm_start import WarmStartSettings

v1 = tf.compat.v1
FROZEN = {"learning_rate": 0.0}  # training with a zero learning rate keeps the warm-started values as they are
CONFIG = RunConfig(log_step_count_steps=0, save_summary_steps=0)


class ReadVariablesHook(SessionRunHook):
    """The variables' values right after the session is created (restored, initialised or warm-started)."""

    def __init__(self):
        self.values = {}

    def after_create_session(self, session, coord):
        for variable in v1.global_variables():
            self.values[variable.op.name] = session.run(variable)


def source_values(trained_linear):
    return dict(zip(("w", "b"), trained_linear.get_variable_value(["w", "b"]), strict=True))


def warm_started(warm_start_from, model_dir, model_fn=linear_model_fn, params=FROZEN):
    estimator = Estimator(
        model_fn, model_dir=str(model_dir), params=params, config=CONFIG, warm_start_from=warm_start_from
    )
    hook = ReadVariablesHook()
    estimator.train(make_input_fn(), steps=1, hooks=[hook])
    return estimator, hook.values


def test_from_checkpoint_path(trained_linear, tmp_path):
    estimator, values = warm_started(trained_linear.latest_checkpoint(), tmp_path)
    expected = source_values(trained_linear)
    np.testing.assert_array_equal(values["w"], expected["w"])
    np.testing.assert_array_equal(values["b"], expected["b"])
    assert values["global_step"] == 0  # only trainable variables are taken, the step starts afresh
    assert estimator.get_variable_value("global_step") == 1


def test_from_model_dir(trained_linear, tmp_path):
    _, values = warm_started(trained_linear.model_dir, tmp_path)
    np.testing.assert_array_equal(values["w"], source_values(trained_linear)["w"])


def test_from_saved_model(trained_linear, tmp_path):
    export = trained_linear.export_saved_model(
        str(tmp_path / "export"), build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    )
    _, values = warm_started(export.decode(), tmp_path / "model")
    np.testing.assert_array_equal(values["w"], source_values(trained_linear)["w"])


def test_settings_select_variables(trained_linear, tmp_path):
    settings = WarmStartSettings(trained_linear.model_dir, vars_to_warm_start="w")
    _, values = warm_started(settings, tmp_path)
    np.testing.assert_array_equal(values["w"], source_values(trained_linear)["w"])
    np.testing.assert_array_equal(values["b"], [0.0])  # not selected: keeps its initializer


def test_settings_list_of_names(trained_linear, tmp_path):
    settings = WarmStartSettings(trained_linear.model_dir, vars_to_warm_start=["b"])
    _, values = warm_started(settings, tmp_path)
    np.testing.assert_array_equal(values["w"], np.zeros([2, 1]))
    np.testing.assert_array_equal(values["b"], source_values(trained_linear)["b"])


def renamed_model_fn(features, labels, mode, params):
    weights = v1.get_variable("dense/weights", [2, 1], initializer=v1.zeros_initializer())
    bias = v1.get_variable("dense/bias", [1], initializer=v1.zeros_initializer())
    y = tf.matmul(features["x"], weights) + bias
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions=y)
    loss = tf.reduce_mean(tf.square(y - labels))
    train_op = v1.train.GradientDescentOptimizer(params["learning_rate"]).minimize(loss, v1.train.get_global_step())
    return EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_settings_renamed_variables(trained_linear, tmp_path):
    settings = WarmStartSettings(
        trained_linear.latest_checkpoint(),
        vars_to_warm_start=".*",
        var_name_to_prev_var_name={"dense/weights": "w", "dense/bias": "b"},
    )
    _, values = warm_started(settings, tmp_path, model_fn=renamed_model_fn)
    expected = source_values(trained_linear)
    np.testing.assert_array_equal(values["dense/weights"], expected["w"])
    np.testing.assert_array_equal(values["dense/bias"], expected["b"])


def test_only_when_model_dir_has_no_checkpoint(trained_linear, tmp_path):
    estimator = Estimator(
        linear_model_fn,
        model_dir=str(tmp_path),
        params={"learning_rate": 0.5},
        config=CONFIG,
        warm_start_from=trained_linear.latest_checkpoint(),
    )
    estimator.train(make_input_fn(seed=5), steps=3)
    own = estimator.get_variable_value("w")
    assert not np.array_equal(own, source_values(trained_linear)["w"])
    hook = ReadVariablesHook()
    estimator.train(make_input_fn(), steps=1, hooks=[hook])
    np.testing.assert_array_equal(hook.values["w"], own)  # restored from model_dir, not warm-started again


# ---- errors ----------------------------------------------------------------------------------------------
def test_missing_variable(trained_linear, tmp_path):
    estimator = Estimator(
        renamed_model_fn,
        model_dir=str(tmp_path),
        params=FROZEN,
        config=CONFIG,
        warm_start_from=trained_linear.model_dir,
    )
    with pytest.raises(
        ValueError,
        match=r"Warm start: variable 'dense/(weights|bias)' \(looked up as 'dense/(weights|bias)'\) is not in "
        r"checkpoint",
    ):
        estimator.train(make_input_fn(), steps=1)
    assert estimator.latest_checkpoint() is None


def test_shape_mismatch(trained_linear, tmp_path):
    def model_fn(features, labels, mode):
        w = v1.get_variable("w", [2, 3], initializer=v1.zeros_initializer())
        loss = tf.reduce_mean(tf.matmul(features["x"], w))
        return EstimatorSpec(mode, loss=loss, train_op=v1.assign_add(v1.train.get_global_step(), 1))

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=CONFIG, warm_start_from=trained_linear.model_dir)
    with pytest.raises(
        ValueError, match=r"Warm start: variable 'w' has shape \[2, 3\] but 'w' in .* has shape \[2, 1\]"
    ):
        estimator.train(make_input_fn(), steps=1)


def test_not_a_checkpoint(tmp_path):
    estimator = Estimator(
        linear_model_fn,
        model_dir=str(tmp_path / "m"),
        params=FROZEN,
        config=CONFIG,
        warm_start_from=str(tmp_path / "nothing"),
    )
    with pytest.raises(
        ValueError, match=r"warm_start_from='.*nothing' is not a checkpoint, a model directory or a SavedModel"
    ):
        estimator.train(make_input_fn(), steps=1)
    os.makedirs(tmp_path / "empty")
    estimator = Estimator(
        linear_model_fn,
        model_dir=str(tmp_path / "m2"),
        params=FROZEN,
        config=CONFIG,
        warm_start_from=str(tmp_path / "empty"),
    )
    with pytest.raises(
        ValueError, match=r"warm_start_from='.*empty' is a directory without a checkpoint or SavedModel"
    ):
        estimator.train(make_input_fn(), steps=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ckpt_to_initialize_from": None}, r"ckpt_to_initialize_from must be a checkpoint path.*received None"),
        (
            {"ckpt_to_initialize_from": "/m", "var_name_to_vocab_info": {"v": 1}},
            r"var_name_to_vocab_info \(vocabulary remapping\) is not supported",
        ),
        (
            {"ckpt_to_initialize_from": "/m", "vars_to_warm_start": 3},
            r"vars_to_warm_start must be a regex, a list of names/regexes or None; received 3",
        ),
    ],
)
def test_settings_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WarmStartSettings(**kwargs)


def test_settings_defaults():
    settings = WarmStartSettings("/m")
    assert settings.ckpt_to_initialize_from == "/m"
    assert settings.vars_to_warm_start == ".*"
    assert settings.var_name_to_prev_var_name == {}

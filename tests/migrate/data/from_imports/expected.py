"""`from ... import` forms, aliases and odd formatting."""
from estimator_lib import Estimator
from estimator_lib import EstimatorSpec as Spec, ModeKeys
from estimator_lib import (  # the training API
    RunConfig,
    TrainSpec,  # what to train on
    EvalSpec,
    train_and_evaluate,
)
from estimator_lib import (
    BestExporter,
)
from tensorflow.estimator import LinearRegressor
import estimator_lib as tf_estimator
from tensorflow import keras
import estimator_lib as estimator
from estimator_lib import export
from estimator_lib.export import ServingInputReceiver, PredictOutput as Out
from estimator_lib.experimental import stop_if_higher_hook
from estimator_lib import tpu
import estimator_lib as v1_estimator
from estimator_lib import layers
from tensorflow.estimator import *
import os; from estimator_lib import WarmStartSettings; import sys


def make(model_fn, model_dir):
    config = RunConfig(model_dir=model_dir)
    est = Estimator(model_fn, config=config, warm_start_from=WarmStartSettings("/ckpt"))
    spec = Spec(mode=ModeKeys.PREDICT, predictions={})
    receiver = ServingInputReceiver({}, {})
    hook = stop_if_higher_hook(est, "accuracy", 0.9)
    t = tpu.TPUEstimator(model_fn, config=tpu.RunConfig())
    e2 = tf_estimator.Estimator(model_fn)
    e3 = estimator.Estimator(model_fn)
    e4 = v1_estimator.tpu.TPUEstimator(model_fn)
    m = keras.Model()
    r = LinearRegressor(feature_columns=[])
    out = Out({})
    fn = export.build_parsing_serving_input_receiver_fn({})
    b = BestExporter()
    train_and_evaluate(est, TrainSpec(lambda: None), EvalSpec(lambda: None))
    return layers.dense(None, 1), os, sys

"""Code that imported the tensorflow_estimator package and its internal modules directly."""
import tensorflow as tf
import tensorflow_estimator as tfe
from tensorflow_estimator.python.estimator import estimator as estimator_lib
from tensorflow_estimator.python.estimator import model_fn as model_fn_lib
from tensorflow_estimator.python.estimator.export import export_output  # outputs
from tensorflow_estimator.python.estimator.tpu import tpu_estimator
from tensorflow_estimator.python.estimator.tpu import tpu_config
from tensorflow_estimator.python.estimator.tpu.tpu_estimator import TPUEstimatorSpec
from tensorflow_estimator.python.estimator.canned import dnn
import tensorflow_estimator.python.estimator.run_config as run_config_lib
from tensorflow_estimator.python.estimator import early_stopping
from tensorflow_estimator import estimator as tf_estimator

try:
    from tensorflow_estimator.python.estimator.mode_keys import ModeKeys
except ImportError:  # very old TF
    ModeKeys = None


def model_fn(features, labels, mode, params):
    if mode == model_fn_lib.ModeKeys.PREDICT:
        outputs = {"out": export_output.PredictOutput({"y": features})}
        return model_fn_lib.EstimatorSpec(mode, predictions={"y": features}, export_outputs=outputs)
    return TPUEstimatorSpec(mode, loss=tf.constant(0.0))


def build():
    from tensorflow_estimator.python.estimator.hooks import basic_session_run_hooks as hooks_lib

    config = tpu_config.RunConfig(tpu_config=tpu_config.TPUConfig(iterations_per_loop=5))
    estimator = tpu_estimator.TPUEstimator(model_fn, config=config, train_batch_size=8)
    plain = estimator_lib.Estimator(model_fn, config=run_config_lib.RunConfig())
    legacy = tfe.estimator.Estimator(model_fn)
    public = tf_estimator.RunConfig(model_dir="/tmp/model")
    hook = hooks_lib.StopAtStepHook(num_steps=5)
    early = early_stopping.stop_if_lower_hook(plain, "loss", 0.1)
    tpu_internal = tpu_estimator._InputPipeline
    canned = dnn.DNNClassifier(hidden_units=[4], feature_columns=[])
    return estimator, plain, legacy, public, hook, early, tpu_internal, canned, ModeKeys

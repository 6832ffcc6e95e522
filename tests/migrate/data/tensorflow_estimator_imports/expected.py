"""Code that imported the tensorflow_estimator package and its internal modules directly."""
import tensorflow as tf
import estimator_lib
import estimator_lib as model_fn_lib
from estimator_lib import export as export_output  # outputs
from tensorflow_estimator.python.estimator.tpu import tpu_estimator
from estimator_lib import tpu as tpu_config
from estimator_lib.tpu import TPUEstimatorSpec
from tensorflow_estimator.python.estimator.canned import dnn
import estimator_lib as run_config_lib
from estimator_lib import early_stopping
import estimator_lib as tf_estimator

try:
    from estimator_lib import ModeKeys
except ImportError:  # very old TF
    ModeKeys = None


def model_fn(features, labels, mode, params):
    if mode == model_fn_lib.ModeKeys.PREDICT:
        outputs = {"out": export_output.PredictOutput({"y": features})}
        return model_fn_lib.EstimatorSpec(mode, predictions={"y": features}, export_outputs=outputs)
    return TPUEstimatorSpec(mode, loss=tf.constant(0.0))


def build():
    import estimator_lib as hooks_lib

    config = tpu_config.RunConfig(tpu_config=tpu_config.TPUConfig(iterations_per_loop=5))
    estimator = estimator_lib.tpu.TPUEstimator(model_fn, config=config, train_batch_size=8)
    plain = estimator_lib.Estimator(model_fn, config=run_config_lib.RunConfig())
    legacy = estimator_lib.Estimator(model_fn)
    public = tf_estimator.RunConfig(model_dir="/tmp/model")
    hook = hooks_lib.StopAtStepHook(num_steps=5)
    early = early_stopping.stop_if_lower_hook(plain, "loss", 0.1)
    tpu_internal = tpu_estimator._InputPipeline
    canned = dnn.DNNClassifier(hidden_units=[4], feature_columns=[])
    return estimator, plain, legacy, public, hook, early, tpu_internal, canned, ModeKeys

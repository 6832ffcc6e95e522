"""The Estimator API of each library under test, as one namespace the estimator path uses."""

from __future__ import annotations

import types
from typing import Any


def estimator_lib_api(tpu: bool) -> Any:
    """estimator_lib on this interpreter's TensorFlow (2.20/2.21)."""
    from estimator_lib import export, mode_keys, run_config, spec
    from estimator_lib.estimator import Estimator

    api = types.SimpleNamespace(
        Estimator=Estimator,
        RunConfig=run_config.RunConfig,
        EstimatorSpec=spec.EstimatorSpec,
        ModeKeys=mode_keys.ModeKeys,
        PredictOutput=export.PredictOutput,
        ServingInputReceiver=export.ServingInputReceiver,
    )
    if tpu:
        try:
            from estimator_lib import tpu as tpu_lib

            api.TPUEstimator = tpu_lib.TPUEstimator
            api.TPUEstimatorSpec = tpu_lib.TPUEstimatorSpec
            api.TPUConfig = tpu_lib.TPUConfig
            api.TPURunConfig = tpu_lib.RunConfig
        except (ImportError, AttributeError) as err:
            raise RuntimeError(f"estimator_lib.tpu does not provide TPUEstimator yet: {err}") from err
    return api


# Run in a subprocess by the driver to decide whether a path can run here.
AVAILABILITY_CHECKS = {
    "lib-est": "from estimator_lib.estimator import Estimator",
    "lib-tpu": "from estimator_lib.tpu import TPUEstimator, TPUEstimatorSpec, TPUConfig, RunConfig",
    "lib-est-xla": "from estimator_lib import RunConfig; RunConfig(jit_compile=True)",
    "lib-tpu-xla": "from estimator_lib.tpu import RunConfig; RunConfig(jit_compile=True)",
}


def tf_estimator_api(tpu: bool) -> Any:
    """The original tf.estimator (tensorflow-estimator 2.15 on TF 2.15, in the benchmark venv)."""
    import tensorflow as tf

    est = tf.estimator
    api = types.SimpleNamespace(
        Estimator=est.Estimator,
        RunConfig=est.RunConfig,
        EstimatorSpec=est.EstimatorSpec,
        ModeKeys=est.ModeKeys,
        PredictOutput=est.export.PredictOutput,
        ServingInputReceiver=est.export.ServingInputReceiver,
    )
    if tpu:
        tpu_lib = tf.compat.v1.estimator.tpu
        api.TPUEstimator = tpu_lib.TPUEstimator
        api.TPUEstimatorSpec = tpu_lib.TPUEstimatorSpec
        api.TPUConfig = tpu_lib.TPUConfig
        api.TPURunConfig = tpu_lib.RunConfig
    return api

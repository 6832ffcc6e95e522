"""TPU names as users know them from `tf.estimator.tpu` / `tf.compat.v1.estimator.tpu`."""

from estimator_lib.tpu.context import TPUContext
from estimator_lib.tpu.optimizers import CrossShardOptimizer
from estimator_lib.tpu.tpu_config import InputPipelineConfig, RunConfig, TPUConfig
from estimator_lib.tpu.tpu_estimator import TPUEstimator
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

__all__ = [
    "CrossShardOptimizer",
    "InputPipelineConfig",
    "RunConfig", "TPUConfig", "TPUContext", "TPUEstimator", "TPUEstimatorSpec",
]

"""The tf.estimator programming model on TensorFlow 2.20+: import this instead of `tf.estimator`.

This module only re-exports; each name lives in a module of its own.
"""

from estimator_lib import early_stopping, experimental, export, tpu
from estimator_lib.checkpoints import latest_checkpoint
from estimator_lib.estimator import Estimator
from estimator_lib.exporters import BestExporter, Exporter, FinalExporter, LatestExporter
from estimator_lib.hooks import (
    CheckpointSaverHook,
    CheckpointSaverListener,
    FeedFnHook,
    FinalOpsHook,
    GlobalStepWaiterHook,
    LoggingTensorHook,
    NanLossDuringTrainingError,
    NanTensorHook,
    ProfilerHook,
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    StepCounterHook,
    StopAtStepHook,
    SummarySaverHook,
)
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig, TaskType
from estimator_lib.spec import EstimatorSpec
from estimator_lib.training import EvalSpec, TrainSpec, train_and_evaluate
from estimator_lib.warm_start import WarmStartSettings

__version__ = "0.1.0"

__all__ = [
    "BestExporter",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "LatestExporter",
    "TrainSpec",
    "early_stopping",
    "experimental",
    "tpu",
    "train_and_evaluate",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "Estimator",
    "EstimatorSpec",
    "FeedFnHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "LoggingTensorHook",
    "ModeKeys",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
    "RunConfig",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
    "TaskType",
    "WarmStartSettings",
    "export",
    "latest_checkpoint",
]

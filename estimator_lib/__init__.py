"""The tf.estimator programming model on TensorFlow 2.20+: import this instead of `tf.estimator`.

This module only re-exports; each name lives in a module of its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; at run time they load on first use
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

# TensorFlow loads with the first name used, not with `import estimator_lib`: the upgrade tool
# (estimator_lib.migrate) runs where TensorFlow is not installed.
_SUBMODULES = ("early_stopping", "experimental", "export", "layers", "tpu")
_NAMES = {
    "latest_checkpoint": "checkpoints",
    "Estimator": "estimator",
    **{name: "exporters" for name in ("BestExporter", "Exporter", "FinalExporter", "LatestExporter")},
    **{
        name: "hooks"
        for name in (
            "CheckpointSaverHook", "CheckpointSaverListener", "FeedFnHook", "FinalOpsHook", "GlobalStepWaiterHook",
            "LoggingTensorHook", "NanLossDuringTrainingError", "NanTensorHook", "ProfilerHook", "SessionRunArgs",
            "SessionRunContext", "SessionRunHook", "SessionRunValues", "StepCounterHook", "StopAtStepHook",
            "SummarySaverHook",
        )
    },
    "ModeKeys": "mode_keys",
    "RunConfig": "run_config",
    "TaskType": "run_config",
    "EstimatorSpec": "spec",
    "EvalSpec": "training",
    "TrainSpec": "training",
    "train_and_evaluate": "training",
    "WarmStartSettings": "warm_start",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "layers",
]

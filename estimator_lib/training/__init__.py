"""`train_and_evaluate` with its specs: train, evaluate new checkpoints, export, locally or per TF_CONFIG task."""

from estimator_lib.training.specs import EvalSpec, TrainSpec
from estimator_lib.training.runner import train_and_evaluate

__all__ = ["EvalSpec", "TrainSpec", "train_and_evaluate"]

"""`train_and_evaluate` with its specs: train, evaluate new checkpoints, export, locally or per TF_CONFIG task."""

from estimator_lib.training.runner import train_and_evaluate
from estimator_lib.training.specs import EvalSpec, TrainSpec

__all__ = ["EvalSpec", "TrainSpec", "train_and_evaluate"]

"""The TPUEstimator tests' names for the shared helpers in tests/testlib (kept so that existing
`from tpu_testlib import ...` lines keep working; new code imports from testlib)."""

from testlib.checkpoints import checkpoint_steps
from testlib.events import read_scalars
from testlib.hooks import StepRecorder
from testlib.tpu_classifier import (
    DIM,
    EVAL_X,
    EVAL_Y,
    N_EVAL,
    N_TRAIN,
    NUM_CLASSES,
    TRAIN_X,
    TRAIN_Y,
    estimator,
    eval_input_fn,
    logits_of,
    loss_of,
    make_data,
    metric_fn,
    mirrored,
    model_fn_dict,
    model_fn_list,
    numpy_eval,
    tpu_run_config,
    train_input_fn,
    train_op_for,
    v1,
)

TRAINED_STEPS = 20  # steps of the shared trained model (tests/tpu/conftest.py)


def read_event_scalars(directory: str) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] from every event file under `directory`, subfolders included."""
    return read_scalars(directory, recursive=True)


__all__ = [
    "DIM", "EVAL_X", "EVAL_Y", "NUM_CLASSES", "N_EVAL", "N_TRAIN", "TRAINED_STEPS", "TRAIN_X", "TRAIN_Y",
    "StepRecorder", "checkpoint_steps", "estimator", "eval_input_fn", "logits_of", "loss_of", "make_data",
    "metric_fn", "mirrored", "model_fn_dict", "model_fn_list", "numpy_eval", "read_event_scalars", "tpu_run_config",
    "train_input_fn", "train_op_for", "v1",
]

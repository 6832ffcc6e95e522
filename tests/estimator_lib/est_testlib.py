"""The estimator tests' names for the shared helpers in tests/testlib (kept so that existing
`from est_testlib import ...` lines keep working; new code imports from testlib)."""

from testlib.checkpoints import checkpoint_steps
from testlib.events import read_scalars
from testlib.hooks import RecordingHook
from testlib.linear import TRUE_B, TRUE_W, linear_model_fn, linear_net, make_data, make_input_fn, v1

TRAINED_STEPS = 40  # steps of the shared trained model (conftest.trained_linear_dir)

__all__ = [
    "TRAINED_STEPS", "TRUE_B", "TRUE_W", "RecordingHook", "checkpoint_steps", "linear_model_fn", "linear_net",
    "make_data", "make_input_fn", "read_scalars", "v1",
]

"""A train_and_evaluate job for the restart test. Usage: python restart_task.py MODEL_DIR KILL_AT_STEP

KILL_AT_STEP > 0 makes the process SIGKILL itself once training passes that global step (a lost machine:
no cleanup, no exception handlers). Prints 'RESULT <json>' when it finishes.
"""

import json
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from testlib import linear  # noqa: E402

from estimator_lib.estimator import Estimator  # noqa: E402
from estimator_lib.exporters import BestExporter, LatestExporter  # noqa: E402
from estimator_lib.run_config import RunConfig  # noqa: E402
from estimator_lib.training import EvalSpec, TrainSpec, train_and_evaluate  # noqa: E402

MAX_STEPS = 50


class KillAtStep(tf.compat.v1.train.SessionRunHook):
    def __init__(self, step):
        self._step = step

    def begin(self):
        self._global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context):
        return tf.compat.v1.train.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values):
        if run_values.results >= self._step:
            os.kill(os.getpid(), signal.SIGKILL)


def higher_loss_is_better(best_eval_result, current_eval_result):
    """Inverted on purpose: the loss falls as training goes on, so every later model is 'worse'."""
    return current_eval_result["loss"] > best_eval_result["loss"]


def main(model_dir: str, kill_at: int) -> None:
    config = RunConfig(save_checkpoints_steps=10, log_step_count_steps=0, save_summary_steps=0)
    estimator = Estimator(linear.model_fn, model_dir=model_dir, config=config)
    start = estimator.latest_checkpoint()
    hooks = [KillAtStep(kill_at)] if kill_at else []
    metrics, exports = train_and_evaluate(
        estimator,
        TrainSpec(linear.train_input_fn(), max_steps=MAX_STEPS, hooks=hooks),
        EvalSpec(
            linear.eval_input_fn(), steps=None, throttle_secs=0,
            exporters=[
                BestExporter("best", linear.serving_input_receiver_fn, compare_fn=higher_loss_is_better),
                LatestExporter("latest", linear.serving_input_receiver_fn, exports_to_keep=2),
            ],
        ),
    )
    print(
        "RESULT " + json.dumps({"start": start, "metrics": metrics, "exports": [e.decode() for e in exports]}),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

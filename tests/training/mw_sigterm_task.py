"""One trainer of a multi-worker run for the SIGTERM test; TF_CONFIG comes from the environment.

Usage: python mw_sigterm_task.py MODEL_DIR MAX_STEPS. Prints `STEP <n>` (global step after each run),
`SAVING <n>` before each save, and `DONE <n>` at the end; a SIGTERM to either trainer ends both with
code 143 after the same step.
"""

import faulthandler
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from testlib import linear  # noqa: E402

from estimator_lib.estimator import Estimator  # noqa: E402
from estimator_lib.run_config import RunConfig  # noqa: E402

v1 = tf.compat.v1


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class ReportSteps(v1.train.SessionRunHook):
    def begin(self):
        self._step = v1.train.get_global_step()

    def after_run(self, run_context, run_values):
        say(f"STEP {int(run_context.session.run(self._step))}")


class ReportSaves(v1.train.CheckpointSaverListener):
    def before_save(self, session, global_step_value):
        say(f"SAVING {global_step_value}")


def main(model_dir, max_steps):
    faulthandler.dump_traceback_later(150, exit=True)  # a hang dumps the stacks instead of waiting forever
    strategy = tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy()
    config = RunConfig(save_checkpoints_steps=10, train_distribute=strategy, log_step_count_steps=0,
                       save_summary_steps=0)
    estimator = Estimator(linear.model_fn, model_dir=model_dir, config=config, params={"learning_rate": 0.05})
    estimator.train(linear.train_input_fn(), max_steps=max_steps, hooks=[ReportSteps()],
                    saving_listeners=[ReportSaves()])
    say(f"DONE {max_steps}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

"""A training job for the kill/resume tests: trains example_models.classifier with Estimator and reports.

Run as `python _kill_job.py MODEL_DIR MAX_STEPS SAVE_STEPS [MIRROR_URI]`. Prints, one per line and flushed:
`RESTORED <step|none>` after an optional restore from the mirror, `STEP <n>` with the global step each step
starts from, `SAVING <n>` / `SAVED <n>` around every checkpoint save, and `DONE <n>` at the end. The test
reads these lines to SIGKILL the process at chosen moments.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from estimator_lib.estimator import Estimator  # noqa: E402
from estimator_lib.run_config import RunConfig  # noqa: E402
from estimator_lib.storage.mirror import CheckpointMirrorListener, restore_from_mirror  # noqa: E402
from example_models import classifier  # noqa: E402

PARAMS = {"hidden_units": [8], "batch_size": 16, "n_examples": 256, "learning_rate": 0.1, "seed": 0}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class ReportSteps(tf.compat.v1.train.SessionRunHook):
    def begin(self):
        self._step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context):
        return tf.compat.v1.train.SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        say(f"STEP {int(run_values.results)}")


class ReportSaves(tf.compat.v1.train.CheckpointSaverListener):
    def before_save(self, session, global_step_value):
        say(f"SAVING {global_step_value}")

    def after_save(self, session, global_step_value):
        say(f"SAVED {global_step_value}")


def main(argv: list[str]) -> None:
    model_dir, max_steps, save_steps = argv[0], int(argv[1]), int(argv[2])
    mirror = argv[3] if len(argv) > 3 else None
    listeners = [ReportSaves()]
    if mirror:
        restored = restore_from_mirror(mirror, model_dir)
        say(f"RESTORED {restored or 'none'}")
        listeners.append(CheckpointMirrorListener(model_dir, mirror, max_to_keep=3, on_error="raise"))
    config = RunConfig(save_checkpoints_steps=save_steps, keep_checkpoint_max=3, log_step_count_steps=0,
                       save_summary_steps=0, tf_random_seed=0)
    estimator = Estimator(classifier.model_fn, model_dir=model_dir, config=config, params=PARAMS)
    estimator.train(classifier.input_fn, max_steps=max_steps,
                    hooks=[ReportSteps()], saving_listeners=listeners)
    say(f"DONE {estimator.get_variable_value('global_step')}")


if __name__ == "__main__":
    main(sys.argv[1:])

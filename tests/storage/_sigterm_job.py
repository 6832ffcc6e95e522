"""A training job for the SIGTERM tests: `python _sigterm_job.py KIND MODEL_DIR MAX_STEPS [MIRROR_URI]`.

KIND is `estimator` (example_models.classifier under Estimator, a checkpoint every 10 steps) or `tpu`
(TPUEstimator over 2 virtual CPU replicas with iterations_per_loop=5, a checkpoint every 20 steps).
Prints, flushed, one per line: `READY` once train() has built its graph, `STEP <n>` with the global step
after every session.run, `SAVING <n>` / `SAVED <n>` around every save, `DONE <n>` at the end. A SIGTERM
makes train() raise TrainingPreempted, which ends the process with code 143.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class ReportSteps(v1.train.SessionRunHook):
    def begin(self):
        self._step = v1.train.get_global_step()
        say("READY")  # inside train(): the graph is built, the session not created yet

    def after_run(self, run_context, run_values):
        say(f"STEP {int(run_context.session.run(self._step))}")


class ReportSaves(v1.train.CheckpointSaverListener):
    def before_save(self, session, global_step_value):
        say(f"SAVING {global_step_value}")

    def after_save(self, session, global_step_value):
        say(f"SAVED {global_step_value}")


def build(kind: str, model_dir: str):
    if kind == "estimator":
        from estimator_lib.estimator import Estimator
        from estimator_lib.run_config import RunConfig
        from example_models import classifier

        params = {"hidden_units": [8], "batch_size": 16, "n_examples": 256, "learning_rate": 0.1, "seed": 0}
        config = RunConfig(save_checkpoints_steps=10, keep_checkpoint_max=3, log_step_count_steps=0,
                           save_summary_steps=0, tf_random_seed=0)
        return Estimator(classifier.model_fn, model_dir=model_dir, config=config, params=params), classifier.input_fn
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    from testlib import tpu_classifier  # on PYTHONPATH: the test starts this job with testlib.processes.python_env

    estimator = tpu_classifier.estimator(
        tpu_classifier.model_fn_list, model_dir, replicas=2, iterations_per_loop=5,
        config_kwargs={"save_checkpoints_steps": 20, "keep_checkpoint_max": 3},
    )
    return estimator, tpu_classifier.train_input_fn


def main(argv: list[str]) -> None:
    kind, model_dir, max_steps = argv[0], argv[1], int(argv[2])
    mirror = argv[3] if len(argv) > 3 else None
    listeners = [ReportSaves()]
    if mirror:
        from estimator_lib.storage.mirror import CheckpointMirrorListener, restore_from_mirror

        restore_from_mirror(mirror, model_dir)
        listeners.append(CheckpointMirrorListener(model_dir, mirror, max_to_keep=3, on_error="raise"))
    estimator, input_fn = build(kind, model_dir)
    estimator.train(input_fn, max_steps=max_steps, hooks=[ReportSteps()], saving_listeners=listeners)
    say(f"DONE {estimator.get_variable_value('global_step')}")


if __name__ == "__main__":
    main(sys.argv[1:])

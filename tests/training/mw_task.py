"""One task of a multi-worker train_and_evaluate run; TF_CONFIG comes from the environment.

Usage: python mw_task.py MODEL_DIR MAX_STEPS [early]. Prints 'RESULT <json>' on success. With 'early',
training also carries an early-stopping hook that fires once the evaluator has written any result.
"""

import faulthandler
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from testlib import linear  # noqa: E402

from estimator_lib.distribute import multi_worker  # noqa: E402
from estimator_lib.early_stopping import stop_if_lower_hook  # noqa: E402
from estimator_lib.estimator import Estimator  # noqa: E402
from estimator_lib.exporters import LatestExporter  # noqa: E402
from estimator_lib.run_config import RunConfig  # noqa: E402
from estimator_lib.training import EvalSpec, TrainSpec, train_and_evaluate  # noqa: E402


def main(model_dir: str, max_steps: int, early: bool) -> None:
    # A hang (e.g. a collective waiting for a peer) dumps every thread's stack into the log and exits,
    # before the test's own deadline, so a failure says where it stuck.
    faulthandler.dump_traceback_later(120, exit=True)
    task_type = json.loads(os.environ["TF_CONFIG"])["task"]["type"]
    strategy = None
    if task_type != "evaluator":
        strategy = tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy()
    config = RunConfig(
        save_checkpoints_steps=5, train_distribute=strategy, log_step_count_steps=5, save_summary_steps=5
    )
    estimator = Estimator(linear.model_fn, model_dir=model_dir, config=config, params={"learning_rate": 0.05})
    hooks = [stop_if_lower_hook(estimator, "loss", 1e9, run_every_steps=2)] if early and strategy else []
    metrics, exports = train_and_evaluate(
        estimator,
        TrainSpec(linear.train_input_fn(), max_steps=max_steps, hooks=hooks),
        EvalSpec(
            linear.eval_input_fn(),
            steps=None,
            exporters=[LatestExporter("latest", linear.serving_input_receiver_fn, exports_to_keep=2)],
            start_delay_secs=0,
            throttle_secs=0,
        ),
    )
    result = {"task": task_type, "metrics": metrics, "exports": [e.decode() for e in exports]}
    if task_type == "worker":
        # The worker's own copy of the final checkpoint (its scratch dir is removed when it exits).
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(multi_worker.scratch_dir(config)))
        result["worker_checkpoint"] = {
            "global_step": int(reader.get_tensor("global_step")),
            "w": reader.get_tensor("w").tolist(),
        }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["early"])

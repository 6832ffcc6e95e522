"""Evaluate/predict while a trainer collects old checkpoints: the newest readable one is used, and when none is
left the error says so (instead of a NotFoundError blaming a variable)."""

import glob
import os
import signal
import subprocess
import sys
import threading

import pytest

from estimator_lib.estimator import Estimator
from estimator_lib.run_config import RunConfig
from example_models import classifier

PARAMS = {"hidden_units": [8], "batch_size": 16, "n_examples": 64, "learning_rate": 0.1, "seed": 0}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _estimator(model_dir):
    config = RunConfig(save_checkpoints_steps=10, keep_checkpoint_max=5, log_step_count_steps=0, save_summary_steps=0)
    return Estimator(classifier.model_fn, model_dir=model_dir, config=config, params=PARAMS)


def _deleting_input_fn(model_dir, steps):
    """An input_fn that removes checkpoints when the graph is built: after the evaluation chose its checkpoint,
    before the session restores it (what a trainer's garbage collection does at the worst moment)."""

    def input_fn(mode, params):
        for step in steps:
            for path in glob.glob(os.path.join(model_dir, f"model.ckpt-{step}.*")):
                os.remove(path)
        return classifier.input_fn(mode, params)

    return input_fn


def test_evaluate_and_predict_fall_back_to_the_newest_readable_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    estimator = _estimator(model_dir)
    estimator.train(classifier.input_fn, max_steps=30)
    assert estimator.latest_checkpoint().endswith("model.ckpt-30")
    metrics = estimator.evaluate(_deleting_input_fn(model_dir, [30]), steps=1)
    assert metrics["global_step"] == 20
    predictions = list(estimator.predict(_deleting_input_fn(model_dir, [20]), yield_single_examples=False))
    assert predictions and "probabilities" in predictions[0]
    assert estimator.latest_checkpoint().endswith("model.ckpt-10")


def test_when_no_checkpoint_is_left_the_error_says_so(tmp_path):
    model_dir = str(tmp_path)
    estimator = _estimator(model_dir)
    estimator.train(classifier.input_fn, max_steps=20)
    with pytest.raises(ValueError, match=r"No readable checkpoint left in .*deleted or damaged.*keep_checkpoint_max"):
        estimator.evaluate(_deleting_input_fn(model_dir, [0, 10, 20]), steps=1)


def test_a_named_checkpoint_that_is_gone_is_not_silently_replaced(tmp_path):
    model_dir = str(tmp_path)
    estimator = _estimator(model_dir)
    estimator.train(classifier.input_fn, max_steps=20)
    with pytest.raises(ValueError, match=r"not a valid checkpoint: .*model.ckpt-20"):
        estimator.evaluate(_deleting_input_fn(model_dir, [20]), steps=1,
                           checkpoint_path=os.path.join(model_dir, "model.ckpt-20"))


@pytest.mark.slow
def test_evaluations_during_training_with_aggressive_collection_all_succeed(tmp_path):
    model_dir = str(tmp_path / "model")
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    # A save every step, three kept: checkpoints disappear a few milliseconds after they appear.
    trainer = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "_kill_job.py"), model_dir, "100000", "1"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watchdog = threading.Timer(300, trainer.kill)
    watchdog.start()
    try:
        for line in trainer.stdout:
            if line.startswith("SAVED ") and int(line.split()[1]) >= 5:
                break
        threading.Thread(target=lambda: [None for _ in trainer.stdout], daemon=True).start()
        estimator = Estimator(
            classifier.model_fn,
            model_dir=model_dir,
            config=RunConfig(log_step_count_steps=0),
            params={"hidden_units": [8], "batch_size": 16, "n_examples": 256},
        )
        steps = [estimator.evaluate(classifier.input_fn, steps=1)["global_step"] for _ in range(15)]
    finally:
        watchdog.cancel()
        trainer.send_signal(signal.SIGTERM)
        trainer.wait(timeout=120)
    assert len(steps) == 15 and steps == sorted(steps) and steps[-1] > steps[0], steps


def test_a_garbage_checkpoint_path_is_named_not_readable(tmp_path):
    estimator = _estimator(str(tmp_path / "model"))
    garbage = tmp_path / "junk.ckpt"
    (tmp_path / "junk.ckpt.index").write_bytes(b"this is not a checkpoint index")
    with pytest.raises(ValueError, match=r"checkpoint_path=.*junk.ckpt' is not a readable checkpoint \("):
        estimator.evaluate(classifier.input_fn, steps=1, checkpoint_path=str(garbage))


def test_a_checkpoint_of_other_shapes_is_refused_naming_the_variable(tmp_path):
    model_dir = str(tmp_path / "model")
    _estimator(model_dir).train(classifier.input_fn, max_steps=3)
    config = RunConfig(log_step_count_steps=0, save_summary_steps=0)
    wider = Estimator(classifier.model_fn, model_dir=model_dir, config=config, params={**PARAMS, "hidden_units": [16]})
    message = r"does not fit the model: variable shapes differ \(hidden_0/kernel: checkpoint \[4, 8\], model \[4, 16\]"
    with pytest.raises(ValueError, match=message):
        wider.evaluate(classifier.input_fn, steps=1)
    with pytest.raises(ValueError, match=message):
        wider.train(classifier.input_fn, max_steps=5)

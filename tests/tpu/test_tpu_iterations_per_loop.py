"""iterations_per_loop: N steps per session.run on every strategy, max_steps exact, hooks, summaries
and checkpoints at loop boundaries, the duration form, and the same model whatever N or the replicas."""

from __future__ import annotations

import numpy as np
import pytest
from tpu_testlib import (
    StepRecorder,
    checkpoint_steps,
    estimator,
    model_fn_list,
    read_event_scalars,
    train_input_fn,
)


@pytest.mark.parametrize("replicas", [1, 2])
def test_n_steps_per_run_and_exact_max_steps(tmp_path, replicas):
    est = estimator(model_fn_list, str(tmp_path), replicas=replicas, iterations_per_loop=10)
    recorder = StepRecorder()
    est.train(train_input_fn, max_steps=25, hooks=[recorder])
    assert recorder.steps_after == [10, 20, 25]
    assert recorder.runs == 3
    assert est.get_variable_value("global_step") == 25
    # steps= continues from the checkpoint and stops exactly too.
    again = StepRecorder()
    est.train(train_input_fn, steps=7, hooks=[again])
    assert again.steps_after == [32]
    # Already there: nothing runs.
    est.train(train_input_fn, max_steps=30)
    assert est.get_variable_value("global_step") == 32


def test_one_step_per_run_on_replicas(tmp_path):
    est = estimator(model_fn_list, str(tmp_path), replicas=2, iterations_per_loop=1)
    recorder = StepRecorder()
    est.train(train_input_fn, max_steps=4, hooks=[recorder])
    assert recorder.steps_after == [1, 2, 3, 4]


def test_checkpoints_and_summaries_at_loop_boundaries(tmp_path):
    model_dir = str(tmp_path)
    est = estimator(model_fn_list, model_dir, replicas=2, iterations_per_loop=4,
                    config_kwargs={"save_checkpoints_steps": 6, "save_summary_steps": 1, "log_step_count_steps": 1,
                                   "keep_checkpoint_max": 10})
    recorder = StepRecorder()
    est.train(train_input_fn, max_steps=14, hooks=[recorder])
    boundaries = [4, 8, 12, 14]
    assert recorder.steps_after == boundaries
    saved = checkpoint_steps(model_dir)
    assert saved[-1] == 14
    assert set(saved) <= set(boundaries) | {0}
    losses = read_event_scalars(model_dir)["loss"]
    assert [step for step, _ in losses] == boundaries
    assert all(np.isfinite(value) for _, value in losses)


def test_duration_form_runs_to_max_steps(tmp_path):
    est = estimator(model_fn_list, str(tmp_path), replicas=2, iterations_per_loop="1s")
    recorder = StepRecorder()
    est.train(train_input_fn, max_steps=12, hooks=[recorder])
    # The first loop is one step long (to measure a step); later loops are sized from that time.
    assert recorder.steps_after[0] == 1
    assert recorder.steps_after[-1] == 12
    assert recorder.steps_after == sorted(set(recorder.steps_after))
    assert est.get_variable_value("global_step") == 12


def test_same_model_whatever_loop_length_and_replicas(tmp_path):
    """Gradients are averaged across replicas, so 1 replica x K=1 and 4 replicas x K=5 train the same
    weights from the same global batches."""
    weights = []
    for replicas, loop in ((1, 1), (4, 5)):
        est = estimator(model_fn_list, str(tmp_path / f"r{replicas}k{loop}"), replicas=replicas,
                        iterations_per_loop=loop)
        est.train(train_input_fn, max_steps=10)
        weights.append((est.get_variable_value("w"), est.get_variable_value("b")))
    np.testing.assert_allclose(weights[0][0], weights[1][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights[0][1], weights[1][1], rtol=1e-4, atol=1e-5)
    assert np.abs(weights[0][0]).sum() > 0.1


def test_scaffold_fn_and_training_hooks_on_replicas(tmp_path):
    """model_fn runs once per replica, but the scaffold and the spec's hooks are used once."""
    from tpu_testlib import logits_of, loss_of, train_op_for, v1

    from estimator_lib.mode_keys import ModeKeys
    from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

    init_calls = []
    hooks = []

    def model_fn(features, labels, mode):
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        hook = StepRecorder()
        hooks.append(hook)

        def scaffold_fn():
            return v1.train.Scaffold(init_fn=lambda scaffold, session: init_calls.append(True))

        assert mode == ModeKeys.TRAIN
        return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op_for(loss), scaffold_fn=scaffold_fn,
                                training_hooks=[hook])

    est = estimator(model_fn, str(tmp_path), replicas=2, iterations_per_loop=2)
    est.train(train_input_fn, max_steps=4)
    assert len(hooks) == 2  # one model_fn call per replica
    assert init_calls == [True]
    assert [hook.steps_after for hook in hooks].count([2, 4]) == 1

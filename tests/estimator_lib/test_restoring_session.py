"""evaluate() and predict() sessions only restore: no save ops, no redundant readiness checks, same results.

No timing here (docs/benchmarks.md has the figures): these check what the graph holds and that every case
the Scaffold's default checks exist for still fails as it did.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn
from testlib import processes
from testlib.hooks import GraphSpy
from testlib.scaffolds import linear_model_fn_with_scaffold, local_init_op_skipping_a_variable, saver_of_w_only

from estimator_lib.estimator import Estimator
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


def _no_save_and_no_ready_report(spy: GraphSpy) -> None:
    assert "RestoreV2" in spy.op_types  # the checkpoint is restored ...
    assert not {"SaveV2", "MergeV2Checkpoints", "ShardedFilename"} & spy.op_types  # ... by a saver that cannot save
    assert not [name for name in spy.op_names if "report_uninitialized" in name]


def test_evaluate_graph_restores_without_save_ops_or_readiness_reports(trained_linear):
    spy = GraphSpy()
    metrics = trained_linear.evaluate(make_input_fn(), steps=2, hooks=[spy])
    _no_save_and_no_ready_report(spy)
    assert metrics["global_step"] == 40
    assert metrics["loss"] < 0.05  # the trained weights were restored, not fresh zeros


def test_predict_graph_restores_without_save_ops_or_readiness_reports(trained_linear):
    spy = GraphSpy()
    predictions = list(trained_linear.predict(make_input_fn(n=8, repeat=False, labels=False), hooks=[spy]))
    _no_save_and_no_ready_report(spy)
    assert len(predictions) == 8
    assert np.abs(predictions[0]["y"]).sum() > 0  # restored weights (fresh zeros would predict 0)


def test_evaluate_without_a_checkpoint_initialises_every_variable(tmp_path):
    est = Estimator(linear_model_fn, model_dir=str(tmp_path), config=RunConfig(tf_random_seed=1))
    metrics = est.evaluate(make_input_fn(), steps=1)
    assert metrics["global_step"] == 0


class _SaveFromEval(v1.train.SessionRunHook):
    def after_create_session(self, session, coord):
        saver = v1.get_collection(v1.GraphKeys.SAVERS)[0]
        saver.save(session, "/tmp/never-written")


def test_the_evaluate_saver_refuses_to_save_with_a_clear_error(trained_linear):
    with pytest.raises(ValueError, match=r"only restores checkpoints; it cannot save .* create a tf.compat.v1.train"):
        trained_linear.evaluate(make_input_fn(), steps=1, hooks=[_SaveFromEval()])


def test_a_user_local_init_op_keeps_the_default_readiness_check(trained_linear_dir):
    est = Estimator(
        linear_model_fn_with_scaffold(ModeKeys.EVAL, local_init_op_skipping_a_variable),
        model_dir=trained_linear_dir,
        config=RunConfig(tf_random_seed=7),
    )
    with pytest.raises(RuntimeError, match="left_uninitialised"):
        est.evaluate(make_input_fn(), steps=1)


def test_a_user_saver_over_some_variables_keeps_the_default_readiness_check(trained_linear_dir):
    est = Estimator(
        linear_model_fn_with_scaffold(ModeKeys.PREDICT, saver_of_w_only),
        model_dir=trained_linear_dir,
        config=RunConfig(tf_random_seed=7),
    )
    with pytest.raises(RuntimeError, match=r"not initialized: .*\bb\b"):
        next(iter(est.predict(make_input_fn(n=8, repeat=False, labels=False))))


def test_a_plain_estimator_never_imports_the_tpu_package(tmp_path):
    """Importing estimator_lib.tpu costs a plain Estimator's first call about 70 ms (docs/benchmarks.md)."""
    script = textwrap.dedent(
        f"""
        import sys
        from testlib.linear import linear_model_fn, make_input_fn
        from estimator_lib.estimator import Estimator
        est = Estimator(linear_model_fn, model_dir={str(tmp_path)!r})
        est.train(make_input_fn(), steps=2)
        est.evaluate(make_input_fn(), steps=1)
        list(est.predict(make_input_fn(n=8, repeat=False, labels=False)))
        print(sorted(m for m in sys.modules if m.startswith("estimator_lib.tpu")))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=processes.python_env()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"

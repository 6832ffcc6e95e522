"""Exporters on a real trained model: kept count, safe garbage collection, best selection across a restart."""

import os
import shutil

import pytest
import tensorflow as tf
from testlib import linear
from testlib.linear import make_estimator

from estimator_lib.exporters import BestExporter, FinalExporter, LatestExporter, complete_exports, loss_smaller


@pytest.fixture
def estimator(trained_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained_dir, model_dir)
    return make_estimator(model_dir)


def _export(exporter, estimator, loss, step, final=False, checkpoint=None):
    path = os.path.join(estimator.model_dir, "export", exporter.name)
    checkpoint = checkpoint or estimator.latest_checkpoint()
    return exporter.export(estimator, path, checkpoint, {"loss": loss, "global_step": step}, final)


def _checkpoint_at(estimator, step):
    """The latest checkpoint's files copied to `model.ckpt-<step>`: a new, readable checkpoint, as more training
    would write, without the cost of training."""
    source = estimator.latest_checkpoint()
    target = os.path.join(estimator.model_dir, f"model.ckpt-{step}")
    for path in tf.io.gfile.glob(source + ".*"):
        shutil.copy(path, target + path[len(source):])
    return target


def test_latest_exporter_keeps_the_newest_and_ignores_foreign_dirs(estimator):
    exporter = LatestExporter("latest", linear.serving_input_receiver_fn, exports_to_keep=2)
    base = os.path.join(estimator.model_dir, "export", "latest")
    os.makedirs(os.path.join(base, "temp-123"))  # an export in flight: never counted nor removed
    os.makedirs(os.path.join(base, "100"))  # timestamped but incomplete (no saved_model.pb): not counted
    paths = []
    for step in (11, 12, 13):
        # A new checkpoint each time: the exporter exports every checkpoint it has not exported yet.
        paths.append(_export(exporter, estimator, 1.0, step, checkpoint=_checkpoint_at(estimator, step)).decode())
    kept = complete_exports(base)
    assert kept == paths[-2:]
    assert sorted(os.listdir(base)) == sorted(["temp-123", "100"] + [os.path.basename(p) for p in paths[-2:]])


def test_latest_exporter_does_not_export_one_checkpoint_twice(estimator):
    exporter = LatestExporter("latest", linear.serving_input_receiver_fn)
    first = _export(exporter, estimator, 1.0, 10)
    assert _export(exporter, estimator, 1.0, 10, final=True) == first
    assert len(complete_exports(os.path.join(estimator.model_dir, "export", "latest"))) == 1


def test_the_export_just_written_is_never_collected(estimator):
    exporter = LatestExporter("one", linear.serving_input_receiver_fn, exports_to_keep=1)
    base = os.path.join(estimator.model_dir, "export", "one")
    # A complete export from the future (a clock skewed peer) sorts after ours: ours must survive anyway.
    future = os.path.join(base, "99999999999")
    os.makedirs(future)
    open(os.path.join(future, "saved_model.pb"), "wb").close()
    path = _export(exporter, estimator, 1.0, 10).decode()
    assert os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb"))


def test_final_exporter_exports_only_the_final_model(estimator):
    exporter = FinalExporter("final", linear.serving_input_receiver_fn)
    assert _export(exporter, estimator, 1.0, 10, final=False) is None
    path = _export(exporter, estimator, 1.0, 10, final=True)
    assert tf.io.gfile.exists(os.path.join(path.decode(), "saved_model.pb"))


def test_best_exporter_selects_by_compare_fn(estimator):
    exporter = BestExporter("best", linear.serving_input_receiver_fn, event_file_pattern=None)
    assert _export(exporter, estimator, 2.0, 1) is not None
    assert _export(exporter, estimator, 3.0, 2) is None  # worse
    assert _export(exporter, estimator, 2.0, 3) is None  # not strictly better
    assert _export(exporter, estimator, 1.0, 4) is not None
    assert exporter.best_eval_result["loss"] == 1.0
    higher_is_better = BestExporter(
        "acc", linear.serving_input_receiver_fn, event_file_pattern=None,
        compare_fn=lambda best_eval_result, current_eval_result: current_eval_result["loss"] > best_eval_result["loss"],
    )
    assert _export(higher_is_better, estimator, 1.0, 1) is not None
    assert _export(higher_is_better, estimator, 0.5, 2) is None


def test_best_exporter_restores_the_best_result_from_eval_events(estimator):
    """A new BestExporter on the same model_dir (a restarted job) must not export a worse model."""
    metrics = estimator.evaluate(linear.eval_input_fn(), name=None)  # real event file at step 10
    first = BestExporter("best", linear.serving_input_receiver_fn)
    assert first.export(estimator, os.path.join(estimator.model_dir, "export", "best"),
                        estimator.latest_checkpoint(), metrics, False) is not None
    restarted = BestExporter("best", linear.serving_input_receiver_fn)
    assert _export(restarted, estimator, metrics["loss"] * 1.5, 20) is None
    assert restarted.best_eval_result["loss"] == pytest.approx(metrics["loss"])
    assert _export(restarted, estimator, metrics["loss"] * 0.5, 30) is not None
    assert len(complete_exports(os.path.join(estimator.model_dir, "export", "best"))) == 2


def test_best_exporter_judges_a_reevaluated_step_on_its_own(estimator):
    """The evaluation being judged is in the event files already; it must not count as history."""
    metrics = estimator.evaluate(linear.eval_input_fn())
    exporter = BestExporter("best", linear.serving_input_receiver_fn)
    assert _export(exporter, estimator, metrics["loss"], metrics["global_step"]) is not None


def test_default_compare_fn_needs_loss():
    with pytest.raises(ValueError, match="has no 'loss'.*pass BestExporter\\(compare_fn=...\\)"):
        loss_smaller({"loss": 1.0}, {"accuracy": 0.5})


def test_best_exporter_first_export_needs_no_eval_result(estimator):
    """The original exported on its first call even with eval_result=None; later calls compare."""
    exporter = BestExporter("best_none", linear.serving_input_receiver_fn, event_file_pattern=None)
    base = os.path.join(estimator.model_dir, "export", "best_none")
    assert exporter.export(estimator, base, estimator.latest_checkpoint(), None, False) is not None
    assert exporter.best_eval_result is None
    assert _export(exporter, estimator, 2.0, 1) is not None  # nothing to beat yet
    with pytest.raises(ValueError, match="current_eval_result has no 'loss'"):
        exporter.export(estimator, base, estimator.latest_checkpoint(), None, False)


def test_best_exporter_exports_into_an_empty_export_dir_even_after_better_evaluations(estimator):
    """Earlier evaluations were better, but this export_path holds no model: the first export still happens
    (as in the original), and the better earlier result stays the one to beat."""
    metrics = estimator.evaluate(linear.eval_input_fn())
    exporter = BestExporter("fresh", linear.serving_input_receiver_fn)
    assert _export(exporter, estimator, metrics["loss"] * 2.0, metrics["global_step"] + 10) is not None
    assert exporter.best_eval_result["loss"] == pytest.approx(metrics["loss"])
    assert _export(exporter, estimator, metrics["loss"] * 1.5, metrics["global_step"] + 20) is None

"""SIGKILL at every stage of the export step: no loadable-looking partial SavedModel, no leftovers after
the retry, and the retry publishes the complete SavedModel."""

import os
import signal
import subprocess
import sys
import tempfile

import pytest
import tensorflow as tf
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components.export.task import run_export

from estimator_lib.storage import COMMIT_MARKER, NonEmptyTargetError, leftovers, publish

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _files(root):
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = os.path.getsize(path)
    return found


@pytest.fixture(scope="module")
def reference_export(trained_model_dir, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("reference") / "saved_model")
    run_export(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=output, params_json=TINY_PARAMS_JSON)
    return output


def _stages(reference_export):
    count = len([name for name in _files(reference_export) if name != COMMIT_MARKER])
    return ([("builder", 0), ("publishing", 0)] + [("copy", n) for n in range(1, count + 1)]
            + [("commit", 0), ("committed", 0)])


@pytest.mark.slow
def test_a_kill_at_every_stage_never_shows_half_a_saved_model(trained_model_dir, reference_export, tmp_path,
                                                               monkeypatch):
    staging_root = tmp_path / "tmp"
    staging_root.mkdir()
    env = {**os.environ, "TMPDIR": str(staging_root), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    monkeypatch.setattr(tempfile, "tempdir", str(staging_root))  # the in-process retry stages there too
    complete = {name: size for name, size in _files(reference_export).items() if name != COMMIT_MARKER}
    outcomes = []
    for stage, n in _stages(reference_export):
        output = str(tmp_path / f"out-{stage}-{n}")
        job = subprocess.run([sys.executable, os.path.join(HERE, "_export_kill_job.py"), trained_model_dir, output,
                              stage, str(n)], env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
        assert job.returncode == -signal.SIGKILL, (stage, n, job.stdout[-2000:], job.stderr[-3000:])
        left = _files(output) if os.path.isdir(output) else {}
        if "saved_model.pb" in left:  # it looks loadable: then every file must be there, whole
            assert {k: v for k, v in left.items() if k in complete} == complete, (stage, n, left)
        committed = publish.read_committed(output) is not None
        outcomes.append((stage, n, "saved_model.pb" in left, committed))
        # The retry succeeds and publishes the whole SavedModel.
        metadata = run_export(model_ref=MODEL_REF, model_dir=trained_model_dir, output_dir=output,
                              params_json=TINY_PARAMS_JSON)
        assert metadata["global_step"] == 40
        assert publish.read_committed(output) is not None
        final = _files(output)
        assert {k: v for k, v in final.items() if k != COMMIT_MARKER} == complete, (stage, n, final)
        assert "serving_default" in tf.saved_model.load(output).signatures
        assert not os.listdir(staging_root), f"staging left behind after {stage} {n}: {os.listdir(staging_root)}"
    print("\nEXPORT KILL OUTCOMES (stage, n, saved_model.pb visible after the kill, committed)")
    for outcome in outcomes:
        print(outcome)
    assert len(outcomes) >= 7


def test_publish_refuses_files_it_did_not_write(tmp_path):
    source, output = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / "a.txt").write_text("a")
    output.mkdir()
    (output / "saved_model.pb").write_text("someone else's")
    with pytest.raises(NonEmptyTargetError, match=r"already holds files \['saved_model.pb'\] that no attempt"):
        publish.publish_directory(str(source), str(output))
    assert (output / "saved_model.pb").read_text() == "someone else's"


def test_a_damaged_committed_output_is_not_reused(tmp_path):
    source, output = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / "saved_model.pb").write_bytes(b"x" * 100)
    publish.publish_directory(str(source), str(output), last_files=("saved_model.pb",))
    assert publish.read_committed(str(output)) is not None
    (output / "saved_model.pb").write_bytes(b"y" * 100)
    with pytest.raises(Exception, match=r"is damaged \(crc32c"):
        publish.read_committed(str(output))


def test_leftovers_of_killed_processes_are_removed_and_live_ones_kept(tmp_path):
    live = leftovers.make_owned_temp_dir("estimator_lib_x_")
    try:
        dead_process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                      text=True, check=True)
        orphan = tmp_path / f"estimator_lib_x_pid{int(dead_process.stdout)}-abc"
        orphan.mkdir()
        (orphan / "f").write_text("x")
        mine = tmp_path / f"estimator_lib_x_pid{os.getpid()}-abc"
        mine.mkdir()
        assert leftovers.remove_orphaned_temp_dirs("estimator_lib_x_", str(tmp_path)) == [str(orphan)]
        assert mine.exists() and os.path.isdir(live)
    finally:
        os.rmdir(live)


def test_stale_export_temps_and_checkpoint_staging_are_removed(tmp_path):
    base = tmp_path / "exports"
    old, fresh = base / "temp-1700000000", base / "temp-1700000001"
    for directory in (old, fresh, base / "1700000002"):
        (directory / "variables").mkdir(parents=True)
        (directory / "variables" / "v").write_text("x")
    for path in (old, old / "variables", old / "variables" / "v"):
        os.utime(path, (1, 1))
    assert leftovers.remove_stale_export_temps(str(base)) == [str(old)]
    assert fresh.exists() and (base / "1700000002").exists()

    model_dir = tmp_path / "model"
    (model_dir / "model.ckpt-30_temp").mkdir(parents=True)
    (model_dir / "model.ckpt-30_temp" / "part-00000-of-00001.data-00000-of-00001").write_text("x")
    (model_dir / "checkpoint.tmp1a2b3c").write_text("x")
    (model_dir / "model.ckpt-20.index").write_text("kept")
    (model_dir / "notes_temp").mkdir()
    (model_dir / "notes_temp" / "mine.txt").write_text("kept: not a checkpoint staging folder")
    removed = sorted(os.path.basename(p) for p in leftovers.remove_checkpoint_temps(str(model_dir)))
    assert removed == ["checkpoint.tmp1a2b3c", "model.ckpt-30_temp"]
    assert sorted(os.listdir(model_dir)) == ["model.ckpt-20.index", "notes_temp"]

"""Choosing a restorable checkpoint, mirroring checkpoints to a bucket during training, resuming from it."""

from __future__ import annotations

import logging
import os
import shutil

import pytest
import tensorflow as tf
from _storage_artifacts import write_v1_checkpoints

from estimator_lib.storage import gcs
from estimator_lib.storage.checkpoint_scan import checkpoint_problem, find_restorable_checkpoint
from estimator_lib.storage.errors import InvalidStorageURIError, StorageError
from estimator_lib.storage.mirror import (
    CheckpointMirrorListener,
    list_mirrored_checkpoints,
    restore_from_mirror,
)


def _damage(path: str, how: str) -> None:
    if how == "truncate":
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
    elif how == "flip":
        with open(path, "rb") as handle:
            data = bytearray(handle.read())
        data[len(data) // 2] ^= 0xFF
        with open(path, "wb") as handle:
            handle.write(bytes(data))
    elif how == "empty":
        with open(path, "wb"):
            pass
    elif how == "delete":
        os.remove(path)


@pytest.mark.parametrize(
    "suffix, how",
    [(".data-00000-of-00001", "truncate"), (".data-00000-of-00001", "flip"), (".data-00000-of-00001", "delete"),
     (".index", "truncate"), (".index", "empty"), (".index", "delete")],
)
def test_damaged_newest_checkpoint_is_skipped(tmp_path, caplog, suffix, how):
    model_dir = str(tmp_path)
    prefixes = write_v1_checkpoints(model_dir, steps=(10, 20, 30))
    assert find_restorable_checkpoint(model_dir) == prefixes[-1]
    _damage(prefixes[-1] + suffix, how)
    with caplog.at_level(logging.WARNING, logger="estimator_lib.storage"):
        assert find_restorable_checkpoint(model_dir) == prefixes[-2]
    if how != "delete" or suffix != ".index":  # a checkpoint without an index is simply absent
        assert f"Skipping checkpoint {prefixes[-1]}" in caplog.text
    # The damaged files are left for inspection, never deleted.
    if how != "delete":
        assert os.path.exists(prefixes[-1] + suffix)


def test_damaged_state_file_and_all_checkpoints(tmp_path):
    model_dir = str(tmp_path)
    prefixes = write_v1_checkpoints(model_dir, steps=(1, 2))
    with open(os.path.join(model_dir, "checkpoint"), "w") as handle:
        handle.write("this is { not a text proto")
    assert find_restorable_checkpoint(model_dir) == prefixes[-1]
    for prefix in prefixes:
        _damage(prefix + ".data-00000-of-00001", "truncate")
    assert find_restorable_checkpoint(model_dir) is None
    assert find_restorable_checkpoint(str(tmp_path / "missing")) is None
    assert "missing" in checkpoint_problem(str(tmp_path / "nothing"))
    with pytest.raises(NotADirectoryError, match=r"is a file"):
        find_restorable_checkpoint(os.path.join(model_dir, "checkpoint"))


def _train(model_dir: str, steps: int, listeners, save_steps: int = 5) -> None:
    """A tiny real training loop: MonitoredTrainingSession + CheckpointSaverHook with saving listeners."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        x = tf.random.normal([8, 4], seed=1)
        weights = tf.compat.v1.get_variable("w", shape=[4, 1])
        loss = tf.reduce_mean(tf.square(tf.matmul(x, weights) - 1.0))
        global_step = tf.compat.v1.train.get_or_create_global_step()
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
        saver_hook = tf.compat.v1.train.CheckpointSaverHook(model_dir, save_steps=save_steps, listeners=listeners)
        hooks = [tf.compat.v1.train.StopAtStepHook(last_step=steps), saver_hook]
        creator = tf.compat.v1.train.ChiefSessionCreator(
            checkpoint_filename_with_path=find_restorable_checkpoint(model_dir))
        with tf.compat.v1.train.MonitoredSession(session_creator=creator, hooks=hooks) as session:
            while not session.should_stop():
                session.run(train_op)


def test_mirror_during_training_and_resume_from_bucket(gcs_env, gcs_bucket, gcs_client, fast_retry, tmp_path):
    first = str(tmp_path / "first")
    mirror = f"gs://{gcs_bucket}/mirrors/run1"
    listener = CheckpointMirrorListener(first, mirror, max_to_keep=3, retry=fast_retry, on_error="raise")
    _train(first, steps=20, listeners=[listener])
    assert listener.mirrored_steps == [0, 5, 10, 15, 20]
    assert [step for step, _ in list_mirrored_checkpoints(mirror)] == [20, 15, 10]
    state = gcs_client.bucket(gcs_bucket).blob("mirrors/run1/checkpoint").download_as_text()
    assert 'model_checkpoint_path: "model.ckpt-20"' in state
    names = {b.name.rsplit("/", 1)[1] for b in gcs_client.list_blobs(gcs_bucket, prefix="mirrors/run1/")}
    assert "model.ckpt-5.index" not in names and "model.ckpt-5._COMMITTED" not in names  # pruned

    # The machine is lost; a new one starts with an empty disk and resumes from the bucket.
    second = str(tmp_path / "second")
    prefix = restore_from_mirror(mirror, second, retry=fast_retry)
    assert prefix == os.path.join(second, "model.ckpt-20")
    assert tf.train.latest_checkpoint(second) == prefix
    reader = tf.train.load_checkpoint(prefix)
    original = tf.train.load_checkpoint(os.path.join(first, "model.ckpt-20"))
    assert (reader.get_tensor("w") == original.get_tensor("w")).all()
    assert reader.get_tensor("global_step") == 20
    # Nothing to do when the local copy is already as new.
    assert restore_from_mirror(mirror, second, retry=fast_retry) == prefix
    assert not [n for n in os.listdir(second) if ".tmp-" in n]


def test_uncommitted_and_damaged_mirror_checkpoints_are_skipped(gcs_env, gcs_bucket, gcs_client, fast_retry,
                                                                tmp_path, caplog):
    source = str(tmp_path / "src")
    write_v1_checkpoints(source, steps=(1, 2))
    mirror = f"gs://{gcs_bucket}/m"
    listener = CheckpointMirrorListener(source, mirror, retry=fast_retry, on_error="raise")
    listener.mirror_step(1)
    listener.mirror_step(2)
    bucket = gcs_client.bucket(gcs_bucket)
    # Step 3: files uploaded but the writer died before the marker.
    bucket.blob("m/model.ckpt-3.index").upload_from_string(b"half")
    # Step 2: damaged after commit.
    bucket.blob("m/model.ckpt-2.data-00000-of-00001").upload_from_string(b"garbage")
    assert [s for s, _ in list_mirrored_checkpoints(mirror)] == [2, 1]
    with caplog.at_level(logging.WARNING, logger="estimator_lib.storage"):
        prefix = restore_from_mirror(mirror, str(tmp_path / "dst"), retry=fast_retry)
    assert os.path.basename(prefix) == "model.ckpt-1"
    assert "Skipping mirrored checkpoint model.ckpt-2" in caplog.text
    assert sorted(os.listdir(tmp_path / "dst")) == [
        "checkpoint", "model.ckpt-1.data-00000-of-00001", "model.ckpt-1.index", "model.ckpt-1.meta"]


def test_mirroring_survives_faults_and_never_half_commits(gcs_fault_proxy, gcs_bucket, gcs_client, fast_retry,
                                                          tmp_path, caplog):
    from google.cloud.storage.retry import DEFAULT_RETRY

    model_dir = str(tmp_path / "model")
    mirror = f"gs://{gcs_bucket}/mirror"
    # Transient faults: retried, every checkpoint committed.
    gcs_fault_proxy.inject("503", times=3, match=r"^POST /upload/")
    gcs_fault_proxy.inject("drop", times=3, match=r"^POST /upload/", after=5)
    listener = CheckpointMirrorListener(model_dir, mirror, retry=fast_retry, on_error="raise")
    _train(model_dir, steps=10, listeners=[listener])
    assert gcs_fault_proxy.faults_injected == 6
    assert [s for s, _ in list_mirrored_checkpoints(mirror)] == [10, 5, 0]

    # A long outage: training goes on (on_error="warn"), nothing is committed half-written.
    short = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(0.5)
    gcs_fault_proxy.inject("503", times=None, seconds=600, match=r"^POST /upload/", after=1)
    warn = CheckpointMirrorListener(model_dir, mirror, retry=short)
    with caplog.at_level(logging.ERROR, logger="estimator_lib.storage"):
        _train(model_dir, steps=20, listeners=[warn])
    assert warn.failures >= 2 and "Training continues" in caplog.text
    assert find_restorable_checkpoint(model_dir).endswith("model.ckpt-20")
    committed = [s for s, _ in list_mirrored_checkpoints(mirror)]
    assert committed == [10, 5, 0]
    for step in committed:
        manifest = gcs.read_manifest(mirror, marker_name=f"model.ckpt-{step}._COMMITTED", client=gcs_client)
        for name, digest in manifest.files.items():
            assert gcs_client.bucket(gcs_bucket).get_blob(f"mirror/{name}").crc32c == digest.crc32c

    # Storage back: a restarted job on a fresh disk resumes from step 10, the newest committed one.
    gcs_fault_proxy.clear()
    fresh = str(tmp_path / "fresh")
    assert restore_from_mirror(mirror, fresh, retry=fast_retry).endswith("model.ckpt-10")


def test_listener_and_restore_validate_arguments(tmp_path, gcs_env):
    with pytest.raises(InvalidStorageURIError, match=r"`mirror_uri` must be a gs://bucket/path URI; received"):
        CheckpointMirrorListener(str(tmp_path), str(tmp_path / "m"))
    with pytest.raises(InvalidStorageURIError, match=r"whole bucket"):
        CheckpointMirrorListener(str(tmp_path), "gs://some-bucket")
    with pytest.raises(ValueError, match=r"`max_to_keep` must be a positive int or None; received 0"):
        CheckpointMirrorListener(str(tmp_path), "gs://some-bucket/m", max_to_keep=0)
    with pytest.raises(ValueError, match=r"`on_error` must be one of .*received 'ignore'"):
        CheckpointMirrorListener(str(tmp_path), "gs://some-bucket/m", on_error="ignore")
    with pytest.raises(InvalidStorageURIError, match=r"`local_model_dir` must be a local directory"):
        restore_from_mirror("gs://some-bucket/m", "gs://some-bucket/x")
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match=rf"`local_model_dir` {a_file} is a file"):
        restore_from_mirror("gs://some-bucket/m", str(a_file))
    with pytest.raises(StorageError, match=r"gs://no-such-bucket-z9 does not exist"):
        restore_from_mirror("gs://no-such-bucket-z9/m", str(tmp_path / "d"))
    shutil.rmtree(tmp_path / "d", ignore_errors=True)


def test_restore_during_an_outage_leaves_nothing_behind(gcs_fault_proxy, gcs_bucket, fast_retry, tmp_path):
    from google.cloud.storage.retry import DEFAULT_RETRY

    source = str(tmp_path / "src")
    write_v1_checkpoints(source, steps=(1,))
    mirror = f"gs://{gcs_bucket}/m"
    CheckpointMirrorListener(source, mirror, retry=fast_retry, on_error="raise").mirror_step(1)
    target = tmp_path / "dst"
    target.mkdir()
    (target / ".restore.tmp-0123456789ab").mkdir()  # left by a restore that was SIGKILLed
    gcs_fault_proxy.inject("cut_body", times=None, seconds=600, match=r"^GET /download/.*index")
    short = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(0.5)
    with pytest.raises(StorageError, match=r"Cannot download gs://.*model\.ckpt-1\.index.*retry deadline"):
        restore_from_mirror(mirror, str(target), retry=short)
    assert os.listdir(target) == [], "no partial checkpoint, no state file, no staging directory"
    gcs_fault_proxy.clear()
    assert restore_from_mirror(mirror, str(target), retry=fast_retry).endswith("model.ckpt-1")

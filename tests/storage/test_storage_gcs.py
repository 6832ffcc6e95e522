"""Directories to and from a real local GCS server: integrity, commit markers, bad inputs."""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf

from estimator_lib.storage import gcs, transfer
from estimator_lib.storage.checkpoint_scan import find_restorable_checkpoint
from estimator_lib.storage.errors import (
    BucketNotFoundError,
    IntegrityError,
    InvalidStorageURIError,
    NonEmptyTargetError,
    NotADirectoryTargetError,
    NotCommittedError,
)
from estimator_lib.storage.integrity import COMMIT_MARKER, digest_file, list_local_files


def _same_tree(a: str, b: str) -> None:
    files_a, files_b = list_local_files(a), list_local_files(b)
    assert sorted(files_a) == sorted(files_b)
    for name in files_a:
        assert digest_file(files_a[name]) == digest_file(files_b[name]), name


def test_checkpoint_directory_round_trip(gcs_env, gcs_bucket, gcs_client, checkpoint_dir, tmp_path):
    uri = f"gs://{gcs_bucket}/runs/1/model"
    manifest = gcs.upload_directory(checkpoint_dir, uri)
    assert "checkpoint" in manifest.files and "model.ckpt-3.index" in manifest.files
    marker = json.loads(gcs_client.bucket(gcs_bucket).blob(f"runs/1/model/{COMMIT_MARKER}").download_as_bytes())
    assert marker["files"]["model.ckpt-3.index"]["size"] == os.path.getsize(f"{checkpoint_dir}/model.ckpt-3.index")
    # The marker is the newest object: written last.
    blobs = {b.name: b for b in gcs_client.list_blobs(gcs_bucket, prefix="runs/1/model/")}
    newest = max(blobs.values(), key=lambda b: (b.updated, b.name == f"runs/1/model/{COMMIT_MARKER}"))
    assert newest.name.endswith(COMMIT_MARKER)

    target = str(tmp_path / "restored")
    gcs.download_directory(uri, target)
    _same_tree(checkpoint_dir, target)
    prefix = find_restorable_checkpoint(target)
    assert os.path.basename(prefix) == "model.ckpt-3"
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_tensor("global_step") == 3
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n], "no staging directory left behind"


def test_saved_model_round_trip_loads_and_serves(gcs_env, gcs_bucket, saved_model_dir, tmp_path):
    uri = f"gs://{gcs_bucket}/exports/1700000000"
    target = str(tmp_path / "serving" / "1700000000")
    assert transfer.copy_directory(saved_model_dir, uri) == uri
    assert transfer.copy_directory(uri, target) == target
    _same_tree(saved_model_dir, target)
    loaded = tf.saved_model.load(target)
    result = loaded.signatures["serving_default"](tf.constant([1.0, 2.0]))
    assert result["y"].numpy().tolist() == [3.0, 6.0]


def test_readers_ignore_uncommitted_directories(gcs_env, gcs_bucket, gcs_client, saved_model_dir, tmp_path):
    base = f"gs://{gcs_bucket}/exports"
    gcs.upload_directory(saved_model_dir, f"{base}/100")
    # A writer that crashed half-way: files but no marker.
    bucket = gcs_client.bucket(gcs_bucket)
    bucket.blob("exports/200/saved_model.pb").upload_from_string(b"partial")
    # A marker that is not ours (or is damaged) does not count either.
    bucket.blob(f"exports/300/{COMMIT_MARKER}").upload_from_string(b"{not json")
    assert gcs.list_committed_directories(base) == ["100"]
    with pytest.raises(NotCommittedError, match=r"exports/200 is not committed"):
        gcs.download_directory(f"{base}/200", str(tmp_path / "x"))
    with pytest.raises(NotCommittedError, match=r"unreadable"):
        gcs.download_directory(f"{base}/300", str(tmp_path / "y"))
    assert not os.path.exists(tmp_path / "x") and not os.path.exists(tmp_path / "y")


def test_upload_replaces_leftovers_of_a_crashed_attempt(gcs_env, gcs_bucket, gcs_client, saved_model_dir):
    gcs_client.bucket(gcs_bucket).blob("exports/1/stale.bin").upload_from_string(b"old")
    gcs.upload_directory(saved_model_dir, f"gs://{gcs_bucket}/exports/1")
    names = {b.name for b in gcs_client.list_blobs(gcs_bucket, prefix="exports/1/")}
    assert "exports/1/stale.bin" not in names


def test_download_detects_an_object_damaged_after_commit(gcs_env, gcs_bucket, gcs_client, saved_model_dir, tmp_path):
    uri = f"gs://{gcs_bucket}/exports/5"
    gcs.upload_directory(saved_model_dir, uri)
    gcs_client.bucket(gcs_bucket).blob("exports/5/saved_model.pb").upload_from_string(b"tampered")
    with pytest.raises(IntegrityError, match=r"saved_model.pb.*damaged \(size"):
        gcs.download_directory(uri, str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")
    gcs_client.bucket(gcs_bucket).blob("exports/5/saved_model.pb").delete()
    with pytest.raises(IntegrityError, match=r"listed in the commit marker.*but is missing"):
        gcs.download_directory(uri, str(tmp_path / "out"))


def test_missing_bucket_is_named(gcs_env, saved_model_dir, tmp_path):
    with pytest.raises(BucketNotFoundError, match=r"gs://no-such-bucket-x1 does not exist"):
        gcs.upload_directory(saved_model_dir, "gs://no-such-bucket-x1/exports/1")
    with pytest.raises(BucketNotFoundError, match=r"gs://no-such-bucket-x1 does not exist"):
        gcs.download_directory("gs://no-such-bucket-x1/exports/1", str(tmp_path / "t"))
    with pytest.raises(BucketNotFoundError, match=r"no-such-bucket-x1"):
        gcs.list_committed_directories("gs://no-such-bucket-x1/exports")


def test_committed_target_is_never_overwritten(gcs_env, gcs_bucket, saved_model_dir):
    uri = f"gs://{gcs_bucket}/exports/7"
    gcs.upload_directory(saved_model_dir, uri)
    with pytest.raises(NonEmptyTargetError, match=rf"{uri} already holds a committed directory"):
        gcs.upload_directory(saved_model_dir, uri)


def test_local_bad_targets_and_sources(gcs_env, gcs_bucket, saved_model_dir, tmp_path):
    uri = f"gs://{gcs_bucket}/exports/8"
    gcs.upload_directory(saved_model_dir, uri)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryTargetError, match=rf"{a_file} is a file"):
        gcs.download_directory(uri, str(a_file))
    with pytest.raises(NotADirectoryTargetError, match=rf"`source` {a_file} is a file"):
        gcs.upload_directory(str(a_file), f"gs://{gcs_bucket}/exports/9")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(NonEmptyTargetError, match=rf"`target` {full} is not empty"):
        gcs.download_directory(uri, str(full))
    assert (full / "keep.txt").read_text() == "mine"
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        gcs.upload_directory(str(tmp_path / "nope"), f"gs://{gcs_bucket}/exports/9")
    with pytest.raises(InvalidStorageURIError, match=r"whole bucket"):
        gcs.upload_directory(saved_model_dir, f"gs://{gcs_bucket}")
    with pytest.raises(InvalidStorageURIError, match=r"'\.\.'"):
        gcs.upload_directory(saved_model_dir, f"gs://{gcs_bucket}/exports/../../etc")
    with pytest.raises(InvalidStorageURIError, match=r"credentials"):
        gcs.upload_directory(saved_model_dir, f"gs://user:secret@{gcs_bucket}/x")


def test_local_copy_is_published_by_rename(saved_model_dir, tmp_path):
    target = str(tmp_path / "copies" / "a")
    transfer.copy_directory(saved_model_dir, target)
    _same_tree(saved_model_dir, target)
    with pytest.raises(NonEmptyTargetError, match=r"is not empty"):
        transfer.copy_directory(saved_model_dir, target)
    assert sorted(os.listdir(tmp_path / "copies")) == ["a"]


def test_symlink_out_of_the_source_is_refused(gcs_env, gcs_bucket, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    os.symlink(secret, source / "link.txt")
    with pytest.raises(IntegrityError, match=r"symbolic link .* outside"):
        gcs.upload_directory(str(source), f"gs://{gcs_bucket}/x/1")


def test_manifest_cannot_write_outside_the_target(gcs_env, gcs_bucket, gcs_client, tmp_path):
    import json as json_lib

    evil = {"format": "estimator_lib.commit/1", "metadata": {},
            "files": {"../../escaped.txt": {"size": 1, "crc32c": "x", "md5": "y"}}}
    gcs_client.bucket(gcs_bucket).blob(f"evil/{COMMIT_MARKER}").upload_from_string(json_lib.dumps(evil))
    with pytest.raises(NotCommittedError, match=r"unreadable .*'\.\.'"):
        gcs.download_directory(f"gs://{gcs_bucket}/evil", str(tmp_path / "t"))
    assert not (tmp_path.parent / "escaped.txt").exists()
    with pytest.raises(InvalidStorageURIError, match=r"'\.\.'"):
        gcs.upload_files({"../x": __file__}, f"gs://{gcs_bucket}/up")


def test_bucket_to_bucket_copy_is_verified_and_committed(gcs_env, gcs_bucket, gcs_client, saved_model_dir, tmp_path):
    gcs_client.create_bucket(gcs_bucket + "-b")
    source, target = f"gs://{gcs_bucket}/exports/1", f"gs://{gcs_bucket}-b/serving/1"
    transfer.copy_directory(saved_model_dir, source)
    assert transfer.copy_directory(source, target) == target
    assert gcs.read_manifest(target).files == gcs.read_manifest(source).files
    with pytest.raises(NonEmptyTargetError, match=r"same location"):
        transfer.copy_directory(source, source)

"""Validation of storage references: schemes, buckets, traversal, credentials."""

from __future__ import annotations

import os

import pytest

from estimator_lib.storage import client as client_lib
from estimator_lib.storage.errors import InvalidStorageURIError
from estimator_lib.storage.uri import is_gcs_uri, parse_uri, resolve_under_root, safe_relative_path


def test_parses_gcs_and_local():
    location = parse_uri("gs://my-bucket/models//run1/")
    assert (location.bucket, location.path, location.uri) == ("my-bucket", "models/run1", "gs://my-bucket/models/run1")
    assert parse_uri(b"gs://my-bucket").uri == "gs://my-bucket"
    assert parse_uri("relative/dir").path == os.path.abspath("relative/dir")
    assert parse_uri("file:///tmp/x").path == "/tmp/x"
    assert is_gcs_uri("GS://b/x") and not is_gcs_uri("/gcs/b/x")


@pytest.mark.parametrize(
    "value, message",
    [
        ("gs://user:pw@bucket/x", r"credentials"),
        ("https://user:tok@storage.googleapis.com/b/x", r"credentials"),
        ("user:pw@host/path", r"credentials"),
        ("gs://bucket/x?X-Goog-Signature=abc", r"query"),
        ("s3://bucket/x", r"unsupported scheme 's3'"),
        ("http://example.com/x", r"unsupported scheme 'http'"),
        ("gs://Bad_Bucket/x", r"invalid bucket name 'Bad_Bucket'"),
        ("gs://ab/x", r"invalid bucket name"),
        ("gs://bucket/a/../../b", r"'\.\.'"),
        ("file://otherhost/x", r"only local"),
        ("", r"empty"),
        ("a\x00b", r"NUL"),
    ],
)
def test_rejects_bad_references(value, message):
    with pytest.raises(InvalidStorageURIError, match=message):
        parse_uri(value, argument="export_dir_base")


def test_credentials_never_echoed():
    with pytest.raises(InvalidStorageURIError) as info:
        parse_uri("gs://alice:s3cr3t@bucket/x")
    assert "s3cr3t" not in str(info.value)


def test_rejects_wrong_types():
    with pytest.raises(TypeError, match=r"received int: 3"):
        parse_uri(3, argument="model_dir")


def test_resolve_under_root(tmp_path):
    assert resolve_under_root("gs://b-1/root", "a/b").uri == "gs://b-1/root/a/b"
    assert resolve_under_root(str(tmp_path), "x/y").path == str(tmp_path / "x" / "y")
    for bad in ("../x", "a/../../x", "/etc/passwd"):
        with pytest.raises(InvalidStorageURIError, match=r"artifact root"):
            resolve_under_root(str(tmp_path), bad, argument="artifact")
    os.symlink("/etc", tmp_path / "escape")
    with pytest.raises(InvalidStorageURIError, match=r"outside the artifact root"):
        resolve_under_root(str(tmp_path), "escape/passwd")
    assert safe_relative_path("./a//b/") == "a/b"


def test_emulator_host_with_credentials_is_refused(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://user:pw@127.0.0.1:1")
    with pytest.raises(InvalidStorageURIError, match=r"without user info"):
        client_lib.make_client()


def test_retry_arguments_validated():
    with pytest.raises(ValueError, match=r"deadline must be a positive number of seconds; received deadline=0"):
        client_lib.make_retry(deadline=0)
    retry = client_lib.make_retry(deadline=5, initial_delay=0.1, maximum_delay=1)
    assert retry.timeout == 5


def test_transfer_options_validated(tmp_path):
    from estimator_lib.storage import gcs, transfer
    from estimator_lib.storage.mirror import CheckpointMirrorListener, restore_from_mirror

    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds per request; received .*=0"):
        transfer.copy_directory(str(tmp_path), "gs://some-bucket/x", timeout=0)
    with pytest.raises(TypeError, match=r"`retry` must be a google.api_core.retry.Retry .*received int: 3"):
        gcs.upload_directory(str(tmp_path), "gs://some-bucket/x", retry=3)
    with pytest.raises(TypeError, match=r"`client` must be a google.cloud.storage.Client or None; received str"):
        restore_from_mirror("gs://some-bucket/m", str(tmp_path), client="c")
    with pytest.raises(ValueError, match=r"timeout must be a positive number"):
        CheckpointMirrorListener(str(tmp_path), "gs://some-bucket/m", timeout=-1)
    with pytest.raises(ValueError, match=r"`marker_name` must be a plain object name"):
        gcs.read_manifest("gs://some-bucket/m", marker_name="../x")

"""Real faults between the client and the GCS server: 503s, 429s, dropped connections, cut bodies, 403s.

Every request goes through FaultProxy (tests/_gcs_server.py) to gcp-storage-emulator. Transient faults must be
retried until the copy completes and verifies; permanent ones must fail cleanly, leaving nothing committed.
"""

from __future__ import annotations

import os

import pytest

from estimator_lib.storage import gcs
from estimator_lib.storage.errors import StoragePermissionError, TransferError
from estimator_lib.storage.integrity import COMMIT_MARKER, digest_file, list_local_files

UPLOADS = r"^POST /upload/"
DOWNLOADS = r"^GET /download/"


def _objects(client, bucket, prefix):
    return sorted(b.name for b in client.list_blobs(bucket, prefix=prefix))


def _assert_same(a, b):
    files_a, files_b = list_local_files(a), list_local_files(b)
    assert sorted(files_a) == sorted(files_b)
    assert all(digest_file(files_a[n]) == digest_file(files_b[n]) for n in files_a)


@pytest.mark.parametrize("kind", ["503", "429", "drop", "drop_after_forward"])
def test_upload_survives_transient_faults(kind, gcs_fault_proxy, gcs_bucket, gcs_client, saved_model_dir,
                                          fast_retry, tmp_path):
    # Every other upload request fails once: 3 faults spread over the files and the marker.
    gcs_fault_proxy.inject(kind, times=3, match=UPLOADS)
    uri = f"gs://{gcs_bucket}/exports/1"
    gcs.upload_directory(saved_model_dir, uri, retry=fast_retry)
    assert gcs_fault_proxy.faults_injected == 3
    out = str(tmp_path / "out")
    gcs.download_directory(uri, out, retry=fast_retry)
    _assert_same(saved_model_dir, out)


@pytest.mark.parametrize("kind", ["503", "drop", "cut_body"])
def test_download_survives_transient_faults(kind, gcs_fault_proxy, gcs_bucket, checkpoint_dir, fast_retry,
                                            tmp_path):
    uri = f"gs://{gcs_bucket}/ckpt"
    gcs.upload_directory(checkpoint_dir, uri, retry=fast_retry)
    gcs_fault_proxy.inject(kind, times=4, match=DOWNLOADS)
    out = str(tmp_path / "out")
    gcs.download_directory(uri, out, retry=fast_retry)
    assert gcs_fault_proxy.faults_injected == 4
    _assert_same(checkpoint_dir, out)


def test_outage_during_upload_leaves_nothing_committed(gcs_fault_proxy, gcs_bucket, gcs_client, checkpoint_dir,
                                                       fast_retry, tmp_path):
    from google.cloud.storage.retry import DEFAULT_RETRY

    short = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(1.0)
    # The first 4 uploads pass, then the server is down for longer than the retry deadline.
    gcs_fault_proxy.inject("503", times=None, seconds=600, match=UPLOADS, after=4)
    uri = f"gs://{gcs_bucket}/ckpt"
    expected = rf"Cannot upload to {uri}/.*retry deadline \(last error: \w+, HTTP 503\)\. Nothing was committed"
    with pytest.raises(TransferError, match=expected):
        gcs.upload_directory(checkpoint_dir, uri, retry=short)
    names = _objects(gcs_client, gcs_bucket, "ckpt/")
    assert names, "some files were uploaded before the outage"
    assert f"ckpt/{COMMIT_MARKER}" not in names
    assert gcs.list_committed_directories(f"gs://{gcs_bucket}") == []
    assert not os.path.exists(tmp_path / "never")
    # Once the server is back the same call completes and commits (leftovers replaced).
    gcs_fault_proxy.clear()
    gcs.upload_directory(checkpoint_dir, uri, retry=fast_retry)
    assert gcs.list_committed_directories(f"gs://{gcs_bucket}") == ["ckpt"]


def test_outage_while_committing_leaves_nothing_committed(gcs_fault_proxy, gcs_bucket, gcs_client,
                                                          saved_model_dir):
    from google.cloud.storage.retry import DEFAULT_RETRY

    short = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(1.0)
    # Every file upload passes; the marker upload (the last request) meets a dead connection until the deadline.
    gcs_fault_proxy.inject("drop", times=None, seconds=600, match=UPLOADS,
                           after=len(list_local_files(saved_model_dir)))
    with pytest.raises(TransferError, match=r"commit marker.*Nothing was committed"):
        gcs.upload_directory(saved_model_dir, f"gs://{gcs_bucket}/exports/2", retry=short)
    assert f"exports/2/{COMMIT_MARKER}" not in _objects(gcs_client, gcs_bucket, "exports/")
    assert gcs.list_committed_directories(f"gs://{gcs_bucket}/exports") == []


def test_download_outage_publishes_nothing(gcs_fault_proxy, gcs_bucket, checkpoint_dir, fast_retry, tmp_path):
    from google.cloud.storage.retry import DEFAULT_RETRY

    uri = f"gs://{gcs_bucket}/ckpt"
    gcs.upload_directory(checkpoint_dir, uri, retry=fast_retry)
    gcs_fault_proxy.inject("cut_body", times=None, seconds=600, match=DOWNLOADS + r".*model\.ckpt-2")
    short = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(1.0)
    with pytest.raises(TransferError, match=r"Cannot download .*model\.ckpt-2"):
        gcs.download_directory(uri, str(tmp_path / "out"), retry=short)
    assert os.listdir(tmp_path) == ["model"] or "out" not in os.listdir(tmp_path)
    assert not [n for n in os.listdir(tmp_path) if "out" in n], "neither the target nor its staging dir remain"


def test_permission_denied_is_named(gcs_fault_proxy, gcs_bucket, saved_model_dir, tmp_path, fast_retry):
    gcs_fault_proxy.inject("403", times=None, seconds=600)
    uri = f"gs://{gcs_bucket}/exports/3"
    with pytest.raises(StoragePermissionError, match=rf"Cannot list {uri}: permission denied \(HTTP 403\)"):
        gcs.upload_directory(saved_model_dir, uri, retry=fast_retry)
    with pytest.raises(StoragePermissionError, match=rf"{uri}/{COMMIT_MARKER}: permission denied"):
        gcs.download_directory(uri, str(tmp_path / "o"), retry=fast_retry)
    # 403 is not retried (a retry loop with this policy would make dozens of requests).
    assert gcs_fault_proxy.faults_injected <= 4


def test_large_file_resumable_upload_and_download_survive_faults(gcs_fault_proxy, gcs_bucket, fast_retry, tmp_path):
    # Files above 8 MiB go through the resumable upload protocol (POST to start, PUT with the bytes).
    source = tmp_path / "big"
    source.mkdir()
    (source / "model.ckpt-1.data-00000-of-00001").write_bytes(os.urandom(9 * 1024 * 1024))
    gcs_fault_proxy.inject("503", times=2, match=r"^PUT /upload/.*uploadType=resumable")
    gcs_fault_proxy.inject("drop", times=1, match=r"^POST /upload/.*uploadType=resumable")
    uri = f"gs://{gcs_bucket}/big"
    gcs.upload_directory(str(source), uri, retry=fast_retry)
    gcs_fault_proxy.inject("cut_body", times=2, match=DOWNLOADS)
    out = str(tmp_path / "out")
    gcs.download_directory(uri, out, retry=fast_retry)
    assert gcs_fault_proxy.faults_injected == 5
    _assert_same(str(source), out)

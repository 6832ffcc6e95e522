"""One writer on a gs:// (and /gcs) model_dir: the bucket lease, through the real local GCS server.

What the emulator can show: a second trainer is refused naming the holder, a killed holder's lease is taken
over, a lease nobody renews is taken over after a ttl, a holder notices a take-over, release removes only its
own lease, and every write carries the generation precondition (seen on the wire by the fault proxy). What
it cannot show: gcp-storage-emulator ignores `ifGenerationMatch` (checked below), so the race between two
trainers creating the lease at the same instant is closed only by real Cloud Storage.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from google.api_core import exceptions

from estimator_lib.storage import lease as lease_lib
from estimator_lib.storage.lease import LEASE_FILE, ModelDirBusyError, ModelDirLease

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLDER = """
import sys, time
from estimator_lib.storage.lease import ModelDirLease
with ModelDirLease(sys.argv[1], ttl_secs=3):
    print("HELD", flush=True)
    time.sleep(600)
"""


def _holder(model_dir: str) -> subprocess.Popen:
    """Another trainer's process holding the lease of `model_dir` (what the train task does around train())."""
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-c", HOLDER, model_dir], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "HELD"
    return process


def _lease_body(gcs_client, bucket: str, prefix: str = "model") -> dict:
    return json.loads(gcs_client.bucket(bucket).blob(f"{prefix}/{LEASE_FILE}").download_as_bytes())


def test_the_emulator_ignores_generation_preconditions(gcs_client, gcs_bucket):
    """The reason the race itself is not tested here: real Cloud Storage answers 412 to both writes."""
    blob = gcs_client.bucket(gcs_bucket).blob("probe")
    blob.upload_from_string(b"first", if_generation_match=0)
    try:
        gcs_client.bucket(gcs_bucket).blob("probe").upload_from_string(b"second", if_generation_match=0)
    except exceptions.PreconditionFailed:
        pytest.fail("this emulator enforces ifGenerationMatch now: add a test of two trainers racing to create")


def test_a_second_trainer_on_a_gs_model_dir_is_refused_naming_the_holder_then_takes_over_when_it_dies(
        gcs_env, gcs_client, gcs_bucket):
    model_dir = f"gs://{gcs_bucket}/model"
    holder = _holder(model_dir)
    try:
        # Longer than the ttl: only the holder's renewals (a new generation every second) keep it live.
        with pytest.raises(ModelDirBusyError, match=rf"model_dir {model_dir} is being written by another trainer "
                                                     rf"\(host {socket.gethostname()}, pid {holder.pid}; .*Wait for "
                                                     r"it to finish, stop it, or train into another model_dir"):
            ModelDirLease(model_dir, ttl_secs=3, wait_secs=4).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # The holder was killed without releasing: its lease is still there, and its process is gone.
    assert _lease_body(gcs_client, gcs_bucket)["pid"] == holder.pid
    with ModelDirLease(model_dir, ttl_secs=3, wait_secs=0) as taken:
        assert _lease_body(gcs_client, gcs_bucket)["owner"] == taken._bucket_lease.owner
    with pytest.raises(exceptions.NotFound):  # released
        _lease_body(gcs_client, gcs_bucket)


def test_a_lease_nobody_renews_is_taken_over_after_a_ttl(gcs_env, gcs_client, gcs_bucket):
    # Left by a trainer on another machine that vanished; its clock said the lease is good for an hour.
    body = {"owner": "elsewhere", "host": "other-host", "pid": 1, "expires_at": time.time() + 3600}
    gcs_client.bucket(gcs_bucket).blob(f"model/{LEASE_FILE}").upload_from_string(json.dumps(body))
    with pytest.raises(ModelDirBusyError, match=r"\(host other-host, pid 1; its lease .*generation \d+"):
        ModelDirLease(f"gs://{gcs_bucket}/model", ttl_secs=2, wait_secs=1).acquire()
    with ModelDirLease(f"gs://{gcs_bucket}/model", ttl_secs=2, wait_secs=5) as taken:
        assert _lease_body(gcs_client, gcs_bucket)["owner"] == taken._bucket_lease.owner


def test_a_holder_notices_a_take_over_and_does_not_delete_the_successors_lease(gcs_env, gcs_client, gcs_bucket):
    lease = ModelDirLease(f"gs://{gcs_bucket}/model", ttl_secs=1.5).acquire()
    successor = {"owner": "successor", "host": "other-host", "pid": 2, "expires_at": time.time() + 60}
    gcs_client.bucket(gcs_bucket).blob(f"model/{LEASE_FILE}").upload_from_string(json.dumps(successor))
    deadline = time.monotonic() + 30
    while not lease.lost and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lease.lost
    lease.release()
    assert _lease_body(gcs_client, gcs_bucket)["owner"] == "successor"


def test_every_lease_write_carries_its_generation_precondition(gcs_fault_proxy, gcs_client, gcs_bucket):
    with ModelDirLease(f"gs://{gcs_bucket}/model", ttl_secs=1.5) as held:
        first = held._bucket_lease.generation
        time.sleep(1.2)  # at least one renewal (every ttl/3)
        renewed = held._bucket_lease.generation
    assert renewed != first
    lines = [line for line in gcs_fault_proxy.requests if gcs_bucket in line]
    assert any(line.startswith("POST") and "ifGenerationMatch=0" in line for line in lines), lines
    assert any(line.startswith("POST") and f"ifGenerationMatch={first}" in line for line in lines), lines
    assert any(line.startswith("DELETE") and f"ifGenerationMatch={renewed}" in line for line in lines), lines


@pytest.fixture
def fuse_root(tmp_path, monkeypatch):
    """A real mount point standing in for Vertex's /gcs (a tmpfs: the lease never writes through it)."""
    root = tmp_path / "gcs"
    root.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], capture_output=True,
                            text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    monkeypatch.setattr(lease_lib, "GCS_FUSE_ROOT", str(root))
    yield str(root)
    subprocess.run(["umount", "-l", str(root)], check=True, timeout=30)


def test_a_model_dir_on_the_gcs_fuse_mount_takes_the_bucket_lease(fuse_root, gcs_env, gcs_client, gcs_bucket,
                                                                  tmp_path):
    on_mount = os.path.join(fuse_root, gcs_bucket, "model")
    assert lease_lib.bucket_uri_for(on_mount) == f"gs://{gcs_bucket}/model"
    assert lease_lib.bucket_uri_for(str(tmp_path / "plain")) is None  # not under the mount: the file lease
    with ModelDirLease(on_mount, ttl_secs=3) as held:
        assert _lease_body(gcs_client, gcs_bucket)["owner"] == held._bucket_lease.owner
        with pytest.raises(ModelDirBusyError, match=rf"gs://{gcs_bucket}/model is being written by another"):
            ModelDirLease(f"gs://{gcs_bucket}/model", ttl_secs=3, wait_secs=0).acquire()
    assert not os.path.exists(os.path.join(on_mount, LEASE_FILE))  # nothing went through the file system


def test_a_bucket_mounted_on_its_own_under_the_root_maps_too(tmp_path):
    root = tmp_path / "gcs"
    (root / "bkt").mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root / "bkt")],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        assert lease_lib.bucket_uri_for(str(root / "bkt" / "run" / "model"), str(root)) == "gs://bkt/run/model"
        assert lease_lib.bucket_uri_for(str(root / "other" / "model"), str(root)) is None  # not mounted
    finally:
        subprocess.run(["umount", "-l", str(root / "bkt")], check=True, timeout=30)

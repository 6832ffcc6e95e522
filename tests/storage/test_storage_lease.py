"""One writer per model_dir: the lease refuses a second live trainer and lets a dead one's lease go."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from estimator_lib.storage.lease import LEASE_FILE, ModelDirBusyError, ModelDirLease


def test_a_second_writer_is_refused_while_the_first_renews(tmp_path):
    model_dir = str(tmp_path)
    with ModelDirLease(model_dir, ttl_secs=3) as first:
        time.sleep(4)  # longer than the ttl: only renewal (every second) keeps the lease
        with pytest.raises(ModelDirBusyError, match=r"is being written by another trainer \(host .*pid "
                                                     rf"{os.getpid()}.*Wait for it to finish, stop it, or train into"):
            ModelDirLease(model_dir, ttl_secs=3, wait_secs=0.5).acquire()
        assert not first.lost
    assert not os.path.exists(os.path.join(model_dir, LEASE_FILE))
    with ModelDirLease(model_dir, ttl_secs=3):  # free again after release
        pass


def _write_lease(model_dir, **fields):
    body = {"owner": "someone", "host": "other-host", "pid": 1, "expires_at": time.time() + 3600, **fields}
    with open(os.path.join(model_dir, LEASE_FILE), "w") as handle:
        json.dump(body, handle)


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _write_lease(str(tmp_path), host=socket.gethostname(), pid=int(dead.stdout))
    with (
        ModelDirLease(str(tmp_path), ttl_secs=30, wait_secs=0) as lease,
        open(os.path.join(str(tmp_path), LEASE_FILE)) as handle,
    ):
        assert json.load(handle)["owner"] == lease.owner


def test_an_expired_lease_from_another_host_is_taken_over(tmp_path):
    _write_lease(str(tmp_path), expires_at=time.time() - 1)
    with ModelDirLease(str(tmp_path), ttl_secs=30, wait_secs=0):
        pass


def test_a_live_lease_from_another_host_is_waited_for_then_refused(tmp_path):
    _write_lease(str(tmp_path))
    with pytest.raises(ModelDirBusyError, match=r"host other-host, pid 1"):
        ModelDirLease(str(tmp_path), ttl_secs=30, wait_secs=0.3).acquire()


def test_a_half_written_lease_counts_as_stale_after_a_ttl(tmp_path):
    path = os.path.join(str(tmp_path), LEASE_FILE)
    open(path, "w").close()
    os.utime(path, (time.time() - 100, time.time() - 100))
    with ModelDirLease(str(tmp_path), ttl_secs=30, wait_secs=0):
        pass


def test_bad_ttl_is_refused():
    with pytest.raises(ValueError, match=r"ttl_secs must be a positive number of seconds; received ttl_secs=0"):
        ModelDirLease("/tmp/x", ttl_secs=0)

"""One writer per gs:// model_dir: a lease object guarded by Cloud Storage generation preconditions.

`<model_dir>/.writer_lease.json` holds the holder's owner id, host and pid. Every write names the generation
it expects (Cloud Storage "request preconditions", cloud.google.com/storage/docs/request-preconditions):
- acquire creates the object with `if_generation_match=0`, which succeeds only if no object exists, so of
  two trainers starting at once exactly one gets it (the other gets HTTP 412 and reads the holder);
- renew (every ttl/3) rewrites it with `if_generation_match=<our generation>`: a 412 means another trainer
  took it over, and this one reports the lease lost;
- take-over of a stale lease rewrites it with `if_generation_match=<the stale generation>`, so of two
  trainers taking over the same stale lease only one succeeds;
- release deletes it with `if_generation_match=<our generation>`, never removing a successor's lease.

Stale means: the holder is on this host and its process is gone; or the same generation has been seen
unchanged for a whole ttl (no renewal; judged on this machine's monotonic clock, so clock skew between
machines does not matter); or its `expires_at` lies more than a ttl in the past (a lease left long ago).

The race-free guarantee rests on Cloud Storage enforcing the preconditions. The local gcp-storage-emulator
(2026.7.19) ignores `ifGenerationMatch` entirely (checked: a second create with `if_generation_match=0`
and a write naming a wrong generation both succeed). So each write is preceded by a read that finds the
holder: without a race that alone refuses a second trainer, also on the emulator, and the tests exercise
exactly that; a race between the read and the write is closed only by real Cloud Storage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid

from estimator_lib.storage import client as client_lib
from estimator_lib.storage.uri import gcs_join, parse_uri

LEASE_FILE = ".writer_lease.json"
_log = logging.getLogger("estimator_lib.storage")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


class GcsModelDirLease:
    """`with GcsModelDirLease("gs://b/model"): ...` - see the module docstring. Raises `busy_error` (the
    caller's ModelDirBusyError class) when a live trainer holds the lease after `wait_secs`."""

    def __init__(self, model_dir: str, *, ttl_secs: float, wait_secs: float, busy_error: type[Exception],
                 client=None, retry=None):
        location = parse_uri(model_dir, argument="model_dir")
        if not location.is_gcs:
            raise ValueError(f"GcsModelDirLease needs a gs:// model_dir; received model_dir={model_dir!r}.")
        self.model_dir = location.uri
        self.ttl_secs = float(ttl_secs)
        self.wait_secs = float(wait_secs)
        self._busy_error = busy_error
        self._client = client
        self._retry = retry
        self._object_name = gcs_join(location.path, LEASE_FILE)
        self._bucket_name = location.bucket
        self.owner = uuid.uuid4().hex
        self.generation: int | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the lease object -------------------------------------------------------------------------
    def _blob(self):
        if self._client is None:
            self._client = client_lib.make_client()
        if self._retry is None:
            self._retry = client_lib.default_retry()
        return self._client.bucket(self._bucket_name).blob(self._object_name)

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires_at": time.time() + self.ttl_secs}).encode()

    def _write(self, expected_generation: int) -> bool:
        """Writes our body if the object's generation is `expected_generation` (0: absent); False on 412."""
        from google.api_core import exceptions

        blob = self._blob()
        with client_lib.translate_errors(f"gs://{self._bucket_name}/{self._object_name}", "write the writer lease"):
            try:
                blob.upload_from_string(self._body(), content_type="application/json",
                                        if_generation_match=expected_generation, retry=self._retry)
            except exceptions.PreconditionFailed:  # another trainer wrote it first
                return False
        self.generation = int(blob.generation)
        return True

    def _read(self) -> tuple[dict | None, int] | None:
        """(holder body or None when unreadable, generation) of the lease object, or None when there is none."""
        from google.api_core import exceptions

        blob = self._blob()
        with client_lib.translate_errors(f"gs://{self._bucket_name}/{self._object_name}", "read the writer lease",
                                         missing_means_bucket=False):
            try:
                blob.reload(retry=self._retry)
                generation = int(blob.generation)
                data = blob.download_as_bytes(if_generation_match=generation, retry=self._retry)
            except exceptions.NotFound:
                return None
            except exceptions.PreconditionFailed:  # rewritten between the two requests: read again
                return self._read()
        try:
            body = json.loads(data or b"null")
        except ValueError:
            body = None
        return (body if isinstance(body, dict) else None), generation

    # ---- acquire / renew / release ------------------------------------------------------------------
    def _stale(self, holder: dict | None, generation: int, first_seen: dict[int, float]) -> bool:
        if holder is not None:
            if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1))):
                return True
            if time.time() > float(holder.get("expires_at", 0)) + self.ttl_secs:
                return True
        seen_at = first_seen.setdefault(generation, time.monotonic())
        return time.monotonic() - seen_at > self.ttl_secs

    def acquire(self) -> GcsModelDirLease:
        deadline = time.monotonic() + self.wait_secs
        first_seen: dict[int, float] = {}
        while True:
            found = self._read()
            if found is None:
                if self._write(0):
                    break
                continue  # created by another trainer since our read
            holder, generation = found
            if holder is not None and holder.get("owner") == self.owner:  # our create, retried after a lost reply
                self.generation = generation
                break
            if self._stale(holder, generation, first_seen):
                if self._write(generation):
                    _log.warning("Took over the stale writer lease of %s (held by %s).", self.model_dir,
                                 {k: holder.get(k) for k in ("host", "pid")} if holder else "an unreadable lease")
                    break
                continue
            if time.monotonic() >= deadline:
                who = f"host {holder.get('host')}, pid {holder.get('pid')}" if holder else "an unreadable lease"
                raise self._busy_error(
                    f"model_dir {self.model_dir} is being written by another trainer ({who}; its lease "
                    f"{LEASE_FILE}, generation {generation}, is being renewed). Two trainers in one model_dir "
                    "overwrite each other's checkpoints. Wait for it to finish, stop it, or train into another "
                    f"model_dir; a crashed trainer's lease is taken over after {self.ttl_secs:.0f} s without renewal."
                )
            time.sleep(min(1.0, self.ttl_secs / 4))
        self._thread = threading.Thread(target=self._renew_loop, name="gcs-model-dir-lease", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_secs / 3):
            try:
                found = self._read()
                ours = found is not None and found[1] == self.generation
                if not ours or not self._write(self.generation):
                    self.lost = True
                    _log.error("Lost the writer lease of %s to another trainer; its checkpoints may overwrite ours.",
                               self.model_dir)
                    return
            except Exception as error:  # noqa: BLE001 - a failed renewal is retried; expiry takes ttl
                _log.warning("Could not renew the writer lease of %s (%s); retrying.", self.model_dir, error)

    def release(self) -> None:
        from google.api_core import exceptions

        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout=30)
        self._thread = None
        if self.lost or self.generation is None:
            return
        with contextlib.suppress(exceptions.NotFound, exceptions.PreconditionFailed):  # gone, or a successor's
            self._blob().delete(if_generation_match=self.generation, retry=self._retry)

    def __enter__(self) -> GcsModelDirLease:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

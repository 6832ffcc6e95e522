"""One writer per model_dir: a lease file that a live trainer renews and a crashed one lets expire.

Two trainers in one model_dir overwrite each other's checkpoints and state file, and one run's steps are
silently lost. `ModelDirLease` creates `<model_dir>/.writer_lease.json` exclusively (O_EXCL), renews it from
a background thread every ttl/3 seconds, and removes it on exit. A second trainer finds a lease that is
still being renewed and is refused with the holder's host, pid and expiry. A lease left by a killed trainer
is taken over once it expired, or at once when its process is known dead (same host, pid gone); a
takeover renames the stale file away first, so of two trainers racing for it only one succeeds.

A gs:// model_dir gets the bucket lease instead (`gcs_lease.GcsModelDirLease`: an object written with
Cloud Storage generation preconditions). So does a path under the Cloud Storage FUSE mount `/gcs/<bucket>/...`
(Vertex AI's): FUSE is not POSIX (Cloud Storage FUSE docs, "Limitations and differences from POSIX file
systems"), so neither an O_EXCL create nor a rename there is an atomic test-and-set between machines, while
the bucket's own preconditions are. Other URL schemes get no lease (a warning says so).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

from estimator_lib import validation

LEASE_FILE = ".writer_lease.json"
GCS_FUSE_ROOT = "/gcs"  # where Vertex AI mounts Cloud Storage (gs://b/x is /gcs/b/x)
_log = logging.getLogger("estimator_lib.storage")


class ModelDirBusyError(FileExistsError):
    """Another live trainer holds the model_dir's lease."""


def bucket_uri_for(model_dir: str, fuse_root: str | None = None) -> str | None:
    """The gs:// URI whose bucket lease guards `model_dir` (a gs:// URI, or a path under a mounted Cloud
    Storage FUSE root), or None when the file lease applies."""
    if model_dir.startswith("gs://"):
        return model_dir
    root = (GCS_FUSE_ROOT if fuse_root is None else fuse_root).rstrip("/")
    absolute = os.path.abspath(model_dir)
    if "://" in model_dir or not absolute.startswith(root + "/"):
        return None
    bucket_path = absolute[len(root) + 1:]
    # All buckets mounted at the root (Vertex AI), or one bucket mounted at root/<bucket>.
    if os.path.ismount(root) or os.path.ismount(os.path.join(root, bucket_path.split("/", 1)[0])):
        return "gs://" + bucket_path
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ModelDirLease:
    """`with ModelDirLease(model_dir): estimator.train(...)` - see the module docstring."""

    def __init__(self, model_dir: str, *, ttl_secs: float = 60.0, wait_secs: float | None = None):
        validation.check_number("ttl_secs", ttl_secs, exclusive=True, unit="seconds")
        self.model_dir = model_dir
        self.ttl_secs = float(ttl_secs)
        # A retry after a hard kill on another machine waits for the dead trainer's lease to expire.
        self.wait_secs = self.ttl_secs * 1.5 if wait_secs is None else float(wait_secs)
        self.path = os.path.join(model_dir, LEASE_FILE)
        self.owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = False
        self._bucket_lease = None

    @property
    def lost(self) -> bool:
        """True once another trainer took the lease over while we held it."""
        return self._lost or bool(self._bucket_lease is not None and self._bucket_lease.lost)

    # ---- the lease file ---------------------------------------------------------------------------
    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires_at": time.time() + self.ttl_secs}).encode()

    def _read(self) -> dict | None:
        try:
            with open(self.path, "rb") as handle:
                body = json.loads(handle.read() or b"null")
            return body if isinstance(body, dict) and "expires_at" in body else None
        except FileNotFoundError:
            raise
        except (ValueError, OSError):
            return None  # half-written by a killed trainer

    def _stale(self, holder: dict | None) -> bool:
        if holder is None:  # unreadable: stale once nobody touched it for a ttl
            try:
                return time.time() - os.path.getmtime(self.path) > self.ttl_secs
            except FileNotFoundError:
                return True
        if time.time() > float(holder.get("expires_at", 0)):
            return True
        return holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1)))

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._body())
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def _take_over_stale(self, holder: dict | None) -> None:
        aside = f"{self.path}.stale-{uuid.uuid4().hex[:12]}"
        try:
            os.rename(self.path, aside)  # only one of several racing takers gets the stale file
        except FileNotFoundError:
            return
        os.remove(aside)
        _log.warning("Took over the expired writer lease of %s (held by %s).", self.model_dir,
                     {k: holder.get(k) for k in ("host", "pid")} if holder else "an unreadable lease")

    def acquire(self) -> ModelDirLease:
        bucket_uri = bucket_uri_for(self.model_dir)
        if bucket_uri is not None:
            from estimator_lib.storage.gcs_lease import GcsModelDirLease

            self._bucket_lease = GcsModelDirLease(bucket_uri, ttl_secs=self.ttl_secs, wait_secs=self.wait_secs,
                                                  busy_error=ModelDirBusyError).acquire()
            return self
        if "://" in self.model_dir:
            _log.warning("No writer lease on %s: leases cover local paths, /gcs and gs:// only "
                         "(see estimator_lib.storage.lease).", self.model_dir)
            return self
        os.makedirs(self.model_dir, exist_ok=True)
        deadline = time.monotonic() + self.wait_secs
        while True:
            if self._try_create():
                break
            try:
                holder = self._read()
            except FileNotFoundError:
                continue
            if self._stale(holder):
                self._take_over_stale(holder)
                continue
            if time.monotonic() >= deadline:
                left = float(holder["expires_at"]) - time.time()
                raise ModelDirBusyError(
                    f"model_dir {self.model_dir} is being written by another trainer (host {holder.get('host')}, "
                    f"pid {holder.get('pid')}; its lease {LEASE_FILE} was renewed and expires in {left:.0f} s). Two "
                    "trainers in one model_dir overwrite each other's checkpoints. Wait for it to finish, stop it, or "
                    f"train into another model_dir; a crashed trainer's lease expires after {self.ttl_secs:.0f} s."
                )
            time.sleep(min(1.0, self.ttl_secs / 4))
        self._thread = threading.Thread(target=self._renew_loop, name="model-dir-lease", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_secs / 3):
            try:
                holder = self._read()
            except FileNotFoundError:
                holder = None
            if not holder or holder.get("owner") != self.owner:
                self._lost = True
                _log.error("Lost the writer lease of %s to another trainer; its checkpoints may overwrite ours.",
                           self.model_dir)
                return
            temporary = f"{self.path}.tmp-{self.owner[:12]}"
            with open(temporary, "wb") as handle:
                handle.write(self._body())
            os.replace(temporary, self.path)

    def release(self) -> None:
        if self._bucket_lease is not None:
            self._bucket_lease.release()
            self._bucket_lease = None
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
            try:
                holder = self._read()
            except FileNotFoundError:
                return
            if holder and holder.get("owner") == self.owner:
                os.remove(self.path)

    def __enter__(self) -> ModelDirLease:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

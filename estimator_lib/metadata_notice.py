"""Preemption notices from the Compute Engine metadata server, turned into the training's preemption flag.

A spot/preemptible VM (and so a Vertex AI or TPU VM on spot capacity) learns of its preemption from the
metadata server before the SIGTERM: `instance/preempted` turns `TRUE`, and `instance/maintenance-event`
turns `TERMINATE_ON_HOST_MAINTENANCE` before a host maintenance that stops the VM
(docs: cloud.google.com/compute/docs/instances/create-use-spot "Detect preemption", and
cloud.google.com/compute/docs/metadata/getting-live-migration-notice). TensorFlow's own
`PreemptionCheckpointHandler` polls `instance/maintenance-event` once a second on GCE
(tensorflow/python/distribute/failure_handling/failure_handling_util.py, `termination_watcher_function_gce`).

`MetadataNoticeWatcher` watches both keys, one daemon thread per key: a plain GET first (a notice given
before training started counts), then the server's hanging GET (`?wait_for_change=true` with the `last_etag`
of the value read, so no change between two requests is missed, and `timeout_sec` so a request ends and the
thread can stop), and calls `PreemptionNotice.request()` when a key reaches its value.
The training loop then stops after the step in flight, saves and exits 143, exactly as on SIGTERM.

Where the server is (`metadata_url()`):
- `ESTIMATOR_LIB_METADATA_URL=http://host:port` points the watcher at another server (a test server, a
  proxy); `ESTIMATOR_LIB_METADATA_URL=off` disables it.
- Otherwise it runs only on Google Compute Engine, recognised without any network call by the DMI product
  name Linux exposes (`/sys/class/dmi/id/product_name` is "Google Compute Engine" on GCE VMs, TPU VMs and the
  VMs under Vertex AI and GKE; google-auth's `is_on_gce` reads the same file). TensorFlow's `on_gcp()` asks
  the server for `instance/hostname` with a 5 s timeout instead; here nothing waits on the network before
  training, and the watcher threads never delay or stop it: an unreachable server only makes them back off.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request

from estimator_lib.preemption import PreemptionNotice

URL_ENV = "ESTIMATOR_LIB_METADATA_URL"
GCE_METADATA_URL = "http://metadata.google.internal"
DMI_PRODUCT_NAME = "/sys/class/dmi/id/product_name"
# The keys watched and the value that means "this VM is about to stop".
STOP_VALUES = {
    "instance/preempted": "TRUE",
    "instance/maintenance-event": "TERMINATE_ON_HOST_MAINTENANCE",
}
WAIT_SECS = 60  # the server answers a hanging GET after at most this long (its timeout_sec)
_MAX_BACKOFF_SECS = 30.0
_log = logging.getLogger("estimator_lib.preemption")
# Never through an HTTP proxy: the metadata server is link-local.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def on_gce(product_name_file: str = DMI_PRODUCT_NAME) -> bool:
    """Whether this machine is a Compute Engine VM, from its DMI product name (no network call)."""
    try:
        with open(product_name_file, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip().startswith("Google")
    except OSError:
        return False


def metadata_url(environ: dict | None = None, *, product_name_file: str = DMI_PRODUCT_NAME) -> str | None:
    """The metadata server to watch, or None (not on GCE, or switched off); see the module docstring."""
    environ = os.environ if environ is None else environ
    configured = environ.get(URL_ENV, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        parsed = urllib.parse.urlsplit(configured)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(
                f"{URL_ENV} must be the base URL of a metadata server such as http://127.0.0.1:8080 (the watcher "
                f"appends /computeMetadata/v1/...), or 'off'; received {URL_ENV}={configured!r}."
            )
        return configured.rstrip("/")
    return GCE_METADATA_URL if on_gce(product_name_file) else None


class MetadataNoticeWatcher:
    """Watches the metadata server's preemption keys and sets `notice` when one says the VM stops.

    `start()` returns at once; `stop()` asks the threads to end after their current request (they are
    daemons, so they never keep the process alive). `seen` records the values read, newest last, per key.
    """

    def __init__(self, notice: PreemptionNotice, base_url: str, *, wait_secs: int = WAIT_SECS):
        if not isinstance(wait_secs, int) or isinstance(wait_secs, bool) or wait_secs < 1:
            raise ValueError(f"wait_secs must be a positive whole number of seconds; received wait_secs={wait_secs!r}.")
        self._notice = notice
        self._base_url = base_url.rstrip("/")
        self._wait_secs = wait_secs
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.seen: dict[str, list[str]] = {key: [] for key in STOP_VALUES}

    def start(self) -> MetadataNoticeWatcher:
        for key in STOP_VALUES:
            thread = threading.Thread(target=self._watch, args=(key,), name=f"metadata-notice:{key}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _url(self, key: str, etag: str | None) -> str:
        """The first read returns the current value and its ETag at once (a notice already given counts); later
        ones hang until the value differs from that ETag."""
        url = f"{self._base_url}/computeMetadata/v1/{key}"
        if etag is None:
            return url
        query = {"wait_for_change": "true", "last_etag": etag, "timeout_sec": str(self._wait_secs)}
        return f"{url}?{urllib.parse.urlencode(query)}"

    def _read(self, key: str, etag: str | None) -> tuple[str, str | None]:
        request = urllib.request.Request(self._url(key, etag), headers={"Metadata-Flavor": "Google"})
        # The server holds the request up to wait_secs; a little more before giving up on the socket.
        with _opener.open(request, timeout=self._wait_secs + 10) as response:
            return response.read().decode("utf-8", errors="replace").strip(), response.headers.get("ETag")

    def _watch(self, key: str) -> None:
        etag: str | None = None
        backoff = 1.0
        while not self._stopped.is_set():
            try:
                value, etag = self._read(key, etag)
            except (OSError, urllib.error.URLError, ValueError) as error:  # no server, refused, reset, bad reply
                _log.debug("Metadata server %s: %s unreadable (%s); retrying in %.0f s.", self._base_url, key, error,
                           backoff)
                if self._stopped.wait(backoff):
                    return
                backoff = min(backoff * 2, _MAX_BACKOFF_SECS)
                continue
            backoff = 1.0
            self.seen[key].append(value)
            if self._stopped.is_set():
                return
            if value == STOP_VALUES[key]:
                self._notice.request(f"metadata server: {key} = {value}")
                return
            if etag is None and self._stopped.wait(1.0):  # a server without ETags: poll once a second, as TF does
                return


def start_watching(notice: PreemptionNotice, environ: dict | None = None) -> MetadataNoticeWatcher | None:
    """Starts a watcher for `notice` when there is a metadata server to watch (see `metadata_url`), else None."""
    base_url = metadata_url(environ)
    if base_url is None:
        return None
    _log.info("Watching %s for preemption notices (%s).", base_url, ", ".join(STOP_VALUES))
    return MetadataNoticeWatcher(notice, base_url).start()

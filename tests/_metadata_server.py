"""A real HTTP server on 127.0.0.1 that answers like the Compute Engine metadata server for the keys the
preemption watcher reads, with the hanging-GET semantics of `?wait_for_change=true`.

Per the metadata server docs: requests without `Metadata-Flavor: Google` get 403; a plain GET returns the
value with an `ETag`; `wait_for_change=true` holds the request until the value changes (or `timeout_sec`
passes, then it returns the current value); with `last_etag=E` it returns at once when the current ETag
differs from E. `set()` changes a value mid-test and wakes the waiting requests.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import urllib.parse

PREFIX = "/computeMetadata/v1/"


class MetadataServer:
    def __init__(self, values: dict[str, str], *, answer: bool = True):
        self._values = dict(values)
        self._changed = threading.Condition()
        self._answer = answer  # False: accept requests and never answer (a hung server)
        self._closing = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []  # (key, query) of every request, in order
        self.served: list[tuple[str, str]] = []  # (key, value) of every answer, in order
        self._events: list[tuple] = []  # ("asked", key) and ("served", key, value), in order
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                server._handle(self)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _etag(value: str) -> str:
        return hashlib.sha1(value.encode()).hexdigest()[:16]

    def set(self, key: str, value: str) -> None:
        with self._changed:
            self._values[key] = value
            self._changed.notify_all()

    def wait_until_asked_again(self, key: str, value: str, timeout: float = 60.0) -> bool:
        """Waits until `key` was asked for again after `value` was served for it: the client has read that
        value and decided to keep watching."""

        def asked_after_serving() -> bool:
            served_at = [i for i, event in enumerate(self._events) if event == ("served", key, value)]
            return bool(served_at) and ("asked", key) in self._events[served_at[0] + 1:]

        with self._changed:
            return self._changed.wait_for(asked_after_serving, timeout)

    def _handle(self, handler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        key = parsed.path[len(PREFIX):] if parsed.path.startswith(PREFIX) else None
        with self._changed:
            self.requests.append((key, query))
            self._events.append(("asked", key))
            self._changed.notify_all()
        if handler.headers.get("Metadata-Flavor") != "Google":
            return self._reply(handler, 403, "Missing Metadata-Flavor:Google header.")
        if key not in self._values:
            return self._reply(handler, 404, "not found")
        if not self._answer:
            self._closing.wait()
            return None
        with self._changed:
            value = self._values[key]
            if query.get("wait_for_change") == "true":
                last = query.get("last_etag")
                if last is None or last == self._etag(value):
                    timeout = float(query.get("timeout_sec", "3600"))
                    self._changed.wait_for(lambda: self._values[key] != value or self._closing.is_set(), timeout)
                value = self._values[key]
            self.served.append((key, value))
            self._events.append(("served", key, value))
        return self._reply(handler, 200, value, etag=self._etag(value))

    @staticmethod
    def _reply(handler, status: int, body: str, etag: str | None = None) -> None:
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/text")
        handler.send_header("Metadata-Flavor", "Google")
        if etag:
            handler.send_header("ETag", etag)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self._closing.set()
        with self._changed:
            self._changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()


def spot_vm_values() -> dict[str, str]:
    """What a running spot VM reports before any notice."""
    return {"instance/preempted": "FALSE", "instance/maintenance-event": "NONE", "instance/hostname": "vm.internal"}


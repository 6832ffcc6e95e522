"""A real local Cloud Storage server for tests, and a fault-injecting proxy in front of it.

Fixtures:
  gcs_emulator     (session) gcp-storage-emulator in a subprocess on 127.0.0.1:<free port>; yields its URL.
  gcs_env          points STORAGE_EMULATOR_HOST at the emulator for one test.
  gcs_client       a google.cloud.storage.Client talking to the emulator (anonymous credentials).
  gcs_bucket       a fresh, uniquely named bucket for one test; yields its name.
  gcs_fault_proxy  a FaultProxy in front of the emulator; STORAGE_EMULATOR_HOST points at the proxy.
  fast_retry       DEFAULT_RETRY with millisecond back-off and a short deadline, so fault tests are quick.

Nothing here is a mock: every request reaches the emulator over TCP, and faults are real HTTP 503/403
answers, closed sockets and cut-off bodies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"gcp-storage-emulator exited with code {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as error:
            last = error
        time.sleep(0.05)
    raise RuntimeError(f"gcp-storage-emulator did not answer at {url} within {timeout:.0f}s: {last}")


@contextlib.contextmanager
def run_emulator() -> Iterator[str]:
    """Starts gcp-storage-emulator (in memory) in a subprocess on a free 127.0.0.1 port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
               "--in-memory", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != EMULATOR_ENV}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclasses.dataclass
class Fault:
    """One injected failure: `kind` for the next `times` matching requests, or until `until` (monotonic)."""

    kind: str  # "503", "403", "429", "drop", "drop_after_forward", "cut_body"
    times: int | None
    until: float | None
    pattern: re.Pattern | None
    skip: int = 0
    hits: int = 0

    def matches(self, request_line: str) -> bool:
        return self.pattern is None or bool(self.pattern.search(request_line))

    def active(self) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.until is None or time.monotonic() < self.until


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to `upstream` and fails chosen requests for real.

    Kinds: "503"/"429"/"403" answer with that status without forwarding; "drop" closes the socket before
    forwarding; "drop_after_forward" lets the emulator apply the request, then closes without answering
    (the client cannot know it succeeded); "cut_body" forwards and sends only half the response body.
    """

    KINDS = ("503", "429", "403", "drop", "drop_after_forward", "cut_body")

    def __init__(self, upstream: str):
        match = re.match(r"^http://([^:/]+):(\d+)/?$", upstream)
        if not match:
            raise ValueError(f"upstream must look like http://host:port; received {upstream!r}")
        self._upstream = (match.group(1), int(match.group(2)))
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[str] = []
        self.injected: list[tuple[str, str]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="gcs-fault-proxy", daemon=True)
        self._thread.start()

    # -- control -------------------------------------------------------------------------------------------
    def inject(self, kind: str, *, times: int | None = 1, seconds: float | None = None,
               match: str | None = None, after: int = 0) -> Fault:
        """Fails `times` requests (or all for `seconds`) whose "METHOD path?query" matches `match`.

        The first `after` matching requests pass untouched (to fail a transfer half-way).
        """
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}; received {kind!r}")
        if times is None and seconds is None:
            raise ValueError("give `times` or `seconds` (or both)")
        fault = Fault(kind, times, time.monotonic() + seconds if seconds is not None else None,
                      re.compile(match) if match else None, skip=after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults_injected(self) -> int:
        return len(self.injected)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- serving -------------------------------------------------------------------------------------------
    def _pick(self, request_line: str) -> Fault | None:
        with self._lock:
            self.requests.append(request_line)
            for fault in self._faults:
                if fault.active() and fault.matches(request_line):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.hits += 1
                    self.injected.append((fault.kind, request_line))
                    return fault
        return None

    @staticmethod
    def _read_body(handler) -> bytes:
        length = handler.headers.get("Content-Length")
        if length:
            return handler.rfile.read(int(length))
        if (handler.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    return body
                body += handler.rfile.read(size)
                handler.rfile.readline()
        return b""

    @staticmethod
    def _drop(handler) -> None:
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True

    def _serve(self, handler) -> None:
        request_line = f"{handler.command} {handler.path}"
        body = self._read_body(handler)
        fault = self._pick(request_line)
        if fault is not None and fault.kind in ("503", "429", "403"):
            payload = (f'{{"error": {{"code": {fault.kind}, "message": "injected by FaultProxy"}}}}').encode()
            handler.send_response(int(fault.kind))
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if fault is not None and fault.kind == "drop":
            self._drop(handler)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or handler.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            response_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            status, reason = response.status, response.reason
        finally:
            connection.close()
        if fault is not None and fault.kind == "drop_after_forward":
            self._drop(handler)
            return
        handler.send_response(status, reason)
        for key, value in response_headers:
            if key.lower() != "content-length":
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if fault is not None and fault.kind == "cut_body" and len(payload) > 1:
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            self._drop(handler)
            return
        handler.wfile.write(payload)


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """URL of a gcp-storage-emulator shared by the whole test session."""
    with run_emulator() as url:
        yield url


@pytest.fixture
def gcs_env(gcs_emulator, monkeypatch) -> str:
    monkeypatch.setenv(EMULATOR_ENV, gcs_emulator)
    return gcs_emulator


def emulator_client(url: str):
    """A client bound to `url` directly (independent of STORAGE_EMULATOR_HOST), for test set-up and checks."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test-project", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": url})


@pytest.fixture
def gcs_client(gcs_emulator):
    """A client talking straight to the emulator (never through a fault proxy)."""
    return emulator_client(gcs_emulator)


@pytest.fixture
def gcs_bucket(gcs_client) -> str:
    """A new empty bucket for this test (the emulator is in memory; buckets vanish with it)."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    gcs_client.create_bucket(name)
    return name


@pytest.fixture
def gcs_fault_proxy(gcs_emulator, monkeypatch) -> Iterator[FaultProxy]:
    """A FaultProxy in front of the emulator; STORAGE_EMULATOR_HOST points at the proxy for this test."""
    proxy = FaultProxy(gcs_emulator)
    monkeypatch.setenv(EMULATOR_ENV, proxy.url)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def fast_retry():
    """google-cloud-storage's DEFAULT_RETRY with 10 ms initial back-off and a 30 s deadline."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.2, multiplier=2.0).with_timeout(30.0)

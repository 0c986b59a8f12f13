"""Servers the tests (and benchmarks/remote.py) start and stop themselves: a loopback HTTP server with counters
and failure modes, and moto's S3-compatible server."""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager, suppress
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.hits: dict[str, int] = {}

    def enter(self, path: str) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.hits[path] = self.hits.get(path, 0) + 1

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


def _file(root: str | None, path: str) -> bytes:
    full = os.path.join(root or os.getcwd(), path.split("?")[0].lstrip("/"))
    with open(full, "rb") as f:
        return f.read()


def _handler(root: str | None, counters: Counters, latency: float, release: threading.Event):
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root or os.getcwd(), **kwargs)

        def log_message(self, *args) -> None:  # quiet
            pass

        def _leave(self) -> None:
            if self.counted:
                self.counted = False
                counters.leave()

        def _send(self, status: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
            # Out of flight before the answer goes out: once a client holds an answer, its next request may
            # arrive before this thread runs again, and must not be counted on top of this one.
            self._leave()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _fault(self, parts: list[str]) -> bool:
            """``/fault/<mode>/<path>``: ``<path>`` (a file under root) served with a fault; True when handled."""
            mode, rest = parts[1], "/" + "/".join(parts[2:])
            if mode not in ("500", "loop", "silent") and not os.path.isfile(os.path.join(root or ".", rest[1:])):
                self._send(404, b"no such file")
                return True
            if mode == "500":  # every request fails
                self._send(500, b"internal error")
            elif mode == "loop":  # a redirect to itself, forever
                self._leave()
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode in ("truncate", "silent-body"):  # announces the whole file, sends half of it (then waits)
                body = _file(root, rest)
                self._leave()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if mode == "silent-body":
                        release.wait()
                self.close_connection = True
            elif mode == "silent":  # accepts, reads the request, never answers
                self._leave()
                release.wait()
                self.close_connection = True
            elif mode == "nohead":  # HEAD refused (as a presigned GET URL does); GET serves the file
                if self.command == "HEAD":
                    self._send(403, b"signed for GET only")
                else:
                    self._leave()
                    self.path = rest
                    SimpleHTTPRequestHandler.do_GET(self)
            elif mode == "plain":  # the file with no ETag or Last-Modified (nothing to tell a change by)
                self._send(200, _file(root, rest), "application/octet-stream")
            elif mode.startswith("slow-"):  # answers after <seconds>
                time.sleep(float(mode[5:]))
                self._send(200, _file(root, rest))
            else:
                return False
            return True

        def do_HEAD(self) -> None:
            parts = self.path.strip("/").split("/")
            self.counted = False
            if parts[0] == "fault" and len(parts) > 2 and self._fault(parts):
                return
            super().do_HEAD()

        def do_GET(self) -> None:
            self.counted = True
            counters.enter(self.path)
            try:
                time.sleep(latency)
                parts = self.path.strip("/").split("/")
                if parts[0] == "fault" and len(parts) > 2 and self._fault(parts):
                    pass
                elif parts[0] == "doc":  # /doc/<id>: plain text
                    self._send(200, f"passage {parts[1]} about topic {int(parts[1]) % 7}".encode())
                elif parts[0] == "json":  # /json/<id>: a REST passage
                    body = {"title": f"title {parts[1]}", "text": f"passage {parts[1]} as json"}
                    self._send(200, json.dumps(body).encode(), "application/json")
                elif parts[0] == "status":  # /status/<code>
                    self._send(int(parts[1]), b"error page")
                elif parts[0] == "flaky":  # /flaky/<n>/<key>: 503 for the first n requests of key, then 200
                    n = int(parts[1])
                    self._send(503 if counters.hits[self.path] <= n else 200, b"recovered")
                elif parts[0] == "slow":  # /slow/<seconds>
                    time.sleep(float(parts[1]))
                    self._send(200, b"late")
                else:  # files under root
                    super().do_GET()
            finally:
                self._leave()

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up early (a timeout being tested) is expected: no traceback; others as usual."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def http_server(root: str | None = None, latency: float = 0.0):
    """A loopback HTTP server (threads) serving ``root`` plus the test endpoints; yields (base URL, counters).

    Faults, for any file under ``root``: ``/fault/500/<path>`` (always HTTP 500), ``/fault/loop/<path>`` (a
    redirect to itself), ``/fault/truncate/<path>`` (Content-Length of the whole file, half of it sent, then the
    connection closed), ``/fault/silent-body/<path>`` (the same, then silence), ``/fault/silent/<path>`` (the
    request is read, never answered), ``/fault/slow-<seconds>/<path>``, ``/fault/plain/<path>`` (no ETag or
    Last-Modified), ``/fault/nohead/<path>`` (HEAD refused with 403, GET served).
    """
    counters = Counters()
    release = threading.Event()  # lets the silent handlers go at shutdown
    server = _QuietServer(("127.0.0.1", 0), _handler(root, counters, latency, release))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counters
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def silent_server():
    """A loopback TCP port that accepts connections and never sends a byte; yields its ``host:port``."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with suppress(OSError):  # a timeout (or closed): look at stop again
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server():
    """moto's S3-compatible server on a free loopback port; yields (endpoint URL, a boto3 client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        yield endpoint, client
    finally:
        server.stop()

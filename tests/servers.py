"""Servers the tests (and benchmarks/remote.py) start and stop themselves: a loopback HTTP server with counters
and failure modes, and moto's S3-compatible server."""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
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


def _handler(root: str | None, counters: Counters, latency: float):
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
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.counted = True
            counters.enter(self.path)
            try:
                time.sleep(latency)
                parts = self.path.strip("/").split("/")
                if parts[0] == "doc":  # /doc/<id>: plain text
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


@contextmanager
def http_server(root: str | None = None, latency: float = 0.0):
    """A loopback HTTP server (threads) serving ``root`` plus the test endpoints; yields (base URL, counters)."""
    counters = Counters()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, counters, latency))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counters
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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

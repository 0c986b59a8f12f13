"""Bounded HTTP(S) requests with the standard library: every failure ends within the timeout, as one line.

A request has ``timeout`` seconds, retries included, to get an answer: a server that accepts the connection and
never answers, a refused connection retried, or a string of HTTP 5xx answers all end within it. A 5xx or 429
answer, a refused or reset connection and a timeout are retried (``retries`` times, backoff 0.5 s x 2^attempt);
a 4xx answer, a host name that does not resolve and a redirect loop are not. A body is then read with at most
``timeout`` seconds between two blocks (a slow but steady download is not cut), checked against its
``Content-Length`` (a body cut short is retried, then refused) and against ``max_bytes``.

Every failure is a :class:`RemoteError` naming the URL, what went wrong, and the fix.

    >>> head("http://127.0.0.1:1/corpus.jsonl", timeout=2)  # doctest: +SKIP
    Traceback (most recent call last):
    RemoteError: http://127.0.0.1:1/corpus.jsonl: connection refused (nothing listens at 127.0.0.1:1) ...
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import BinaryIO, NamedTuple

from daft_retrieval.errors import RemoteError

__all__ = ["MAX_REDIRECTS", "Answer", "download", "head"]

MAX_REDIRECTS = 10
_BLOCK = 1 << 20
_HINT = "raise it with --timeout SECONDS or DAFT_RETRIEVAL_TIMEOUT"


class Answer(NamedTuple):
    """What a server said: the final URL (after redirects), the status and the headers (names lower-cased)."""

    url: str
    status: int
    headers: Mapping[str, str]


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS  # urllib also refuses a URL it was already sent to ("infinite loop")


_OPENER = urllib.request.build_opener(_Redirects())


class _Retry(Exception):
    """A failure worth another attempt (the reason in its message)."""


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url


def _reason(url: str, exc: BaseException, timeout: float) -> tuple[str, bool]:
    """A one-line reason for ``exc`` and whether another attempt may help."""
    if isinstance(exc, urllib.error.HTTPError):
        if 300 <= exc.code < 400 and "infinite loop" in str(exc.msg):
            return f"redirect loop (more than {MAX_REDIRECTS} redirects, or back to a URL already visited)", False
        if 300 <= exc.code < 400:
            return f"HTTP {exc.code}: a redirect without a usable Location", False
        text = f"HTTP {exc.code} {exc.reason or ''}".strip()
        return text, exc.code >= 500 or exc.code == 429
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, socket.gaierror):
        if cause.errno == socket.EAI_AGAIN:
            return f"the host name {urllib.parse.urlsplit(url).hostname} could not be looked up (DNS)", True
        return f"the host name {urllib.parse.urlsplit(url).hostname} does not resolve (DNS): check the URL", False
    if isinstance(cause, ConnectionRefusedError):
        return f"connection refused (nothing listens at {_host(url)})", True
    if isinstance(cause, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s ({_HINT})", True
    if isinstance(cause, ConnectionError | http.client.HTTPException):
        return f"the connection broke ({type(cause).__name__}: {cause})".replace("\n", " "), True
    if isinstance(cause, OSError) and cause.strerror:
        return f"cannot connect ({cause.strerror})", True
    return f"{type(cause).__name__}: {cause}".replace("\n", " "), False


def _attempts(url: str, timeout: float, retries: int, attempt):
    """Call ``attempt(seconds_left)`` until it returns, a failure is final, retries run out or time does."""
    deadline = time.monotonic() + timeout
    tried = 0
    while True:
        tried += 1
        left = deadline - time.monotonic()
        try:
            return attempt(max(left, 0.001))
        except (urllib.error.URLError, OSError, http.client.HTTPException, _Retry) as exc:
            if isinstance(exc, _Retry):
                reason, again = str(exc), True
            else:
                reason, again = _reason(url, exc, timeout)
        pause = 0.5 * 2 ** (tried - 1)
        after = f" after {tried} attempts" if tried > 1 else ""
        if not again or tried > retries:
            raise RemoteError(f"{url}: {reason}{after}") from None
        if time.monotonic() + pause >= deadline:
            if "no answer within" in reason:
                raise RemoteError(f"{url}: {reason}{after}") from None
            raise RemoteError(f"{url}: {reason}{after}; gave up after {timeout:g} s ({_HINT})") from None
        time.sleep(pause)


def _open(url: str, method: str, seconds: float, headers: Mapping[str, str] | None):
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    return _OPENER.open(request, timeout=seconds)


def _answer(response) -> Answer:
    return Answer(response.geturl(), response.status, {k.lower(): v for k, v in response.headers.items()})


def head(url: str, *, timeout: float = 60.0, retries: int = 3, headers: Mapping[str, str] | None = None) -> Answer:
    """Ask for ``url``'s headers (HEAD; a server refusing HEAD, or a presigned URL, is asked for its first
    byte); a :class:`RemoteError` unless the answer is 2xx.

    >>> head("https://example.org/data/corpus.jsonl").headers.get("etag")  # doctest: +SKIP
    '"5f3c-1a2b"'
    """

    def attempt(seconds: float) -> Answer:
        try:
            with _open(url, "HEAD", seconds, headers) as response:
                return _answer(response)
        except urllib.error.HTTPError as exc:
            if exc.code not in (403, 405, 501):  # 403: a presigned URL signs GET only
                raise
        with _open(url, "GET", seconds, {**(headers or {}), "Range": "bytes=0-0"}) as response:
            answer = _answer(response)
        total = answer.headers.get("content-range", "").rpartition("/")[2]
        if answer.status == 206 and total.isdigit():  # the whole body's length, as a HEAD would give it
            answer = answer._replace(headers={**answer.headers, "content-length": total})
        return answer

    return _attempts(url, timeout, retries, attempt)


def _copy(url: str, response, out: BinaryIO, max_bytes: int | None) -> int:
    expected = response.headers.get("Content-Length")
    expected = int(expected) if expected and expected.isdigit() else None
    if max_bytes is not None and expected is not None and expected > max_bytes:
        raise RemoteError(f"{url}: the body is {expected:,} bytes, over the limit of {max_bytes:,}; raise max_bytes")
    done = 0
    while True:
        block = response.read(_BLOCK)  # at most the socket timeout between two blocks
        if not block:
            break
        done += len(block)
        if max_bytes is not None and done > max_bytes:
            raise RemoteError(f"{url}: the body is over the limit of {max_bytes:,} bytes; raise max_bytes")
        out.write(block)
    if expected is not None and done != expected:
        raise _Retry(f"the body ended after {done:,} of {expected:,} bytes (Content-Length): the connection was cut")
    return done


def _body_timeout(response, seconds: float) -> None:
    """Give each read of the body the whole timeout (the answer came within what was left of it)."""
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def download(
    url: str,
    target: str | os.PathLike,
    *,
    timeout: float = 60.0,
    retries: int = 3,
    max_bytes: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Write the body of ``url`` to ``target``: checked against its Content-Length and ``max_bytes``; the answer.

    ``timeout`` bounds the wait for an answer (retries included) and each wait for the next block of the body.

    >>> download("https://example.org/scifact.zip", "/tmp/scifact.zip", max_bytes=1 << 30)  # doctest: +SKIP
    """

    def attempt(seconds: float) -> Answer:
        with _open(url, "GET", seconds, headers) as response:
            _body_timeout(response, timeout)
            with open(target, "wb") as out:
                _copy(url, response, out, max_bytes)
            return _answer(response)

    return _attempts(url, timeout, retries, attempt)

"""Remote files as this project's errors: a bounded check before Daft reads a URL, and Daft's (and a UDF's)
failures turned into one-line :class:`RemoteError` / :class:`DataError` naming the URL.

:func:`check_remote` asks for one file (HTTP(S): a HEAD with :mod:`~daft_retrieval.load.http`; s3://, gs://,
az://: a listing through Daft with the same ``IOConfig``), so a dead server, a redirect loop, missing credentials
or a missing file fail within the timeout, before any read. :func:`remote_failure` reads the reason out of a
Daft error (``MiscTransient ... Caused by: ... dns error``) without Rust's text; :func:`unwrap_udf_error` gives
back the error a UDF raised (Daft re-raises it as ``DaftCoreException: ... PyO3Error RemoteError: ...``).

    >>> check_remote("http://no-such-host.invalid/corpus.jsonl", timeout=2)  # doctest: +SKIP
    Traceback (most recent call last):
    RemoteError: http://no-such-host.invalid/corpus.jsonl: the host name no-such-host.invalid does not resolve ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

import daft

from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load.io import remote_timeout

__all__ = ["check_remote", "quiet_rust_logs", "reading", "remote_failure", "unwrap_udf_error"]

_HINT = "raise it with --timeout SECONDS or DAFT_RETRIEVAL_TIMEOUT"
_CREDENTIALS = (
    "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE; for a public bucket "
    "use --anonymous / s3_config(anonymous=True))"
)


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def remote_failure(exc: BaseException, timeout: float | None = None) -> str | None:
    """The one-line reason a Daft read of a remote file failed, or None when ``exc`` is not a remote failure
    (bad content, a bug).

    >>> remote_failure(ValueError("MiscTransient\\n\\nCaused by the following errors:\\n  1: dns error"))
    'the host name does not resolve (DNS): check the URL'
    """
    for link in _chain(exc):
        if isinstance(link, DataError):
            continue  # a message of ours (around Daft's error): look at its cause
        text = str(link)
        transient = type(link).__name__ in {
            "DaftTransientError",
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "ByteStreamError",
            "SocketError",
            "ThrottleError",
            "MiscTransientError",
        }
        reason = _reason(text, timeout)
        if reason is not None:
            return reason
        if transient:
            return "the connection failed (" + _last_cause(text) + ")"
    return None


def _last_cause(text: str) -> str:
    causes = re.findall(r"^\s*\d+: (.+)$", text, flags=re.M)
    last = causes[-1] if causes else text.strip().splitlines()[0] if text.strip() else "no reason given"
    return last[:160]


def _reason(text: str, timeout: float | None) -> str | None:
    low = text.lower()
    limit = f"{timeout:g} s" if timeout else "the timeout"
    status = re.search(r"HTTP status (?:server|client) error \((\d{3}) ?([^)]*)\)", text)
    if "unable to load credentials" in low:
        return _CREDENTIALS
    if "dns error" in low or "failed to lookup address" in low:
        return "the host name does not resolve (DNS): check the URL"
    if "connection refused" in low:
        return "connection refused (nothing listens there: check the address, or start the server)"
    if "too many redirects" in low:
        return "redirect loop (too many redirects)"
    if status:
        return f"HTTP {status.group(1)} {status.group(2)}".strip() + (
            " after the retries" if status.group(1)[0] == "5" else ""
        )
    if "timed out" in low or "timeout" in low:
        return f"timed out (the timeout is {limit} per file: {_HINT})"
    if "socket error when streaming" in low or "error decoding response body" in low:
        return "the connection broke while reading the body (it ended early)"
    if "nosuchbucket" in low:
        return "no such bucket"
    if "accessdenied" in low or "invalidaccesskeyid" in low or "signaturedoesnotmatch" in low:
        return "access denied (check the credentials, or --anonymous for a public bucket)"
    if "unhandled error" in low and "aws_request_id" in low:
        return "the server refused the request (access denied: check the credentials; --anonymous reads public buckets)"
    return None


def unwrap_udf_error(exc: BaseException) -> BaseException:
    """The error of this project that a Daft UDF raised, rebuilt from the ``DaftCoreException`` Daft raises in its
    place (``isinstance`` works again); ``exc`` itself when it holds none.

    >>> type(unwrap_udf_error(ValueError("DaftError::PyO3Error RemoteError: http://h/x: HTTP 500"))).__name__
    'RemoteError'
    """
    for link in _chain(exc):
        if isinstance(link, DataError):
            return link
    found = re.search(r"PyO3Error (\w+): (.+)", str(exc))
    kinds = {kind.__name__: kind for kind in _subclasses(DataError)}
    if found and found.group(1) in kinds:
        return kinds[found.group(1)](found.group(2).strip())
    return exc


def _subclasses(kind: type) -> list[type]:
    """``kind`` and every subclass of it defined so far (``FetchError`` and the like included)."""
    found = [kind]
    for sub in kind.__subclasses__():
        found += _subclasses(sub)
    return found


def check_remote(
    url: str,
    *,
    io_config: daft.io.IOConfig | None = None,
    timeout: float | None = None,
    retries: int = 3,
    missing_ok: bool = False,
    authorised: bool = False,
) -> bool:
    """Whether the remote file ``url`` exists, asked within ``timeout``; a :class:`RemoteError` when it cannot be
    told (or it is missing, unless ``missing_ok``). ``authorised``: the caller's ``io_config`` may carry a token
    this plain HTTP check does not send, so a 401/403 answer here is left for Daft's read to decide.
    """
    from daft.daft import io_glob

    from daft_retrieval.load.http import head
    from daft_retrieval.load.io import s3_config

    seconds = remote_timeout(timeout)
    if _is_http(url):
        try:
            head(url, timeout=seconds, retries=retries)
        except RemoteError as exc:
            text = str(exc)
            if missing_ok and re.search(r": HTTP 40[4]\b", text):
                return False
            if authorised and re.search(r": HTTP 40[13]\b", text):
                return True
            raise
        return True
    io_config = io_config or s3_config(timeout=seconds)
    endpoint = getattr(io_config.s3, "endpoint_url", None) if url.lower().startswith("s3://") else None
    try:
        found = io_glob(url, io_config=io_config)
    except FileNotFoundError as exc:
        if "nosuchbucket" in str(exc).lower():
            raise RemoteError(f"{url}: no such bucket" + (f" at {endpoint}" if endpoint else "")) from None
        if missing_ok:
            return False
        raise RemoteError(f"{url}: no such file ({_last_cause(str(exc))})") from None
    except Exception as exc:
        reason = remote_failure(exc, seconds) or f"cannot be read ({_last_cause(str(exc))})"
        if url.lower().startswith("s3://") and reason.startswith("the server refused") and _no_credentials(io_config):
            reason = _CREDENTIALS + "; Daft then tried anonymous access, which the server refused"
        raise RemoteError(f"{url}: {reason}" + (f" (endpoint {endpoint})" if endpoint else "")) from None
    if not found:
        if missing_ok:
            return False
        raise RemoteError(f"{url}: no such file")
    return True


def _no_credentials(io_config: daft.io.IOConfig) -> bool:
    """Whether S3 credentials are nowhere to be found: not in ``io_config``, the environment or the AWS files
    (an instance role cannot be told apart without asking for it; Daft falls back to anonymous access then)."""
    s3 = io_config.s3
    if s3.anonymous or s3.key_id or getattr(s3, "credentials_provider", None) is not None:
        return False
    variables = (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    )
    if any(os.environ.get(v) for v in (*variables, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")):
        return False
    files = [
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials"),
        os.environ.get("AWS_CONFIG_FILE") or os.path.expanduser("~/.aws/config"),
    ]
    return not any(os.path.isfile(f) for f in files)


@contextlib.contextmanager
def reading(url: str, *, timeout: float | None = None) -> Iterator[None]:
    """Turn a failed read of ``url`` into a :class:`RemoteError` naming it when the network is at fault (for
    HTTP(S), a failure Daft does not explain is checked by reading the body here: a body cut short is named so);
    other errors pass unchanged."""
    try:
        yield
    except RemoteError:
        raise
    except Exception as exc:
        seconds = remote_timeout(timeout)
        reason = remote_failure(exc, seconds)
        if reason is not None:
            raise RemoteError(f"{url}: {reason}") from None
        if _is_http(url):
            from daft_retrieval.load.http import download

            try:
                download(url, os.devnull, timeout=seconds, retries=1)
            except RemoteError as fault:
                raise fault from None
        raise


class _FromRust(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.pathname).endswith(".rs")


def quiet_rust_logs() -> None:
    """Keep the warnings Daft's Rust code logs (retries, "Error when running pipeline node ...") off stderr when
    logging is not set up: the error that follows says what happened, in one line. For the CLI."""
    if logging.lastResort is not None and not any(isinstance(f, _FromRust) for f in logging.lastResort.filters):
        logging.lastResort.addFilter(_FromRust())

"""Fetch a column of URLs with an async Daft batch method: bounded concurrency, retries, a time and size limit.

:class:`Fetcher` is a ``@daft.cls`` whose async batch method downloads every URL of a batch concurrently, at most
``concurrency`` at a time per worker (a semaphore created lazily in the worker's event loop: Daft's
``max_concurrency`` does not cap coroutines). A 5xx answer, a timeout, a dropped connection or a body cut short
(shorter than its Content-Length) is retried up to ``retries`` times with exponential backoff
(``backoff x 2^attempt``, with jitter); a 4xx answer, a redirect loop and a body over ``max_bytes`` are not.
``timeout`` is the most one URL may take, all its attempts together (each gets ``timeout / (retries + 1)``,
plus the pauses between them): a server that never answers fails within it.

``on_error="raise"`` stops with a :class:`FetchError` (a :class:`~daft_retrieval.errors.RemoteError`) naming the
URL, the row (``keys``: a column such as ``doc_id``) and the status; ``on_error="null"`` gives None for that row
and a counted warning.

    >>> fetcher = Fetcher(concurrency=32)
    >>> df = daft.from_pydict({"url": ["http://127.0.0.1:8000/doc/1"]})
    >>> df.with_column("body", fetcher.fetch_text(daft.col("url"))).collect()  # doctest: +SKIP

:func:`fetch_corpus` turns ``doc_id, url`` rows into a corpus (each URL returning plain text, or JSON with
``title``/``text`` from a REST endpoint), fetched once and held, its errors raised as this project's own.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import warnings

import daft
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load.dataset import DataWarning

__all__ = ["DEFAULT_MAX_BYTES", "FetchError", "Fetcher", "fetch_corpus"]

DEFAULT_MAX_BYTES = 32 << 20  # one passage or document: 32 MiB is far past any real one


class FetchError(RemoteError):
    """A URL that could not be fetched (after retries, where they apply)."""


class _Final(Exception):
    """A failure no retry will change (its reason in the message)."""


def _check(concurrency: int, retries: int, timeout: float, on_error: str, max_bytes: int | None) -> None:
    if concurrency < 1 or retries < 0 or not timeout > 0:
        raise DataError("Fetcher needs concurrency >= 1, retries >= 0 and timeout > 0")
    if max_bytes is not None and max_bytes < 1:
        raise DataError(f"Fetcher max_bytes must be >= 1 (or None: no limit), not {max_bytes!r}")
    if on_error not in ("raise", "null"):
        raise DataError(f"on_error must be 'raise' or 'null', not {on_error!r}")


def Fetcher(
    concurrency: int = 32,
    retries: int = 3,
    backoff: float = 0.25,
    timeout: float | None = None,
    on_error: str = "raise",
    headers: dict | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> object:
    """A Daft fetcher (options checked now; sessions open on the workers). ``timeout``: seconds per URL, all
    attempts together (default ``$DAFT_RETRIEVAL_TIMEOUT``, else 60); ``max_bytes``: the largest body taken
    (default 32 MiB; None: no limit)."""
    from daft_retrieval.load.io import remote_timeout

    timeout = remote_timeout(timeout)
    _check(concurrency, retries, timeout, on_error, max_bytes)
    return _Fetcher(concurrency, retries, backoff, timeout, on_error, headers, max_bytes)


def _where(url: str, key: str | None) -> str:
    return url if key is None else f"{url} ({key})"


@daft.cls(name_override="Fetcher")
class _Fetcher:
    """Async HTTP(S) fetching of a URL column (see the module doc for the retry and error rules)."""

    def __init__(
        self,
        concurrency: int,
        retries: int,
        backoff: float,
        timeout: float,
        on_error: str,
        headers: dict | None,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
    ) -> None:
        _check(concurrency, retries, timeout, on_error, max_bytes)
        self.concurrency, self.retries, self.backoff = concurrency, retries, backoff
        self.timeout, self.on_error, self.headers = timeout, on_error, headers or {}
        self.max_bytes = max_bytes
        self._semaphores: dict[int, asyncio.Semaphore] = {}  # one per event loop, made inside it

    def _semaphore(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return self._semaphores[loop]

    async def _body(self, response) -> bytes:
        limit = self.max_bytes
        if limit is not None and response.content_length is not None and response.content_length > limit:
            raise _Final(f"the body is {response.content_length:,} bytes, over max_bytes={limit:,}")
        if limit is None:
            return await response.read()
        parts, size = [], 0
        async for block in response.content.iter_chunked(1 << 16):
            size += len(block)
            if size > limit:
                raise _Final(f"the body is over max_bytes={limit:,}")
            parts.append(block)
        return b"".join(parts)

    async def _attempt(self, session, url: str, seconds: float) -> bytes | str:
        """The body, or the reason this attempt failed (a str); a final failure raises _Final."""
        import aiohttp

        try:
            async with self._semaphore():
                timeout = aiohttp.ClientTimeout(total=seconds)
                async with session.get(url, timeout=timeout) as response:
                    if response.status < 400:
                        return await self._body(response)
                    reason = f"HTTP {response.status} {response.reason or ''}".strip()
                    if response.status < 500 and response.status != 429:  # a client error will not change
                        raise _Final(reason)
                    return reason
        except asyncio.TimeoutError:
            return f"no answer within {seconds:g} s (raise timeout=)"
        except aiohttp.TooManyRedirects:
            raise _Final("redirect loop (too many redirects)") from None
        except aiohttp.ClientPayloadError as exc:
            return f"the body was cut short ({exc})"
        except getattr(aiohttp, "ClientConnectorDNSError", ()):  # aiohttp >= 3.10
            raise _Final("the host name does not resolve (DNS): check the URL") from None
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _one(self, session, url: str | None, key=None) -> bytes | None:
        if url is None:
            return None
        deadline = time.monotonic() + self.timeout
        each = self.timeout / (self.retries + 1)
        last, attempts = "", 0
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            left = deadline - time.monotonic()
            if left <= 0:
                break
            attempts += 1
            try:
                found = await self._attempt(session, url, min(each, left) if attempt < self.retries else left)
            except _Final as exc:
                raise FetchError(f"{_where(url, key)}: {exc}") from None
            if not isinstance(found, str):
                return found
            last = found
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise FetchError(f"{_where(url, key)}: {last}{tries}")

    async def _batch(self, urls: daft.Series, keys: daft.Series | None) -> list:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.concurrency)
        label = (keys.name() or "row") if keys is not None else None
        names = [f"{label} {k!r}" for k in keys.to_pylist()] if keys is not None else [None] * len(urls)
        async with aiohttp.ClientSession(headers=self.headers, connector=connector) as session:
            results = await asyncio.gather(
                *(self._one(session, u, k) for u, k in zip(urls.to_pylist(), names)), return_exceptions=True
            )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and self.on_error == "raise":
            raise failures[0]
        if failures:
            examples = "; ".join(str(f) for f in failures[:3])
            warnings.warn(
                f"{len(failures)} of {len(results)} URLs failed (null): {examples}", DataWarning, stacklevel=2
            )
        return [None if isinstance(r, BaseException) else r for r in results]

    @daft.method.batch(return_dtype=DataType.binary(), batch_size=1024)
    async def fetch(self, urls: daft.Series, keys: daft.Series | None = None) -> list:
        """The body of each URL as bytes; ``keys`` (optional, e.g. ``col("doc_id")``) names the rows in errors."""
        return await self._batch(urls, keys)

    @daft.method.batch(return_dtype=DataType.string(), batch_size=1024)
    async def fetch_text(self, urls: daft.Series, keys: daft.Series | None = None) -> list:
        """The body of each URL decoded as UTF-8 (undecodable bytes replaced); ``keys`` as :meth:`fetch`."""
        bodies = await self._batch(urls, keys)
        return [None if b is None else b.decode("utf-8", errors="replace") for b in bodies]


@daft.func(return_dtype=DataType.struct({S.TITLE: DataType.string(), S.TEXT: DataType.string()}))
def _passage(body: str | None, doc_id: str | None, fmt: str) -> dict | None:
    if body is None:
        return None
    if fmt == "text":
        return {S.TITLE: "", S.TEXT: body}
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"doc_id {doc_id!r}: the fetched passage is not JSON ({exc}); use format='text' for plain-text URLs"
        ) from None
    if not isinstance(doc, dict) or "text" not in doc:
        raise DataError(f"doc_id {doc_id!r}: the fetched JSON passage has no 'text' field: {body[:80]!r}")
    return {S.TITLE: doc.get("title") or "", S.TEXT: doc.get("text") or ""}


def fetch_corpus(
    frame: daft.DataFrame,
    *,
    url: str = "url",
    format: str = "text",
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    **fetcher,
) -> daft.DataFrame:
    """A corpus (``doc_id, title, text``) from ``doc_id, url`` rows, fetched now and held (each URL read once);
    ``format`` "text" or "json" (a REST endpoint returning ``{"title": ..., "text": ...}``); ``max_bytes``: the
    largest body taken (default 32 MiB; None: no limit); other ``fetcher`` options as :class:`Fetcher`.

    A URL that fails is a :class:`FetchError` (``isinstance(exc, RemoteError)``) naming the URL and its
    ``doc_id``; with ``on_error="null"`` its row is kept with a null text and a counted warning.

    >>> fetch_corpus(daft.from_pydict({"doc_id": ["d1"], "url": ["http://127.0.0.1:8000/doc/1"]}))  # doctest: +SKIP
    """
    from daft_retrieval.load.remote import unwrap_udf_error
    from daft_retrieval.runner import persist

    if format not in ("text", "json"):
        raise DataError(f"format must be 'text' or 'json', not {format!r}")
    S.require_columns(frame, [S.DOC_ID, url], "URL table")
    body = Fetcher(max_bytes=max_bytes, **fetcher).fetch_text(col(url), col(S.DOC_ID).cast(DataType.string()))
    fetched = frame.select(col(S.DOC_ID), _passage(body, col(S.DOC_ID), format).alias("_p"))
    corpus = fetched.select(S.DOC_ID, col("_p")[S.TITLE].alias(S.TITLE), col("_p")[S.TEXT].alias(S.TEXT))
    try:
        return persist(corpus)
    except Exception as exc:
        found = unwrap_udf_error(exc)
        if found is exc:
            raise
        raise found from None

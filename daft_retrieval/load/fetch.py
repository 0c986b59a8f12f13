"""Fetch a column of URLs with an async Daft batch method: bounded concurrency, retries, clear errors.

:class:`Fetcher` is a ``@daft.cls`` whose async batch method downloads every URL of a batch concurrently, at most
``concurrency`` at a time per worker (a semaphore created lazily in the worker's event loop: Daft's
``max_concurrency`` does not cap coroutines). A 5xx answer, a timeout or a dropped connection is retried up to
``retries`` times with exponential backoff (``backoff x 2^attempt``, with jitter); a 4xx answer is not retried.
``on_error="raise"`` stops with a :class:`DataError` naming the URL and the status; ``on_error="null"`` gives
None for that row and a counted warning.

    >>> fetcher = Fetcher(concurrency=32)
    >>> df = daft.from_pydict({"url": ["http://127.0.0.1:8000/doc/1"]})
    >>> df.with_column("body", fetcher.fetch_text(daft.col("url"))).collect()  # doctest: +SKIP

:func:`fetch_corpus` turns ``doc_id, url`` rows into a corpus (each URL returning plain text, or JSON with
``title``/``text`` from a REST endpoint).
"""

from __future__ import annotations

import asyncio
import json
import random
import warnings

import daft
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load.dataset import DataWarning

__all__ = ["Fetcher", "fetch_corpus"]


class FetchError(RemoteError):
    """A URL that could not be fetched (after retries, where they apply)."""


def _check(concurrency: int, retries: int, timeout: float, on_error: str) -> None:
    if concurrency < 1 or retries < 0 or timeout <= 0:
        raise DataError("Fetcher needs concurrency >= 1, retries >= 0 and timeout > 0")
    if on_error not in ("raise", "null"):
        raise DataError(f"on_error must be 'raise' or 'null', not {on_error!r}")


def Fetcher(
    concurrency: int = 32,
    retries: int = 3,
    backoff: float = 0.25,
    timeout: float = 30.0,
    on_error: str = "raise",
    headers: dict | None = None,
) -> object:
    """A Daft fetcher (options checked now; sessions open on the workers). ``timeout``: seconds per request."""
    _check(concurrency, retries, timeout, on_error)
    return _Fetcher(concurrency, retries, backoff, timeout, on_error, headers)


@daft.cls(name_override="Fetcher")
class _Fetcher:
    """Async HTTP(S) fetching of a URL column (see the module doc for the retry and error rules)."""

    def __init__(
        self, concurrency: int, retries: int, backoff: float, timeout: float, on_error: str, headers: dict | None
    ) -> None:
        _check(concurrency, retries, timeout, on_error)
        self.concurrency, self.retries, self.backoff = concurrency, retries, backoff
        self.timeout, self.on_error, self.headers = timeout, on_error, headers or {}
        self._semaphores: dict[int, asyncio.Semaphore] = {}  # one per event loop, made inside it

    def _semaphore(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return self._semaphores[loop]

    async def _one(self, session, url: str | None) -> bytes | None:
        import aiohttp

        if url is None:
            return None
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                async with self._semaphore(), session.get(url) as response:
                    if response.status < 400:
                        return await response.read()
                    last = f"HTTP {response.status} {response.reason or ''}".strip()
                    if response.status < 500:  # a client error will not change on retry
                        break
            except asyncio.TimeoutError:
                last = f"timed out after {self.timeout:g} s"
            except aiohttp.ClientError as exc:
                last = f"{type(exc).__name__}: {exc}"
        tries = "" if last.startswith("HTTP 4") else f" after {self.retries + 1} attempts"
        raise FetchError(f"{url}: {last}{tries}")

    async def _batch(self, urls: daft.Series) -> list:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, headers=self.headers, connector=connector) as session:
            results = await asyncio.gather(*(self._one(session, u) for u in urls.to_pylist()), return_exceptions=True)
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
    async def fetch(self, urls: daft.Series) -> list:
        """The body of each URL as bytes."""
        return await self._batch(urls)

    @daft.method.batch(return_dtype=DataType.string(), batch_size=1024)
    async def fetch_text(self, urls: daft.Series) -> list:
        """The body of each URL decoded as UTF-8 (undecodable bytes replaced)."""
        return [None if b is None else b.decode("utf-8", errors="replace") for b in await self._batch(urls)]


@daft.func(return_dtype=DataType.struct({S.TITLE: DataType.string(), S.TEXT: DataType.string()}))
def _passage(body: str | None, fmt: str) -> dict | None:
    if body is None:
        return None
    if fmt == "text":
        return {S.TITLE: "", S.TEXT: body}
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise DataError(f"a fetched passage is not JSON ({exc}); use format='text' for plain-text URLs") from exc
    if not isinstance(doc, dict) or "text" not in doc:
        raise DataError(f"a fetched JSON passage has no 'text' field: {body[:80]!r}")
    return {S.TITLE: doc.get("title") or "", S.TEXT: doc.get("text") or ""}


def fetch_corpus(frame: daft.DataFrame, *, url: str = "url", format: str = "text", **fetcher) -> daft.DataFrame:
    """A corpus (``doc_id, title, text``) from ``doc_id, url`` rows; ``format`` "text" or "json" (a REST endpoint
    returning ``{"title": ..., "text": ...}``); ``fetcher`` options as :class:`Fetcher`."""
    if format not in ("text", "json"):
        raise DataError(f"format must be 'text' or 'json', not {format!r}")
    S.require_columns(frame, [S.DOC_ID, url], "URL table")
    body = Fetcher(**fetcher).fetch_text(col(url))
    fetched = frame.select(col(S.DOC_ID), _passage(body, format).alias("_p"))
    return fetched.select(S.DOC_ID, col("_p")[S.TITLE].alias(S.TITLE), col("_p")[S.TEXT].alias(S.TEXT))

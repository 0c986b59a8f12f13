"""Serve a text column's embeddings from the cache, encoding only the misses and committing them as it goes.

1. every row's text is hashed (two native 64-bit hashes); distinct texts are looked up in the cache with a join;
2. the misses (an anti-join) are encoded in chunks of ``cache.commit_rows`` (or fewer: ``chunk_rows``) by
   ``compute``; each chunk is committed to the cache as soon as it is done, so a run killed after hours keeps all but
   the last chunk;
3. the result joins every row back to its vector: ``key, value``.

Hits and misses (distinct texts) are counted in the cache (``daft-retrieval cache stats``). A cache that cannot
store a chunk (read-only, full disk) still gives every row its vector: what it did not keep is joined from memory.

:func:`daft_retrieval.encode.column.encode` calls it with a model's fingerprint and its encoder; anything that maps
texts to vectors can (the tests inject a cheap ``compute``):

    >>> fp, meta = DenseConfig().fingerprint("document")  # doctest: +SKIP
    >>> out = cached_encode(corpus, "doc_id", document_text(), cache=c, fp=fp, meta=meta, compute=f)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import daft
import pyarrow as pa
from daft import Expression, col

from daft_retrieval.cache.fingerprint import HASH_1, HASH_2, text_hashes
from daft_retrieval.cache.store import EmbeddingCache
from daft_retrieval.progress import step
from daft_retrieval.runner import persist
from daft_retrieval.schema import VALUE

__all__ = ["TEXT", "cached_encode"]

TEXT = "_text"
KEYS = [HASH_1, HASH_2]


def _step_label(meta: dict, hits: int) -> str:
    """``encoding documents with all-MiniLM-L6-v2 (120 cached)``: the model's name, not the entry's fingerprint."""
    role = meta.get("role", "texts")
    plural = {"query": "queries", "document": "documents"}.get(role, role)
    what = f"{role} tokens" if meta.get("kind") == "tokens" else plural
    return f"encoding {what} with {meta.get('model', '?')} ({hits:,} cached)"


def cached_encode(
    frame: daft.DataFrame,
    key: str,
    text: Expression,
    *,
    cache: EmbeddingCache,
    fp: str,
    meta: dict,
    compute: Callable[[daft.DataFrame], daft.DataFrame],
    chunk_rows: int | None = None,
) -> daft.DataFrame:
    """``key, value`` for every row of ``frame``; ``compute`` maps ``_h1, _h2, _text`` rows to ``_h1, _h2, value``.
    ``chunk_rows``: encode and commit at most this many texts at a time (fewer than ``cache.commit_rows`` for
    values as big as token matrices: a chunk is held whole while it is committed)."""
    hashed = frame.select(col(key), text.fill_null("").alias(TEXT)).with_columns(
        {e.name(): e for e in text_hashes(col(TEXT))}
    )
    hashed = persist(hashed)
    unique = persist(hashed.groupby(*KEYS).agg(col(TEXT).any_value()))
    cached = cache.lookup(fp)
    misses = unique if cached is None else unique.join(cached.select(*KEYS), on=KEYS, how="anti")
    misses = misses.to_arrow()
    n_unique, n_misses = unique.count_rows(), misses.num_rows
    unstored = []  # chunks a read-only (or full) cache could not keep: served from memory instead
    # one progress line for the misses (the encoder's own counter stays silent inside the step)
    with step(_step_label(meta, n_unique - n_misses), total=n_misses) as progress:
        rows = min(cache.commit_rows, chunk_rows or cache.commit_rows)
        for start in range(0, n_misses, rows):
            chunk = compute(daft.from_arrow(misses.slice(start, rows))).select(*KEYS, VALUE).to_arrow()
            if cache.append(fp, meta, chunk) < chunk.num_rows:
                unstored.append(chunk)
            progress.add(chunk.num_rows)
    cache.count(fp, hits=n_unique - n_misses, misses=n_misses)
    values = cache.lookup(fp)
    if unstored:
        extra = daft.from_arrow(pa.concat_tables(unstored))
        values = extra if values is None else values.concat(extra).groupby(*KEYS).agg(col(VALUE).any_value())
    if values is None:  # an empty frame: nothing to encode, nothing cached
        empty = daft.lit(None).cast(daft.DataType.list(daft.DataType.float32()))
        return hashed.select(col(key), empty.alias(VALUE))
    return hashed.join(values, on=KEYS).select(col(key), col(VALUE))

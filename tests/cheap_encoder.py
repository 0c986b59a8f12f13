"""A cheap, deterministic stand-in for a model, for the cache's crash and concurrency tests: what they test is the
cache (commits, kills, concurrent writers), not the encoder, so they inject this ``compute`` into
:func:`daft_retrieval.cache.cached.cached_encode` instead of loading a model in every process they start.

A text's vector: (its length, its two 64-bit hashes folded to [0, 1)), float32; ``DELAY`` seconds per chunk keeps
a writer running long enough to be killed mid-way.
"""

from __future__ import annotations

import time

import daft
import numpy as np
import pyarrow as pa
from daft import col

from daft_retrieval.cache.cached import TEXT, cached_encode
from daft_retrieval.cache.fingerprint import HASH_1, HASH_2
from daft_retrieval.cache.store import EmbeddingCache
from daft_retrieval.schema import VALUE

FP = "0123456789abcdef"
META = {"kind": "dense", "role": "document", "model": "cheap-test-encoder", "dtype": "float32"}
DIM = 3


def vectors(texts: list[str], h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    lengths = np.array([len(t) for t in texts], dtype=np.float64)
    return np.stack([lengths, (h1 % 1000) / 1000, (h2 % 1000) / 1000], axis=1).astype(np.float32)


def compute(delay: float = 0.0):
    """``_h1, _h2, _text`` rows -> ``_h1, _h2, value`` (a ``compute`` for cached_encode)."""

    def run(texts: daft.DataFrame) -> daft.DataFrame:
        table = texts.to_arrow()
        h1, h2 = (table.column(c).to_numpy().astype(np.uint64) for c in (HASH_1, HASH_2))
        values = vectors(table.column(TEXT).to_pylist(), h1, h2)
        time.sleep(delay)
        value = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), DIM).cast(pa.list_(pa.float32()))
        return daft.from_arrow(pa.table({HASH_1: table.column(HASH_1), HASH_2: table.column(HASH_2), VALUE: value}))

    return run


def cheap_encode(frame: daft.DataFrame, cache: EmbeddingCache, *, delay: float = 0.0) -> daft.DataFrame:
    """``id, value`` of ``frame``'s ``text`` column through ``cache``, encoded by :func:`compute`."""
    return cached_encode(frame, "id", col("text"), cache=cache, fp=FP, meta=META, compute=compute(delay))

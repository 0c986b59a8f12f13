"""Encode a text column with any model descriptor: ``key`` and the vectors, through the embedding cache.

One function for every kind: a :class:`~daft_retrieval.encode.dense.DenseConfig` gives ``key, embedding``
(``Embedding[float32, dim]``), a :class:`~daft_retrieval.encode.tokens.TokenConfig` ``key, tokens`` (flat token
matrices), a :class:`~daft_retrieval.encode.sparse.SparseConfig` ``key, sparse`` (``list<struct{term, weight}>``).
``role`` ("document" or "query") picks the prompt or markers. With a ``cache``
(:class:`~daft_retrieval.cache.store.EmbeddingCache`) only the texts it lacks for the model's fingerprint
(:meth:`~daft_retrieval.encode.descriptor.ModelConfig.fingerprint`) are encoded, and committed to it as they are.

    >>> queries = daft.from_pydict({"query_id": ["q1"], "text": ["what is daft"]})
    >>> encode(queries, "query_id", daft.col("text"), DenseConfig(), role="query").schema()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import daft
from daft import Expression, col

from daft_retrieval.cache.cached import TEXT, cached_encode
from daft_retrieval.encode.descriptor import ROLES, ModelConfig
from daft_retrieval.errors import DataError
from daft_retrieval.schema import VALUE

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["encode", "encoder_for"]


def encoder_for(model: ModelConfig):
    """The :class:`~daft_retrieval.encode.descriptor.Encoder` of ``model``'s kind (dense, tokens, sparse)."""
    from daft_retrieval.encode.dense import DenseConfig, DenseEncoder
    from daft_retrieval.encode.sparse import SparseConfig, SparseEncoder
    from daft_retrieval.encode.tokens import TokenConfig, TokenEncoder

    encoders = {DenseConfig: DenseEncoder, TokenConfig: TokenEncoder, SparseConfig: SparseEncoder}
    if type(model) in encoders:
        return encoders[type(model)](model)
    raise DataError(f"encode needs a dense, token or sparse model descriptor, not {model!r}")


def encode(
    frame: daft.DataFrame,
    key: str,
    text: Expression,
    model: ModelConfig,
    *,
    role: str,
    cache: EmbeddingCache | None = None,
) -> daft.DataFrame:
    """``key`` and the encoded column of ``model``'s kind for every row of ``frame`` (the module doc has the
    columns); ``text``: the expression of the text to encode."""
    if role not in ROLES:
        raise DataError(f"role must be 'document' or 'query', not {role!r}")
    encoder = encoder_for(model)
    method = encoder.method(role)

    def compute(texts: daft.DataFrame) -> daft.DataFrame:
        if encoder.longest_first:  # each Daft batch holds texts of similar length: less padding
            texts = texts.sort(col(TEXT).length(), desc=True)
        value = encoder.stored(method(col(TEXT)))
        return texts.select(*[c for c in texts.column_names if c != TEXT], value.alias(VALUE))

    if cache is None:
        out = compute(frame.select(col(key), text.alias(TEXT)))
    else:
        fp, meta = model.fingerprint(role)
        out = cached_encode(
            frame, key, text, cache=cache, fp=fp, meta=meta, compute=compute, chunk_rows=encoder.chunk_rows
        )
    return encoder.output(out.select(col(key), col(VALUE).alias(encoder.column)))

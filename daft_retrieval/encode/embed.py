"""Embed the texts of a frame into an ``Embedding[float32, dim]`` column with a :mod:`dense` encoder."""

from __future__ import annotations

import daft
from daft import DataType, Expression, col

from daft_retrieval import schema as S
from daft_retrieval.cache.cached import encode_column
from daft_retrieval.cache.store import VALUE, EmbeddingCache
from daft_retrieval.encode.dense import DenseConfig, dense_encoder
from daft_retrieval.errors import DataError
from daft_retrieval.runner import persist

__all__ = ["EMBEDDING", "document_text", "embed_texts"]

EMBEDDING = "embedding"


def document_text() -> Expression:
    """``title + " " + text``, stripped: the BEIR/MTEB convention for a passage's text.

    >>> daft.from_pydict({"title": ["T"], "text": ["x"]}).select(document_text()).to_pydict()
    {'document': ['T x']}
    """
    text = daft.functions.concat_ws(" ", col(S.TITLE).fill_null(""), col(S.TEXT).fill_null(""))
    return text.strip().alias("document")


def embed_texts(
    frame: daft.DataFrame,
    key: str,
    text: Expression,
    config: DenseConfig,
    *,
    role: str,
    cache: EmbeddingCache | None = None,
) -> daft.DataFrame:
    """Materialise ``key, embedding`` for ``frame``: ``role`` "document" or "query" picks the prompt.

    With a ``cache`` (:class:`~daft_retrieval.cache.store.EmbeddingCache`), only texts it lacks for this model
    fingerprint are encoded (and committed to it); the rest are read back.

    >>> queries = daft.from_pydict({"query_id": ["q1"], "text": ["what is daft"]})
    >>> embed_texts(queries, "query_id", daft.col("text"), DenseConfig(), role="query").schema()  # doctest: +SKIP
    """
    if role not in ("document", "query"):
        raise DataError(f"role must be 'document' or 'query', not {role!r}")
    encoder = dense_encoder(config)
    method = encoder.embed_documents if role == "document" else encoder.embed_queries
    # longest texts first: each Daft batch holds texts of similar length (less padding, and a slow batch shows
    # up at once rather than at the end); sentence-transformers sorts within each batch too
    out = persist(
        encode_column(frame, key, text, method, kind="dense", config=config, role=role, cache=cache, longest_first=True)
    )
    out = out.select(col(key), col(VALUE).alias(EMBEDDING))
    first = out.where(col(EMBEDDING).not_null()).limit(1).to_pydict()[EMBEDDING]
    if not first:
        return out.with_column(EMBEDDING, col(EMBEDDING).cast(DataType.list(DataType.float32())))
    dim = len(first[0])
    return persist(out.with_column(EMBEDDING, col(EMBEDDING).cast(DataType.embedding(DataType.float32(), dim))))

"""Rerank a run's top ``depth`` per query: cross-encoder, bi-encoder or late interaction (MaxSim).

The candidates are the run's rows with rank <= ``depth``, joined with the query texts and the corpus passages
(``title + " " + text``); each pair gets a new score and the result is a run frame (``query_id, doc_id, score,
rank``, trec_eval order) holding those candidates only.

- ``"cross"``: a sentence-transformers ``CrossEncoder`` scores each pair (:class:`CrossEncoderScorer`);
- ``"bi"``: another dense model embeds the queries and the candidate passages; score = cosine
  (:class:`~daft_retrieval.encode.dense.DenseEncoder`); each text is embedded once, however many pairs hold it;
- ``"late"``: token embeddings of both sides (:class:`~daft_retrieval.encode.tokens.TokenEncoder`); score = MaxSim.

    >>> first = bm25_search(ds.corpus, ds.queries, k=100)  # doctest: +SKIP
    >>> run = rerank(first, ds.queries, ds.corpus, method="bi", model="all-mpnet-base-v2", depth=100)  # doctest: +SKIP
    >>> cross = CrossConfig("cross-encoder/ms-marco-MiniLM-L6-v2", fp16=True)
    >>> run = rerank(first, ds.queries, ds.corpus, model=cross)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import daft
from daft import DataType, Window, col
from daft.functions import row_number, to_struct

from daft_retrieval import registry
from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.encode.descriptor import ModelConfig
from daft_retrieval.encode.tokens import TokenConfig
from daft_retrieval.errors import DataError
from daft_retrieval.reranking.cross import CrossConfig
from daft_retrieval.run import rank_run
from daft_retrieval.runner import persist
from daft_retrieval.score.maxsim import unflatten

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["RERANKERS", "candidates", "rerank"]

RERANKERS = tuple(registry.RERANKERS.names())  # ("cross", "bi", "late")
_CONFIGS: dict[str, type[ModelConfig]] = {"cross": CrossConfig, "bi": DenseConfig, "late": TokenConfig}
QUERY, DOCUMENT = "query", "document"
_Q, _D = "_query_vector", "_document_vector"
_QIDS, _HITS, _GROUP = "_query_ids", "_hits", "_group"


def candidates(run: daft.DataFrame, queries: daft.DataFrame, corpus: daft.DataFrame, depth: int) -> daft.DataFrame:
    """``query_id, doc_id, query, document``: the run's top ``depth`` per query with both texts."""
    if depth < 1:
        raise DataError(f"rerank depth must be >= 1, not {depth}")
    S.require_columns(run, [S.QUERY_ID, S.DOC_ID, S.RANK], "run")
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries (rerank(run, queries, corpus, ...))")
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus (rerank(run, queries, corpus, ...))")
    top = run.where(col(S.RANK) <= depth).select(S.QUERY_ID, S.DOC_ID)
    texts = queries.select(S.QUERY_ID, col(S.TEXT).alias(QUERY))
    docs = corpus.select(S.DOC_ID, S.document_text().alias(DOCUMENT))
    return top.join(texts, on=S.QUERY_ID).join(docs, on=S.DOC_ID)


def rerank(
    run: daft.DataFrame,
    queries: daft.DataFrame,
    corpus: daft.DataFrame,
    *,
    method: str = "cross",
    model: str | ModelConfig,
    depth: int = 100,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> daft.DataFrame:
    """The top ``depth`` of ``run`` per query rescored by ``model`` under ``method`` (see the module doc).

    ``model``: a spec, or the descriptor of the method's kind (:class:`~daft_retrieval.reranking.cross.CrossConfig`,
    :class:`~daft_retrieval.encode.dense.DenseConfig` or :class:`~daft_retrieval.encode.tokens.TokenConfig`);
    ``options``: its fields. ``cache`` serves the bi-encoder's and late interaction's embeddings (a cross-encoder
    scores pairs: no cache).
    """
    if method not in RERANKERS:
        raise DataError(f"unknown reranker {method!r}: expected one of {', '.join(RERANKERS)}")
    if not isinstance(model, ModelConfig) and (not isinstance(model, str) or not model):
        raise DataError(f"rerank needs model= (a local folder, an offline short name or a hub id), not {model!r}")
    config = _CONFIGS[method].of(model, **options)
    pairs = persist(candidates(run, queries, corpus, depth))
    if method == "cross":
        scored = _cross_encoder(pairs, config)
    elif method == "bi":
        scored = _bi_encoder(pairs, config, cache)
    else:
        scored = _late_interaction(pairs, config, cache)
    return persist(rank_run(scored))


def _cross_encoder(pairs: daft.DataFrame, config: CrossConfig) -> daft.DataFrame:
    """Each pair scored in a fixed group: pairs sorted by (query_id, doc_id) and cut every ``batch_size`` rows,
    each group one model batch (:meth:`~daft_retrieval.reranking.cross.CrossEncoderScorer.score_groups`), so the
    scores are the same bits however Daft partitions the pairs (alone or in another batch, a pair's padded
    length, and so its score's last bits, change)."""
    from daft_retrieval.reranking.cross import POSITION, CrossEncoderScorer  # its fields: QUERY, ...

    scorer = CrossEncoderScorer(config)
    size = config.batch_size
    position = row_number().over(Window().order_by(S.QUERY_ID, S.DOC_ID)) - 1
    numbered = pairs.with_column(POSITION, position).with_column(_GROUP, col(POSITION) // size)
    fields = to_struct(col(POSITION), col(S.QUERY_ID), col(S.DOC_ID), col(QUERY), col(DOCUMENT))
    groups = numbered.groupby(_GROUP).agg(fields.list_agg().alias(_HITS))
    hits = groups.select(scorer.score_groups(col(_HITS)).alias(_HITS)).explode(_HITS)
    return hits.select(*[col(_HITS)[c].alias(c) for c in (S.QUERY_ID, S.DOC_ID, S.SCORE)])


def _unique_texts(pairs: daft.DataFrame, key: str, text: str) -> daft.DataFrame:
    return pairs.select(key, text).distinct()


def _bi_encoder(pairs: daft.DataFrame, config: DenseConfig, cache) -> daft.DataFrame:
    """Dot product of the embeddings: the cosine, as the model normalises them unless ``normalize=False``."""
    queries = _unique_texts(pairs, S.QUERY_ID, QUERY)
    docs = _unique_texts(pairs, S.DOC_ID, DOCUMENT)
    query_vectors = encode(queries, S.QUERY_ID, col(QUERY), config, role="query", cache=cache)
    doc_vectors = encode(docs, S.DOC_ID, col(DOCUMENT), config, role="document", cache=cache)
    joined = pairs.select(S.QUERY_ID, S.DOC_ID)
    joined = joined.join(query_vectors.select(S.QUERY_ID, col(S.EMBEDDING).alias(_Q)), on=S.QUERY_ID)
    joined = joined.join(doc_vectors.select(S.DOC_ID, col(S.EMBEDDING).alias(_D)), on=S.DOC_ID)
    score = daft.functions.dot_product(col(_Q), col(_D)).cast(DataType.float64())
    return joined.select(S.QUERY_ID, S.DOC_ID, score.alias(S.SCORE))


def _late_interaction(pairs: daft.DataFrame, config: TokenConfig, cache) -> daft.DataFrame:
    """MaxSim of each pair, document-major: every candidate passage is encoded once and scored against the
    (small) token matrices of the queries that retrieved it, so no token matrix is copied per pair."""
    from daft_retrieval.reranking.maxsim import MaxSimScorer

    dim = config.dimensions()
    queries = encode(_unique_texts(pairs, S.QUERY_ID, QUERY), S.QUERY_ID, col(QUERY), config, role="query", cache=cache)
    q = queries.to_arrow()
    matrix, starts = unflatten(q.column(S.TOKENS), dim)
    query_tokens = {qid: matrix[starts[i] : starts[i + 1]] for i, qid in enumerate(q.column(S.QUERY_ID).to_pylist())}
    docs = encode(
        _unique_texts(pairs, S.DOC_ID, DOCUMENT), S.DOC_ID, col(DOCUMENT), config, role="document", cache=cache
    )
    by_doc = pairs.groupby(S.DOC_ID).agg(col(S.QUERY_ID).list_agg().alias(_QIDS)).join(docs, on=S.DOC_ID)
    scorer = MaxSimScorer(query_tokens, dim)
    hits = by_doc.select(S.DOC_ID, scorer.score(col(S.TOKENS), col(_QIDS)).alias(_HITS))
    flat = hits.explode(_HITS)
    return flat.select(col(_HITS)[S.QUERY_ID].alias(S.QUERY_ID), S.DOC_ID, col(_HITS)[S.SCORE].alias(S.SCORE))

"""daft_retrieval: a retrieval-evaluation workbench on the Daft dataframe engine.

Every step takes and returns Daft DataFrames with fixed columns (:mod:`daft_retrieval.schema`):
corpus ``doc_id, title, text``; queries ``query_id, text``; qrels ``query_id, doc_id, relevance``; and the run
``query_id, doc_id, score, rank`` that every retriever, fusion and reranker returns.

    >>> import daft_retrieval as dr
    >>> ds = dr.load_beir("data/demo")
    >>> run = dr.dense_search(ds.corpus, ds.queries, k=100)              # doctest: +SKIP
    >>> dr.evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate      # doctest: +SKIP

Names load on first use, so ``import daft_retrieval`` (and the CLI's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DataError": "daft_retrieval.errors",
    "DataWarning": "daft_retrieval.errors",
    "RemoteError": "daft_retrieval.errors",
    "ArchiveError": "daft_retrieval.errors",
    "OutputError": "daft_retrieval.errors",
    "CacheError": "daft_retrieval.errors",
    "Dataset": "daft_retrieval.load",
    "load_beir": "daft_retrieval.load",
    "read_corpus": "daft_retrieval.load",
    "read_queries": "daft_retrieval.load",
    "read_qrels": "daft_retrieval.load",
    "read_run": "daft_retrieval.load",
    "write_run": "daft_retrieval.load",
    "write_qrels": "daft_retrieval.load",
    "evaluate": "daft_retrieval.evaluation",
    "Evaluation": "daft_retrieval.evaluation",
    "parse_measure": "daft_retrieval.evaluation",
    "overlap": "daft_retrieval.evaluation",
    "rank_run": "daft_retrieval.run",
    "DenseConfig": "daft_retrieval.encode.dense",
    "DenseEncoder": "daft_retrieval.encode.dense",
    "dense_search": "daft_retrieval.retrieve.dense",
    "build_dense_index": "daft_retrieval.retrieve.dense",
    "explore": "daft_retrieval.report.explore",
    "Tokenizer": "daft_retrieval.text.tokenize",
    "BM25Index": "daft_retrieval.index.bm25",
    "bm25_search": "daft_retrieval.retrieve.bm25",
    "SparseEncoder": "daft_retrieval.encode.sparse",
    "SparseConfig": "daft_retrieval.encode.sparse",
    "TokenConfig": "daft_retrieval.encode.tokens",
    "CrossConfig": "daft_retrieval.reranking.cross",
    "CrossEncoderScorer": "daft_retrieval.reranking.cross",
    "splade_search": "daft_retrieval.retrieve.splade",
    "rrf": "daft_retrieval.fusion",
    "comb_sum": "daft_retrieval.fusion",
    "comb_mnz": "daft_retrieval.fusion",
    "weighted_sum": "daft_retrieval.fusion",
    "fuse": "daft_retrieval.fusion",
    "rerank": "daft_retrieval.reranking",
    "late_search": "daft_retrieval.retrieve.late",
    "Chunking": "daft_retrieval.text.chunk",
    "chunked_search": "daft_retrieval.retrieve.chunked",
    "TokenEncoder": "daft_retrieval.encode.tokens",
    "EmbeddingCache": "daft_retrieval.cache",
    "compare": "daft_retrieval.report.compare",
    "fetch_corpus": "daft_retrieval.load.fetch",
    "Fetcher": "daft_retrieval.load.fetch",
    "use_ray": "daft_retrieval.runner",
    "Experiment": "daft_retrieval.experiment",
    "Retrieve": "daft_retrieval.experiment",
    "Fuse": "daft_retrieval.experiment",
    "Rerank": "daft_retrieval.experiment",
    "RunStore": "daft_retrieval.experiment",
    "read_experiment": "daft_retrieval.experiment",
    "ray_runner": "daft_retrieval.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'daft_retrieval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

"""Scoring functions: BM25 variants as small pure functions selected by name."""

from daft_retrieval.score.bm25 import VARIANTS, bm25_weight

__all__ = ["VARIANTS", "bm25_weight"]

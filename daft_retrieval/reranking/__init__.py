"""Rerankers: rescore a run's top N with a cross-encoder, a second bi-encoder, or late interaction (MaxSim)."""

from daft_retrieval.reranking.rerank import RERANKERS, candidates, rerank

__all__ = ["RERANKERS", "candidates", "rerank"]

"""Measures: parse ``nDCG@10``-style strings into :class:`Measure` values; each family in its own module."""

from daft_retrieval.evaluation.measures import ap, ndcg, precision, recall, rprec, rr, success  # noqa: F401 (register)
from daft_retrieval.evaluation.measures.base import REGISTRY, Measure, parse_measure, parse_measures

__all__ = ["REGISTRY", "Measure", "parse_measure", "parse_measures"]

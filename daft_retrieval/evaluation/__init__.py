"""Evaluation: trec_eval-exact measures computed as a Daft aggregation."""

from daft_retrieval.evaluation.compute import Evaluation, evaluate
from daft_retrieval.evaluation.measures import Measure, parse_measure, parse_measures
from daft_retrieval.evaluation.overlap import overlap

__all__ = ["Evaluation", "Measure", "evaluate", "overlap", "parse_measure", "parse_measures"]

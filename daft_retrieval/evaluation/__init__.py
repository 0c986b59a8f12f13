"""Evaluation: trec_eval-exact measures computed as a Daft aggregation."""

from daft_retrieval.evaluation.compute import Evaluation, evaluate
from daft_retrieval.evaluation.measures import Measure, parse_measure, parse_measures

__all__ = ["Evaluation", "Measure", "evaluate", "parse_measure", "parse_measures"]

"""Measures without a trec_eval counterpart (RBP, ERR, nDCG's other gains) against plain-Python references
written from the published formulas, on the 200 random cases of test_metrics_parity in one batched evaluation."""

from __future__ import annotations

import math
import random

import pytest

from daft_retrieval.evaluation import evaluate, parse_measure
from tests.test_metrics_parity import SEEDS, _case_query, random_case, to_frames


def ranking(run: dict[str, float]) -> list[str]:
    """trec_eval's order: score descending, then doc id descending."""
    return [d for d, _ in sorted(run.items(), key=lambda x: (x[1], x[0]), reverse=True)]


def rbp(docs: list[str], judgements: dict[str, int], p: float, rel: int, k: int | None) -> float:
    """Moffat & Zobel (2008): (1 - p) * sum_i [rel_i >= rel] p^(i-1)."""
    top = docs if k is None else docs[:k]
    return (1 - p) * sum(p ** (i - 1) for i, d in enumerate(top, 1) if judgements.get(d, 0) >= rel)


def err(docs: list[str], judgements: dict[str, int], k: int, gmax: int) -> float:
    """Chapelle et al. (2009): sum_r 1/r R_r prod_{i<r} (1 - R_i), R = (2^g - 1) / 2^gmax."""
    total, stay = 0.0, 1.0
    for r, d in enumerate(docs[:k], 1):
        g = min(max(judgements.get(d, 0), 0), gmax)
        stop = (2**g - 1) / 2**gmax
        total += stay * stop / r
        stay *= 1 - stop
    return total


REFERENCES = {
    "RBP": lambda docs, j: rbp(docs, j, 0.8, 1, None),
    "RBP(p=0.5)": lambda docs, j: rbp(docs, j, 0.5, 1, None),
    "RBP(rel=2,p=0.95)@10": lambda docs, j: rbp(docs, j, 0.95, 2, 10),
    "RBP@3": lambda docs, j: rbp(docs, j, 0.8, 1, 3),
    "ERR@1": lambda docs, j: err(docs, j, 1, 4),
    "ERR@10": lambda docs, j: err(docs, j, 10, 4),
    "ERR(gmax=3)@20": lambda docs, j: err(docs, j, 20, 3),
    "ERR(gmax=2)@5": lambda docs, j: err(docs, j, 5, 2),  # grade 3 counts as 2
}
MEASURES = list(REFERENCES)


def test_measure_strings_round_trip():
    for text in MEASURES:
        assert str(parse_measure(text)) == text
    assert str(parse_measure("RBP(p=0.8)")) == "RBP"  # the default is left out
    assert str(parse_measure("ERR(gmax=4)@10")) == "ERR@10"
    assert str(parse_measure("RBP(p=0.95, rel=2)@10")) == "RBP(rel=2,p=0.95)@10"


@pytest.fixture(scope="module")
def batch():
    cases = {seed: random_case(random.Random(seed)) for seed in SEEDS}
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    result = evaluate(*to_frames(run, qrels), MEASURES)
    per_query = {(r["query_id"], r["measure"]): r["value"] for r in result.per_query.to_pylist()}
    return run, qrels, result, per_query


def test_per_query_values_and_means_match_the_references(batch):
    run, qrels, result, per_query = batch
    checked = 0
    for m, reference in REFERENCES.items():
        expected = {q: reference(ranking(run.get(q, {})), j) for q, j in qrels.items()}
        for q, value in expected.items():
            assert math.isclose(per_query[(q, m)], value, abs_tol=1e-12), (m, q)
            checked += 1
        assert math.isclose(result.aggregate[m], math.fsum(expected.values()) / len(expected), abs_tol=1e-12), m
    assert checked > 8 * 1000
    assert any(per_query[(q, "ERR(gmax=2)@5")] > 0 for q in qrels)

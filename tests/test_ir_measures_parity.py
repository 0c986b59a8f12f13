"""The measures ir_measures defines beside trec_eval's (Judged@k, RR@k, nDCG's custom gains) and the ones both have
(Set*, Bpref, infAP, IPrec, the counts, judged_only), equal to the ir_measures package per query, written in its
syntax, on 200 random runs with negative judgements, unjudged documents and queries missing on either side.

The runs' scores are made distinct first: ir_measures breaks score ties by doc id ascending where trec_eval (and we)
break them descending, so on tied scores the two orders differ by definition (README, Measures).
"""

from __future__ import annotations

import json
import math
import random

import pytest

from daft_retrieval.evaluation import evaluate
from tests.conftest import python_json
from tests.test_metrics_parity import random_case, to_frames

ir_measures = pytest.importorskip("ir_measures", reason="ir-measures is a dev dependency")

MEASURES = [
    "Judged@1",
    "Judged@5",
    "Judged@20",
    "RR@3",
    "RR@10",
    "SetP",
    "SetR",
    "SetF",
    "Bpref",
    "IPrec@0.3",
    "IPrec@1.0",
    "NumRet",
    "NumRel",
    "NumRelRet",
    "nDCG(gains={0:0,1:1,2:3,3:7})@10",
    "nDCG(gains={0:0,1:2,2:1,3:5})",
    "P(rel=2)@5",
    "infAP",
    "nDCG(judged_only=True)@10",
    "P(judged_only=True)@5",
    "AP(judged_only=True)",
    "RR(judged_only=True)",
    "NumQ",
]
SEEDS = range(200)


def distinct_scores(run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The same rankings (trec_eval order: score desc, doc id desc) with every score distinct."""
    out = {}
    for q, ds in run.items():
        ranked = sorted(ds.items(), key=lambda x: (x[1], x[0]), reverse=True)
        out[q] = {d: float(len(ranked) - i) for i, (d, _) in enumerate(ranked)}
    return out


def _ir_measures(qrels: dict, run: dict, folder, measures: list[str] = MEASURES) -> dict:
    """ir_measures' values, ``{(query, measure string): value}``, computed in a fresh interpreter: trec_eval (under
    pytrec_eval) keeps settings such as -M and -J in process-wide tables that other tests of this process change."""
    path = folder / "case.json"
    path.write_text(json.dumps({"qrels": qrels, "run": run, "measures": measures}))
    code = (
        "import json, sys, ir_measures\n"
        "case = json.load(open(sys.argv[1]))\n"
        "rows = []\n"
        "for text in case['measures']:\n"
        "    m = ir_measures.parse_measure(text)\n"
        # trec_eval's provider wherever it has the measure (the default pipeline's choice can change between runs)
        "    chosen = [p for p in (ir_measures.pytrec_eval, ir_measures.judged) if p.supports(m)]\n"
        "    provider = chosen[0] if chosen else ir_measures\n"
        "    for r in provider.iter_calc([m], case['qrels'], case['run']):\n"
        "        rows.append([r.query_id, str(r.measure), r.value])\n"
        "print(json.dumps(rows))\n"
    )
    return {(q, m): v for q, m, v in python_json(["-c", code, str(path)], timeout=300)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    cases = {}
    for seed in SEEDS:
        run, qrels = random_case(random.Random(seed))
        cases[seed] = (distinct_scores(run), qrels)
    run = {f"s{s}/{q}": ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {f"s{s}/{q}": ds for s, (_, j) in cases.items() for q, ds in j.items()}
    ours = evaluate(*to_frames(run, qrels), MEASURES)  # every judged query: what ir_measures reports is a subset
    values = {(r["query_id"], r["measure"]): r["value"] for r in ours.per_query.to_pylist()}
    theirs = _ir_measures(qrels, run, tmp_path_factory.mktemp("ir-measures"))
    # a query whose ranking is empty: pytrec_eval (under ir_measures) reports zeros even for NumRel; trec_eval -c
    # (and we) evaluate it on an empty ranking, with its real NumRel: those queries are left out here
    theirs = {k: v for k, v in theirs.items() if run.get(k[0])}
    return values, theirs, {str(ir_measures.parse_measure(m)): m for m in MEASURES}


def test_every_measure_equals_ir_measures_per_query(batch):
    ours, theirs, names = batch
    assert theirs, "ir_measures computed nothing"
    checked = {m: 0 for m in MEASURES}
    for (query, their_name), value in theirs.items():
        measure = names[their_name]
        assert math.isclose(ours[(query, measure)], value, abs_tol=1e-9), (
            query,
            measure,
            ours[(query, measure)],
            value,
        )
        checked[measure] += 1
    assert all(n > 100 for n in checked.values()), checked  # every measure on many queries


def test_err_equals_gdeval_per_query(batch, tmp_path):
    """ERR@k against gdeval (ir_measures' ERR provider, the TREC Web track's perl script): numeric query ids and
    no negative grade, as its reader requires (a negative grade gains 0 in ERR, as no judgement does)."""
    cases = [random_case(random.Random(seed)) for seed in range(60)]
    run, qrels = {}, {}
    for i, (r, j) in enumerate(cases):
        for n, q in enumerate(sorted(j)):
            query = str(i * 1000 + n)
            qrels[query] = {d: g for d, g in j[q].items() if g >= 0}
            if r.get(q):
                run[query] = distinct_scores({q: r[q]})[q]
    qrels = {q: ds for q, ds in qrels.items() if ds}
    measures = ["ERR@10", "ERR@20", "ERR@5"]
    ours = evaluate(*to_frames(run, qrels), measures)
    values = {(r["query_id"], r["measure"]): r["value"] for r in ours.per_query.to_pylist()}
    theirs = _ir_measures(qrels, run, tmp_path, measures)
    assert len(theirs) > 300, len(theirs)
    assert sum(v > 0 for v in theirs.values()) > 200  # most with a relevant document in the top k
    for (query, measure), value in theirs.items():
        # gdeval prints 5 decimals: ours rounds to its value (within half the last digit)
        assert abs(values[(query, measure)] - value) <= 5e-6 + 1e-12, (query, measure, values[(query, measure)], value)

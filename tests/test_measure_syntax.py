"""Measure strings in ir_measures' syntax, ``Name(param=value, ...)@cutoff``: canonical, round-tripping, hashable
and ordered; a bad parameter is a DataError naming the measure and the fix."""

from __future__ import annotations

import pytest

from daft_retrieval.errors import DataError
from daft_retrieval.evaluation import Measure, parse_measure, parse_measures

CANONICAL = ["nDCG@10", "P(rel=2)@5", "RR", "AP(rel=3)", "R-Prec", "Bpref(rel=2)", "Judged@10", "IPrec@0.1", "11pt"]
CANONICAL += ["nDCG(dcg='exp-log2')@10", "nDCG(gains={0:0,1:1,2:3})@10", "nDCG(gains={1:0.5,2:2.0})"]
CANONICAL += ["IPrec(rounding='nearest')@0.3", "11pt(rel=2,rounding='nearest')"]
CANONICAL += ["RBP-Res", "RBP-Res(p=0.5)@10", "SetF(beta=0.5)", "SetF(rel=2,beta=2.0)", "infAP", "infAP(rel=2)"]
CANONICAL += ["nDCG(judged_only=True)@10", "nDCG(dcg='exp-log2',judged_only=True)", "P(rel=2,judged_only=True)@5"]
CANONICAL += ["AP(judged_only=True)", "RR(judged_only=True)@10", "MRR(judged_only=True)@10", "R(judged_only=True)@100"]
CANONICAL += ["R-Prec(judged_only=True)", "Success(judged_only=True)@1", "SetP(judged_only=True)"]
CANONICAL += ["SetF(beta=0.5,judged_only=True)", "IPrec(rounding='nearest',judged_only=True)@0.3"]
CANONICAL += ["GMAP", "RBP", "RBP(p=0.5)@10", "RBP(rel=2,p=0.9)", "ERR@20", "ERR(gmax=3)@10"]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_strings_round_trip(text):
    m = parse_measure(text)
    assert str(m) == text
    assert parse_measure(str(m)) == m and hash(parse_measure(text)) == hash(m)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("P( rel = 2 )@5", "P(rel=2)@5"),
        ("ndcg_cut_10", "nDCG@10"),
        ("map", "AP"),
        ("P(rel=1)@5", "P(rel=1)@5"),
        ("iprec_at_recall_0.10", "IPrec@0.1"),
        ("IPrec@1", "IPrec@1.0"),
        ("11pt_avg", "11pt"),
        ("IPrec(rounding='up')@0.3", "IPrec@0.3"),
        ("nDCG(dcg='log2')@10", "nDCG@10"),
        ('nDCG(dcg="exp-log2")@10', "nDCG(dcg='exp-log2')@10"),
        ("nDCG(gains={2:3, 0:0, 1:1})@10", "nDCG(gains={0:0,1:1,2:3})@10"),
    ],
)
def test_other_spellings_parse_to_the_canonical_string(text, canonical):
    assert str(parse_measure(text)) == canonical


def test_measures_are_ordered_even_with_and_without_a_cutoff():
    ms = [parse_measure(t) for t in ["RR", "RR@5", "P@5", "P(rel=2)@5", "AP", "AP@10"]]
    assert [str(m) for m in sorted(ms)] == ["AP@10", "AP", "P(rel=2)@5", "P@5", "RR@5", "RR"]
    assert len({*ms, *ms}) == len(ms)
    assert parse_measures(["P@5", "P@5", Measure("P", 5)]) == [Measure("P", 5)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P(rel=0)@5", r"'P\(rel=0\)@5': rel= must be an integer >= 1, e.g. P\(rel=2\)"),
        ("P(rel=1.5)@5", "rel= must be an integer"),
        ("P(foo=1)@5", "'P\\(foo=1\\)@5': unknown parameter foo; P takes rel"),
        ("nDCG(rel=2)@5", "nDCG takes no rel="),
        ("P(2)@5", "cannot read the parameters .* name=value"),
        ("P(rel=)@5", "cannot read the parameters"),
        ("P(rel=__import__('os'))@5", "cannot read the parameters"),
        ("P@0", "the cutoff must be a rank >= 1"),
        ("P@1.5", "the cutoff must be a rank >= 1"),
        ("Bpref@5", "takes no cutoff; write Bpref"),
        ("P", "needs a cutoff, e.g. P@10"),
        ("Nope@3", "unknown measure 'Nope@3'"),
        ("IPrec", "needs a cutoff, e.g. IPrec@0.5"),
        ("IPrec@1.5", "a recall level from 0.0 to 1.0"),
        ("11pt@3", "takes no cutoff"),
        ("RBP(p=1.5)", r"'RBP\(p=1.5\)': p=1.5 is not a persistence between 0 and 1 \(exclusive\), e.g. RBP\(p=0.5\)"),
        ("RBP(p='x')", "p='x' is not a persistence"),
        ("RBP(q=0.5)", "unknown parameter q; RBP takes rel, p"),
        ("ERR(gmax=0)@10", "gmax=0 is not the top relevance grade, an integer >= 1"),
        ("ERR(rel=2)@10", "ERR takes no rel="),
        ("SetF(beta=0)", "beta=0 is not a number > 0"),
        ("nDCG(judged_only=1)@10", r"judged_only=1 is not True or False, e.g. nDCG\(judged_only=True\)@10"),
        ("Bpref(judged_only=True)", "unknown parameter judged_only; Bpref takes rel"),
        ("infAP@10", "takes no cutoff"),
        ("SetF(beta=True)", "beta=True is not a number > 0"),
        ("ERR", "needs a cutoff"),
        ("IPrec(rounding='down')@0.3", "rounding='down' is not one of 'up' .trec_eval 9, pytrec_eval. and 'nearest'"),
        ("nDCG(dcg='exp')@10", "dcg='exp' is not one of 'log2' \\(linear gain\\) and 'exp-log2'"),
        ("nDCG(gains={0:1})@10", "levels <= 0 gain 0"),
        ("nDCG(gains=[1])@10", "is not a dict relevance level -> gain"),
        ("nDCG(gains={1:1},dcg='exp-log2')@10", "give dcg= or gains=, not both"),
    ],
)
def test_bad_measures_say_what_and_how_to_fix(text, message):
    with pytest.raises(DataError, match=message):
        parse_measure(text)


def test_judged_only_false_is_the_measure_itself():
    assert parse_measure("nDCG(judged_only=False)@10") == parse_measure("nDCG@10")
    assert parse_measure("P(judged_only=True)@5").judged_only and not parse_measure("P@5").judged_only

"""compare() over the same queries for every system, and where searches build their temporary indexes."""

from __future__ import annotations

import json
import os

import daft
import pytest
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.evaluation import evaluate
from daft_retrieval.load import load_beir
from daft_retrieval.paths import SCRATCH, scratch_directory
from daft_retrieval.report.compare import SYSTEM, compare
from daft_retrieval.retrieve.bm25 import bm25_search
from daft_retrieval.runner import materialize
from tests.conftest import cli_process as cli

MEASURES = ["nDCG@10", "R@100"]


@pytest.fixture(scope="module")
def demo_runs():
    from tests.conftest import ROOT

    ds = load_beir(str(ROOT / "data" / "demo"))
    full = materialize(bm25_search(ds.corpus, ds.queries, k=100))
    answered = sorted(set(full.to_pydict()[S.QUERY_ID]))[::2]  # a run that answers every other query
    half = materialize(full.where(col(S.QUERY_ID).is_in(answered)))
    return ds, full, half, answered


def test_compare_counts_unanswered_queries_as_zero_by_default(demo_runs):
    ds, full, half, _ = demo_runs
    result = compare({"full": full, "half": half}, ds.qrels, MEASURES, trials=200)
    assert result.table["half"]["R@100"] < result.table["full"]["R@100"]
    per_query = result.per_query.to_pydict()
    queries = {s: {q for q, s2 in zip(per_query[S.QUERY_ID], per_query[SYSTEM]) if s2 == s} for s in ("full", "half")}
    assert queries["full"] == queries["half"] == set(ds.qrels.to_pydict()[S.QUERY_ID])


def test_compare_on_queries_in_both_uses_the_queries_every_run_answers(demo_runs):
    ds, full, half, answered = demo_runs
    result = compare({"full": full, "half": half}, ds.qrels, MEASURES, trials=200, queries="both")
    # both systems on the same queries: the half run is the full run there, so their means agree (to the bit:
    # a mean is an exactly rounded sum over the queries, whatever order they come in)
    assert result.table["half"] == result.table["full"]
    on_answered = evaluate(full, ds.qrels.where(col(S.QUERY_ID).is_in(answered)), MEASURES).aggregate
    assert result.table["full"] == on_answered
    per_query = result.per_query.where(col(SYSTEM) == "full").to_pydict()
    assert set(per_query[S.QUERY_ID]) == set(answered) & set(ds.qrels.to_pydict()[S.QUERY_ID])
    with pytest.raises(DataError, match="queries must be"):
        compare({"full": full}, ds.qrels, MEASURES, queries="run")


def test_scratch_directory_goes_under_the_configured_folder_and_is_removed(tmp_path, monkeypatch):
    base = tmp_path / "shared" / "scratch"  # not there yet: made on first use
    monkeypatch.setenv(SCRATCH, str(base))
    with scratch_directory("daft-retrieval-x-") as tmp:
        assert os.path.dirname(tmp) == str(base) and os.path.basename(tmp).startswith("daft-retrieval-x-")
        (daft.from_pydict({"a": [1]})).write_parquet(tmp)
    assert base.is_dir() and list(base.iterdir()) == []


def test_cli_scratch_dir_holds_every_temporary_index(tmp_path):
    scratch = tmp_path / "scratch"
    common = ["eval", "--retriever", "bm25", "--retriever", "splade", "--max-seq-length", "32", "--no-cache"]
    common += ["-m", "nDCG@10", "--json"]
    out = cli(*common, "--scratch-dir", str(scratch))
    assert out.returncode == 0, out.stderr
    assert scratch.is_dir() and list(scratch.iterdir()) == []  # made, used, and cleaned
    plain = cli(*common)
    assert plain.returncode == 0, plain.stderr
    with_scratch, without = (json.loads(o.stdout.splitlines()[-1]) for o in (out, plain))
    assert list(with_scratch) == ["bm25", "splade-splade-tiny"]
    for system, values in without.items():  # the same up to float summation order
        assert with_scratch[system] == pytest.approx(values, abs=1e-12)


def test_cli_splade_takes_the_encoder_options():
    out = cli("eval", "--retriever", "splade", "--device", "tpu", "--no-cache")
    assert out.returncode == 2 and "device must be cpu, cuda[:N] or mps" in out.stderr, out.stderr

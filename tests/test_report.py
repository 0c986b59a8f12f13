"""The HTML report's data from real runs: compare and diff write report.html with the rankings and texts it is
built from, `report DIR` rebuilds the same bytes, `diff --terminal` prints the most changed queries side by side,
and every number and list in the page's data equals the JSON, the per-query parquet and the runs themselves."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest

from daft_retrieval.errors import DataError
from daft_retrieval.load import load_beir, read_qrels, read_run
from daft_retrieval.report.page import write_report
from daft_retrieval.run import rank_run
from tests.browser import open_page
from tests.conftest import ROOT, cli

DEMO = ROOT / "data" / "demo"
MEASURES = ["nDCG@10", "R@100"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two BM25 runs of the demo (default and k1=0.3, b=0.2) written by `search`."""
    from daft_retrieval.cli.main import main  # capsys is per test: the CLI without it here

    root = tmp_path_factory.mktemp("runs")
    paths = []
    for name, extra in (("bm25", []), ("bm25-flat", ["--k1", "0.3", "--b", "0.2"])):
        path = root / f"{name}.txt"
        assert main(["search", "--dataset", str(DEMO), "--retriever", "bm25", *extra, "--output-run", str(path)]) == 0
        paths.append(path)
    return paths


def test_diff_writes_a_report_whose_data_equals_the_runs_and_qrels(two_runs, tmp_path, capsys):
    a, b = two_runs
    out = tmp_path / "diff"
    status, stdout, err = cli(
        ["diff", a, b, "--dataset", DEMO, "-m", *MEASURES, "--trials", "200", "--output-dir", out, "--json"], capsys
    )
    assert status == 0, err
    body = json.loads(stdout.strip().splitlines()[-1])
    demo = body["datasets"]["demo"]
    assert list(demo["table"]) == ["bm25", "bm25-flat"] and demo["baselines"] == ["bm25"]
    for name in ("report.html", "rankings.parquet", "texts.parquet", "comparison.json", "per_query.parquet"):
        assert (out / name).is_file(), name
    # Judged@10 per system: the share of each query's top 10 with a judgement, over the judged queries
    qrels = read_qrels(str(DEMO / "qrels" / "test.tsv")).to_pydict()
    judged = set(zip(qrels["query_id"], qrels["doc_id"]))
    for system, path in (("bm25", a), ("bm25-flat", b)):
        top = rank_run(read_run(str(path)), 10).to_pydict()
        shares = {}
        for q, d in zip(top["query_id"], top["doc_id"]):
            shares.setdefault(q, []).append((q, d) in judged)
        per_query = [sum(shares[q]) / len(shares[q]) if q in shares else 0.0 for q in set(qrels["query_id"])]
        assert math.isclose(demo["judged"][system], sum(per_query) / len(per_query), abs_tol=1e-12)
    # the rankings written are each run's top 10 in trec_eval order, with the qrels' grades (null: unjudged)
    rankings = pq.read_table(out / "rankings.parquet").to_pydict()
    grades = dict(zip(zip(qrels["query_id"], qrels["doc_id"]), qrels["relevance"]))
    top = rank_run(read_run(str(a)), 10).sort(["query_id", "rank"]).to_pydict()
    mine = [(q, r, d) for s, q, r, d in zip(*(rankings[c] for c in ("system", "query_id", "rank", "doc_id")))]
    assert [x for x, s in zip(mine, rankings["system"]) if s == "bm25"] == list(
        zip(top["query_id"], top["rank"], top["doc_id"])
    )
    assert all(
        rel == grades.get((q, d)) for q, d, rel in zip(rankings["query_id"], rankings["doc_id"], rankings["relevance"])
    )
    # texts: every query of the qrels, every document shown, cut to the snippet with an ellipsis
    texts = pq.read_table(out / "texts.parquet").to_pydict()
    docs = {i: t for k, i, t in zip(texts["kind"], texts["id"], texts["text"]) if k == "doc"}
    assert set(docs) == set(rankings["doc_id"])
    corpus = load_beir(str(DEMO)).corpus.to_pydict()
    full = dict(zip(corpus["doc_id"], corpus["text"]))
    for doc, text in docs.items():
        assert text == (full[doc] if len(full[doc]) <= 300 else full[doc][:300] + "…")


def test_report_rebuilds_the_same_bytes_and_refuses_a_folder_without_a_comparison(two_runs, tmp_path, capsys):
    a, b = two_runs
    out = tmp_path / "diff"
    assert (
        cli(["diff", a, b, "--dataset", DEMO, "-m", *MEASURES, "--trials", "200", "--output-dir", out], capsys)[0] == 0
    )
    first = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    status, _, err = cli(["report", out], capsys)
    assert status == 0, err
    assert (out / "report.html").read_bytes() == first  # the same data gives the same bytes
    status, _, err = cli(["report", tmp_path], capsys)
    assert status == 2 and "no comparison.json" in err and "Traceback" not in err
    with pytest.raises(DataError, match=r"no comparison\.json"):
        write_report(str(tmp_path))


def test_diff_terminal_prints_the_most_changed_queries_side_by_side(two_runs, tmp_path, capsys, monkeypatch):
    a, b = two_runs
    monkeypatch.chdir(tmp_path)  # --terminal writes nothing (its default folder would be data/reports/ here)
    status, stdout, err = cli(
        ["diff", a, b, "--qrels", DEMO / "qrels" / "test.tsv", "-m", "nDCG@10", "--terminal", "--queries", "3"],
        capsys,
    )
    assert status == 0, err
    assert list(tmp_path.iterdir()) == []
    lines = stdout.splitlines()
    assert lines[0].startswith("test: nDCG@10, bm25-flat - bm25 over ")
    heads = [line for line in lines if line.startswith("query ")]
    assert len(heads) == 3
    # the first is the query with the largest |difference| in the per-query values
    from daft_retrieval.evaluation import evaluate

    qrels = read_qrels(str(DEMO / "qrels" / "test.tsv"))
    values = [
        {r["query_id"]: r["value"] for r in evaluate(read_run(str(p)), qrels, ["nDCG@10"]).per_query.to_pylist()}
        for p in (a, b)
    ]
    diffs = sorted((-abs(values[1][q] - values[0][q]), q) for q in values[0])
    assert heads[0].split()[1] == diffs[0][1]
    assert f"{values[1][diffs[0][1]] - values[0][diffs[0][1]]:+.4f}" in heads[0]
    block = lines[lines.index(heads[0]) + 2]  # rank 1 of both lists
    assert block.lstrip().startswith("1 ") and " | " in block


def test_diff_refuses_missing_judgements_and_bad_depths(two_runs, capsys):
    a, b = two_runs
    status, _, err = cli(["diff", a, b], capsys)
    assert status == 2 and "--qrels" in err
    status, _, err = cli(["diff", a, b, "--qrels", DEMO / "qrels" / "test.tsv", "--report-depth", "0"], capsys)
    assert status == 2 and "--report-depth" in err


def test_the_written_report_shows_the_json_and_the_runs_in_chromium(two_runs, tmp_path, capsys, driver):
    """The page compare/diff wrote, in a real browser: the table's values are the JSON's, and a query opens both
    systems' top 10 as rankings.parquet holds them, with the qrels' grades."""
    from selenium.webdriver.common.by import By

    a, b = two_runs
    out = tmp_path / "diff"
    status, _, err = cli(
        ["diff", a, b, "--dataset", DEMO, "-m", *MEASURES, "--trials", "200", "--output-dir", out], capsys
    )
    assert status == 0, err
    body = json.loads((out / "comparison.json").read_text())["datasets"]["demo"]
    driver.get_log("browser")
    open_page(driver, out / "report.html")
    for cell in driver.find_elements(By.CSS_SELECTOR, "#summary td[data-measure]"):
        system, measure = cell.get_attribute("data-system"), cell.get_attribute("data-measure")
        want = body["judged"][system] if measure == "Judged@10" else body["table"][system][measure]
        assert json.loads(cell.get_attribute("data-value")) == want
    rankings = pq.read_table(out / "rankings.parquet").to_pylist()
    row = driver.find_element(By.CSS_SELECTOR, "#queries tbody tr[data-query]")
    query = row.get_attribute("data-query")
    row.click()
    for side, system in (("left", "bm25"), ("right", "bm25-flat")):
        want = [r for r in rankings if r["system"] == system and r["query_id"] == query]
        items = driver.find_elements(By.CSS_SELECTOR, f"#ranking-{side} li")
        assert [li.get_attribute("data-doc") for li in items] == [r["doc_id"] for r in want]
        grades = ["unjudged" if r["relevance"] is None else str(r["relevance"]) for r in want]
        assert [li.get_attribute("data-relevance") for li in items] == grades
    assert not [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]

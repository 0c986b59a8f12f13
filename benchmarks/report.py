"""The HTML report at scale: a 10,000-query comparison of 3 systems (synthetic runs, judgements and texts), its
page size, and how fast it answers in headless Chromium: load until the first table page shows, open a query,
sort by difference, filter, switch the measure.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/report.py [--queries 10000] [--docs-per-query 100]

Needs Debian's chromium and chromium-driver, and selenium (the dev extra).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("DAFT_RETRIEVAL_QUIET", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import daft
import numpy as np

from daft_retrieval.experiment import ExperimentResult
from daft_retrieval.load import check_dataset
from daft_retrieval.report.compare import compare
from daft_retrieval.report.views import shown_rankings

WORDS = np.array(
    ["retrieval", "ranking", "query", "document", "passage", "relevance", "judgement", "evaluation", "dense", "sparse"]
)


def synthetic(n_queries: int, per_query: int, seed: int = 0):
    """Three runs of ``per_query`` documents per query drawn from a shared pool (so systems overlap), 10
    judgements per query, documents of ~700 characters with titles."""
    rng = np.random.default_rng(seed)
    n_docs = n_queries * 20
    doc_ids = np.char.add("d", np.arange(n_docs).astype(str))
    text = [" ".join(rng.choice(WORDS, 80)) for _ in range(2000)]
    corpus = daft.from_pydict(
        {
            "doc_id": doc_ids.tolist(),
            "title": [f"Title of {d}" for d in doc_ids],
            "text": [text[i % 2000] for i in range(n_docs)],
        }
    )
    qids = np.char.add("q", np.arange(n_queries).astype(str))
    texts = [f"query {q} about {WORDS[i % 10]}" for i, q in enumerate(qids)]
    queries = daft.from_pydict({"query_id": qids.tolist(), "text": texts})
    pool = rng.integers(0, n_docs, (n_queries, per_query * 2))
    qrels = daft.from_pydict(
        {
            "query_id": np.repeat(qids, 10).tolist(),
            "doc_id": doc_ids[pool[:, :10].ravel()].tolist(),
            "relevance": rng.integers(0, 3, n_queries * 10).tolist(),
        }
    ).distinct("query_id", "doc_id")
    runs = {}
    for s, name in enumerate(("bm25", "dense", "rrf")):
        picks = np.stack([rng.permutation(pool[i])[:per_query] for i in range(n_queries)])
        frame = {
            "query_id": np.repeat(qids, per_query).tolist(),
            "doc_id": doc_ids[picks.ravel()].tolist(),
            "score": (rng.random(n_queries * per_query) + s * 0.01).tolist(),
        }
        runs[name] = daft.from_pydict(frame).distinct("query_id", "doc_id")
    return runs, check_dataset(corpus, queries, qrels, "synthetic", warn=False)


def timed(action) -> float:
    t = time.perf_counter()
    action()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs-per-query", type=int, default=100)
    args = ap.parse_args()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from tests.browser import open_page, start_driver

    runs, dataset = synthetic(args.queries, args.docs_per_query)
    t = time.perf_counter()
    measures = ["nDCG@10", "R@100", "RR@10"]
    comparison = compare(runs, dataset.qrels, measures, dataset=dataset.name, trials=1000)
    shown = {dataset.name: shown_rankings(runs, dataset.qrels, dataset)}
    result = ExperimentResult({dataset.name: comparison}, comparison.table, {"benchmark": "report"}, shown)
    folder = tempfile.mkdtemp(prefix="report-bench-")
    result.write(folder, plot=False)
    built = time.perf_counter() - t
    page = Path(folder) / "report.html"
    size = page.stat().st_size / 1e6
    print(f"{args.queries:,} queries x 3 systems: report.html {size:.1f} MB; compare + write {built:.1f} s")
    driver = start_driver()
    try:
        print(f"  load until the first page shows   {timed(lambda: open_page(driver, page)):6.2f} s")
        row = driver.find_element(By.CSS_SELECTOR, "#queries tbody tr[data-query]")
        query = row.get_attribute("data-query")

        def open_query():
            row.click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "detail-query").text == query)

        print(f"  open a query (both top 10)        {timed(open_query):6.2f} s")
        sort = driver.find_element(By.CSS_SELECTOR, 'th[data-sort="diff"]')
        print(f"  sort by difference                {timed(sort.click):6.2f} s")
        box = driver.find_element(By.ID, "filter")
        print(f"  filter by text                    {timed(lambda: box.send_keys('q12')):6.2f} s")
        measure = Select(driver.find_element(By.ID, "measure"))
        print(f"  switch the measure (chart, table) {timed(lambda: measure.select_by_index(1)):6.2f} s")
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        print(f"  console errors: {len(errors)}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

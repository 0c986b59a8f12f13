"""A consistent random report (the data of ``daft_retrieval.report.html.render_html``) for the browser tests."""

from __future__ import annotations

import random
from typing import Any

HOSTILE = ["<script>alert(1)</script>", "</script><b id='injected'>x</b>", "<img src=x onerror=alert(2)>", "&amp; \"'"]
WORDS = [
    "retrieval",
    "ranking",
    "query",
    "document",
    "dense",
    "sparse",
    "lexical",
    "neural",
    "index",
    "corpus",
    "score",
    "judged",
    "relevance",
]


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def sample_report(
    n_queries: int = 30,
    systems: tuple[str, ...] = ("bm25", "dense", "rrf"),
    seed: int = 0,
    k: int = 10,
    snippet_words: int = 6,
) -> dict[str, Any]:
    """A report of one dataset: per-query values in [0, 1] (a few null), means over them, a test of every system
    against every baseline (the first two systems) with some ``p_corrected`` under 0.05, rankings of ``k``
    documents per query drawn from a shared pool (so systems share documents), relevance 0-3 with some negative
    and some null (unjudged), and documents whose titles and snippets include hostile markup."""
    rng = random.Random(seed)
    measures = ["nDCG@10", "RR@10", "R@100"]
    queries = [f"q{i}" for i in range(n_queries)]
    query_text = [None if i % 11 == 5 else f"{_text(rng, 4)} {i}" for i in range(n_queries)]
    query_text[1 % n_queries] = HOSTILE[0]
    values: dict[str, dict[str, list[float | None]]] = {}
    for m in measures:
        values[m] = {}
        for j, s in enumerate(systems):
            column: list[float | None] = [
                min(1.0, max(0.0, rng.gauss(0.4 + 0.05 * j, 0.2))) + rng.random() * 1e-9 for _ in queries
            ]
            if m == "R@100" and n_queries > 3:
                column[3] = None
            values[m][s] = column

    def mean(xs: list[float | None]) -> float | None:
        kept = [x for x in xs if x is not None]
        return sum(kept) / len(kept) if kept else None

    table = {s: {m: mean(values[m][s]) for m in measures} for s in systems}
    baselines = list(systems[:2])
    tests = []
    for b in baselines:
        for s in systems:
            if s == b:
                continue
            for i, m in enumerate(measures):
                diff = table[s][m] - table[b][m]  # type: ignore[operator]
                p = [0.001, 0.2, 0.03, 0.6][(i + len(tests)) % 4]
                tests.append(
                    {
                        "system": s,
                        "baseline": b,
                        "measure": m,
                        "difference": diff,
                        "p_t_test": p / 2,
                        "p_randomization": p * 0.9,
                        "p_corrected": None if i == 2 and s == systems[-1] else p,
                        "correction": "holm",
                        "ci_low": diff - 0.05,
                        "ci_high": diff + 0.05,
                        "effect_size": None if p > 0.5 else diff * 3,
                        "wins": 10 + i,
                        "ties": 2,
                        "losses": 5,
                    }
                )
    # A pool of 2k documents per query, shared across systems.
    n_docs = 2 * k * n_queries
    ids = [f"d{i}" for i in range(n_docs)]
    titles: list[str | None] = [None if i % 17 == 3 else f"Doc {i}: {_text(rng, 3)}" for i in range(n_docs)]
    snippets: list[str | None] = [None if i % 23 == 7 else _text(rng, snippet_words) for i in range(n_docs)]
    for i, bad in enumerate(HOSTILE):
        if i < n_docs:
            titles[i] = bad
            snippets[i] = bad
    grades = [-1, 0, 0, 1, 1, 2, 3, 4, None, None]
    relevance = [rng.choice(grades) for _ in range(n_docs)]
    rankings: dict[str, dict[str, list[list[Any]]]] = {s: {} for s in systems}
    for qi, q in enumerate(queries):
        pool = list(range(2 * k * qi, 2 * k * (qi + 1)))
        if qi == 0:
            pool[:4] = range(4)  # the hostile documents, in the first query's pool
        for s in systems:
            docs = rng.sample(pool, k)
            scores = sorted((rng.uniform(0, 30) for _ in docs), reverse=True)
            rankings[s][q] = [[d, sc, relevance[d]] for d, sc in zip(docs, scores)]
    judged = {s: rng.random() for s in systems}
    return {
        "title": "Sample report <script>alert('title')</script>",
        "alpha": 0.05,
        "datasets": [
            {
                "name": "sample",
                "systems": list(systems),
                "measures": measures,
                "baselines": baselines,
                "table": table,
                "tests": tests,
                "judged": judged,
                "k": k,
                "queries": queries,
                "query_text": query_text,
                "values": values,
                "rankings": rankings,
                "docs": {"ids": ids, "titles": titles, "snippets": snippets},
            }
        ],
        "mean": None,
        "provenance": {
            "spec": {"systems": list(systems), "measures": measures, "note": HOSTILE[1]},
            "models": {"dense": {"name": "all-MiniLM-L6-v2", "digest": "sha256:0123abcd"}},
            "timings": {"bm25": 1.25, "dense": 3.5},
            "cache_hits": [1, 2, 3],
        },
    }

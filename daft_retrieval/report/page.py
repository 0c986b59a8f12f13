"""The HTML report of a written comparison: ``report.html`` rebuilt from the files beside it.

A comparison folder holds ``comparison.json`` (tables, tests, baselines, Judged@10, provenance),
``per_query.parquet`` (``dataset, system, query_id, measure, value``), ``rankings.parquet`` (every system's top
k with judgements) and ``texts.parquet`` (query texts, document titles and snippets). :func:`page_data` turns
them into the page's data (the schema :func:`~daft_retrieval.report.html.render_html` reads) and
:func:`write_report` writes the page: one self-contained file, no network.

    >>> write_report("data/reports/demo")  # doctest: +SKIP
    'data/reports/demo/report.html'
"""

from __future__ import annotations

import json
import math
import os

import pyarrow as pa
import pyarrow.compute as pc

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError

__all__ = ["RANKINGS_FILE", "REPORT_FILE", "TEXTS_FILE", "page_data", "write_report"]

COMPARISON_FILE, PER_QUERY_FILE = "comparison.json", "per_query.parquet"
RANKINGS_FILE, TEXTS_FILE, REPORT_FILE = "rankings.parquet", "texts.parquet", "report.html"
DATASET = "dataset"


def _number(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def _rows(table: pa.Table | None, dataset: str) -> dict[str, list]:
    """The columns of ``table``'s rows of ``dataset`` as lists (none without a table)."""
    if table is None:
        return {}
    return table.filter(pc.equal(table.column(DATASET), dataset)).to_pydict()


def _dataset(name: str, body: dict, per_query: pa.Table, rankings: pa.Table | None, texts: pa.Table | None) -> dict:
    rows = _rows(per_query, name)
    systems = list(body["table"])
    measures = list(next(iter(body["table"].values()), {}))
    queries = sorted(set(rows[S.QUERY_ID]))
    position = {q: i for i, q in enumerate(queries)}
    values = {m: {s: [None] * len(queries) for s in systems} for m in measures}
    for system, query, measure, value in zip(rows["system"], rows[S.QUERY_ID], rows[S.MEASURE], rows[S.VALUE]):
        if measure in values and system in values[measure]:
            values[measure][system][position[query]] = _number(value)
    shown = _rows(rankings, name)
    text = _rows(texts, name)
    query_text = dict.fromkeys(queries)
    docs: dict[str, int] = {}
    titles, snippets = [], []
    for kind, id_, title, body_text in zip(
        text.get("kind", []), text.get("id", []), text.get("title", []), text.get("text", [])
    ):
        if kind == "query":
            query_text[id_] = body_text
        else:
            docs[id_] = len(docs)
            titles.append(title)
            snippets.append(body_text)
    ids = list(docs)
    lists: dict[str, dict[str, list]] = {s: {} for s in systems}
    for system, query, doc, score, relevance in zip(
        shown.get("system", []),
        shown.get(S.QUERY_ID, []),
        shown.get(S.DOC_ID, []),
        shown.get(S.SCORE, []),
        shown.get(S.RELEVANCE, []),
    ):
        if doc not in docs:  # shown without a text (no dataset given, or not in the corpus)
            docs[doc] = len(docs)
            ids.append(doc)
            titles.append(None)
            snippets.append(None)
        lists.setdefault(system, {}).setdefault(query, []).append([docs[doc], _number(score), relevance])
    k = max(shown.get(S.RANK, []), default=10)
    return {
        "name": name,
        "systems": systems,
        "measures": measures,
        "baselines": body.get("baselines") or systems[:1],
        "table": body["table"],
        "tests": body.get("tests", []),
        "judged": body.get("judged", {}),
        "against_exact": body.get("against_exact", {}),
        "k": k,
        "queries": queries,
        "query_text": [query_text[q] for q in queries],
        "values": values,
        "rankings": lists,
        "docs": {"ids": ids, "titles": titles, "snippets": snippets},
    }


def page_data(
    body: dict, per_query: pa.Table, rankings: pa.Table | None = None, texts: pa.Table | None = None, *, title=""
) -> dict:
    """The page's data from a comparison's JSON ``body`` (``{"datasets": {NAME: {"table", "tests", "baselines",
    "judged"}}, "mean", "provenance"}``) and its per-query values, rankings and texts (each with a ``dataset``
    column)."""
    datasets = [_dataset(n, b, per_query, rankings, texts) for n, b in body["datasets"].items()]
    mean = body.get("mean") if len(datasets) > 1 else None
    title = title or "Comparison: " + ", ".join(d["name"] for d in datasets)
    return {"title": title, "alpha": 0.05, "datasets": datasets, "mean": mean, "provenance": body.get("provenance", {})}


def write_report(folder: str, *, title: str = "") -> str:
    """Write ``report.html`` into ``folder`` from the comparison written there (replaced atomically); its path.

    Without ``rankings.parquet`` / ``texts.parquet`` (a comparison written before them, or with ``--no-report``)
    the page still shows the tables, tests and per-query values; a query's detail then has no lists."""
    import pyarrow.parquet as pq

    from daft_retrieval.outputs import write_bytes
    from daft_retrieval.report.html import render_html

    path = os.path.join(folder, COMPARISON_FILE)
    if not os.path.isfile(path):
        raise DataError(
            f"{folder}: no {COMPARISON_FILE} here; give the folder a 'daft-retrieval compare' (or 'diff') wrote"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
        if not isinstance(body.get("datasets"), dict):
            raise ValueError("no datasets")
    except (ValueError, AttributeError) as err:
        raise DataError(f"{path}: not a comparison written by daft-retrieval ({err}); write it again") from None
    tables = {}
    for name in (PER_QUERY_FILE, RANKINGS_FILE, TEXTS_FILE):
        file = os.path.join(folder, name)
        tables[name] = pq.read_table(file) if os.path.isfile(file) else None
    if tables[PER_QUERY_FILE] is None:
        raise DataError(f"{folder}: {PER_QUERY_FILE} is missing; write the comparison again")
    data = page_data(body, tables[PER_QUERY_FILE], tables[RANKINGS_FILE], tables[TEXTS_FILE], title=title)
    out = os.path.join(folder, REPORT_FILE)
    write_bytes(out, render_html(data).encode("utf-8"))
    return out

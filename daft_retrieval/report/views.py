"""What the HTML report shows beyond the statistics: each system's top k with judgements, the query and document
texts of those rankings (capped), and each system's Judged@10.

The rankings are ranked as trec_eval ranks them (:func:`~daft_retrieval.run.rank_run`: score descending, doc id
descending), so the lists in the page are the ones the measures read. Only the documents some system shows are
kept, each text cut to ``snippet`` characters (an ellipsis marks the cut): a 10,000-query comparison stays a page
of a few megabytes.

    >>> shown = shown_rankings({"bm25": bm25, "dense": dense}, ds.qrels, ds)  # doctest: +SKIP
    >>> shown.rankings.column_names  # doctest: +SKIP
    ['system', 'query_id', 'rank', 'doc_id', 'score', 'relevance']
"""

from __future__ import annotations

from typing import NamedTuple

import daft
import pyarrow as pa
import pyarrow.compute as pc
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.run import rank_run

__all__ = ["JUDGED", "Shown", "check_report_options", "shown_rankings"]

JUDGED = "Judged@10"
"""The measure of judgement coverage the report shows beside every system (ir_measures' Judged@10)."""

KIND, ID = "kind", "id"
TEXTS = pa.schema([(KIND, pa.string()), (ID, pa.string()), ("title", pa.string()), ("text", pa.string())])
"""The texts of a report: queries (``kind`` "query", no title) and the documents shown (``kind`` "doc")."""


class Shown(NamedTuple):
    """``rankings``: ``system, query_id, rank, doc_id, score, relevance`` (null: unjudged), the top k of every
    system; ``texts``: ``kind`` ("query" or "doc"), ``id``, ``title``, ``text`` (documents cut to the snippet);
    ``judged``: system -> Judged@10 over the judged queries."""

    rankings: pa.Table
    texts: pa.Table
    judged: dict[str, float]


def check_report_options(depth: int, snippet: int) -> None:
    """Raise a :class:`DataError` unless the report shows a top ``depth`` >= 1 with snippets of ``snippet`` >= 0
    characters (checked before any work by the CLI and experiments)."""
    if depth < 1 or snippet < 0:
        raise DataError(
            f"the report shows each system's top --report-depth >= 1 (not {depth}) with --snippet >= 0 characters "
            f"(not {snippet})"
        )


def _cut(texts: pa.ChunkedArray | pa.Array, limit: int) -> pa.Array:
    """Each text cut to ``limit`` characters, an ellipsis where it was longer (null stays null)."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    short = pc.utf8_slice_codeunits(texts, 0, limit)
    longer = pc.greater(pc.utf8_length(texts), limit)
    return pc.if_else(longer, pc.binary_join_element_wise(short, "…", ""), texts)


def shown_rankings(
    runs: dict[str, daft.DataFrame],
    qrels: daft.DataFrame,
    dataset=None,
    *,
    k: int = 10,
    snippet: int = 300,
) -> Shown:
    """The top ``k`` of every run with its judgements, the texts of what is shown (from ``dataset``, a
    :class:`~daft_retrieval.load.dataset.Dataset`; without one, no text) and each run's Judged@10.

    ``k`` >= 10 keeps Judged@10 readable from the rankings; ``snippet``: characters of each document kept.
    """
    from daft_retrieval.evaluation import evaluate

    check_report_options(k, snippet)
    judgements = qrels.select(S.QUERY_ID, S.DOC_ID, S.RELEVANCE)
    frames, judged = [], {}
    for name, run in runs.items():
        top = rank_run(run.select(S.QUERY_ID, S.DOC_ID, S.SCORE), max(k, 10))
        judged[name] = evaluate(top, qrels, [JUDGED]).aggregate[JUDGED]
        top = top.where(col(S.RANK) <= k).join(judgements, on=[S.QUERY_ID, S.DOC_ID], how="left")
        frames.append(top.select(lit(name).alias("system"), S.QUERY_ID, S.RANK, S.DOC_ID, S.SCORE, S.RELEVANCE))
    tables = [f.sort([S.QUERY_ID, S.RANK]).to_arrow() for f in frames]
    rankings = pa.concat_tables([t.cast(tables[0].schema) for t in tables])
    texts = TEXTS.empty_table()
    if dataset is not None:
        docs = daft.from_arrow(pa.table({S.DOC_ID: pc.unique(rankings.column(S.DOC_ID))}))
        docs = dataset.corpus.join(docs, on=S.DOC_ID, how="semi").sort(S.DOC_ID).to_arrow()
        asked = qrels.select(S.QUERY_ID).distinct()
        queries = dataset.queries.join(asked, on=S.QUERY_ID, how="semi").sort(S.QUERY_ID).to_arrow()
        texts = pa.concat_tables(
            [  # the schema's types, whatever the loader's string types
                pa.table(
                    {
                        KIND: pa.array(["query"] * queries.num_rows, pa.string()),
                        ID: queries.column(S.QUERY_ID).cast(pa.string()),
                        "title": pa.nulls(queries.num_rows, pa.string()),
                        "text": queries.column(S.TEXT).cast(pa.string()),
                    }
                ),
                pa.table(
                    {
                        KIND: pa.array(["doc"] * docs.num_rows, pa.string()),
                        ID: docs.column(S.DOC_ID).cast(pa.string()),
                        "title": _cut(docs.column(S.TITLE).cast(pa.string()), 200),
                        "text": _cut(docs.column(S.TEXT).cast(pa.string()), snippet),
                    }
                ),
            ]
        ).cast(TEXTS)
    return Shown(rankings, texts, judged)

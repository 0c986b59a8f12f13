"""A test collection: corpus, queries and qrels frames, plus what loading them found."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataWarning

__all__ = ["DataWarning", "Dataset", "LoadReport", "check_dataset"]


@dataclass(frozen=True)
class LoadReport:
    """Counts found while loading a collection (shown by the CLI, kept on the :class:`Dataset`)."""

    documents: int
    queries: int
    judgements: int
    empty_documents: int = 0
    empty_queries: int = 0
    qrels_unknown_query: int = 0
    qrels_unknown_doc: int = 0
    queries_without_qrels: int = 0

    def problems(self) -> list[str]:
        """One human line per non-zero problem count."""
        lines = []
        if self.empty_documents:
            lines.append(f"{self.empty_documents} documents have an empty title and text")
        if self.empty_queries:
            lines.append(f"{self.empty_queries} queries have an empty text")
        if self.qrels_unknown_query:
            lines.append(
                f"{self.qrels_unknown_query} judgements name a query absent from the queries "
                "(kept: it scores 0 in every measure)"
            )
        if self.qrels_unknown_doc:
            lines.append(
                f"{self.qrels_unknown_doc} judgements name a document absent from the corpus "
                "(kept: it can never be retrieved, as trec_eval counts it)"
            )
        return lines


class Dataset(NamedTuple):
    """Corpus (``doc_id, title, text``), queries (``query_id, text``) and qrels (``query_id, doc_id, relevance``).

    >>> ds = load_dataset("data/demo")  # doctest: +SKIP
    >>> ds.corpus.count_rows()  # doctest: +SKIP
    300
    """

    corpus: daft.DataFrame
    queries: daft.DataFrame
    qrels: daft.DataFrame
    name: str
    report: LoadReport

    def __repr__(self) -> str:
        r = self.report
        problems = f"; {len(r.problems())} warnings (.report)" if r.problems() else ""
        return (
            f"Dataset({self.name!r}: {r.documents:,} documents, {r.queries:,} queries, {r.judgements:,} judgements"
            f"{problems}; .corpus, .queries, .qrels)"
        )


def _count(df: daft.DataFrame) -> int:
    return df.count_rows()


def check_dataset(
    corpus: daft.DataFrame, queries: daft.DataFrame, qrels: daft.DataFrame, name: str, *, warn: bool = True
) -> Dataset:
    """Count empty texts and qrels rows naming unknown queries or documents; warn once with the counts.

    Nothing is dropped: qrels for unknown ids stay, as trec_eval would count them.
    """
    unknown_q = qrels.join(queries.select(S.QUERY_ID), on=S.QUERY_ID, how="anti")
    unknown_d = qrels.join(corpus.select(S.DOC_ID), on=S.DOC_ID, how="anti")
    judged = qrels.select(S.QUERY_ID).distinct()
    report = LoadReport(
        documents=_count(corpus),
        queries=_count(queries),
        judgements=_count(qrels),
        empty_documents=_count(corpus.where((col(S.TEXT).strip() == "") & (col(S.TITLE).strip() == ""))),
        empty_queries=_count(queries.where(col(S.TEXT).strip() == "")),
        qrels_unknown_query=_count(unknown_q),
        qrels_unknown_doc=_count(unknown_d),
        queries_without_qrels=_count(queries.join(judged, on=S.QUERY_ID, how="anti")),
    )
    problems = report.problems()
    if warn and problems:
        examples = []
        for frame, key in ((unknown_q, S.QUERY_ID), (unknown_d, S.DOC_ID)):
            ids = sorted(frame.select(key).distinct().limit(3).to_pydict()[key])
            if ids:
                examples.append(f"e.g. {key} {ids}")
        warnings.warn(f"{name}: " + "; ".join(problems + examples), DataWarning, stacklevel=2)
    return Dataset(corpus, queries, qrels, name, report)

"""Postings shared by every lexical and sparse index (BM25, SPLADE): ``term_id, doc, value`` plus two dictionaries.

Built from rows ``doc_id, term, value`` (one per token for BM25 with value 1, one per non-zero dimension for
SPLADE with value = its weight), with Daft ``groupby`` and window functions, never a Python loop:

- ``documents``: ``doc, doc_id`` where ``doc`` is the 0-based position of ``doc_id`` in sorted order, so ordering
  by ``doc`` descending is trec_eval's tie-break (doc id descending) on a small integer;
- ``vocabulary``: ``term, term_id, df`` (term ids in sorted term order; ``df`` = documents holding the term);
- ``postings``: ``term_id, doc, value`` with ``value`` summed per (document, term): for BM25 the term frequency.

    >>> rows = daft.from_pydict({"doc_id": ["b", "a", "a"], "term": ["x", "x", "x"], "value": [1.0, 1.0, 1.0]})
    >>> build_postings(rows).postings.sort("doc").to_pydict()
    {'term_id': [0, 0], 'doc': [0, 1], 'value': [2.0, 1.0]}
"""

from __future__ import annotations

import os
from typing import NamedTuple

import daft
from daft import DataType, Window, col
from daft.functions import row_number

from daft_retrieval import schema as S
from daft_retrieval.runner import persist
from daft_retrieval.schema import TERM, VALUE

__all__ = ["DF", "DOC", "TERM_ID", "Postings", "build_postings", "number"]

DOC = "doc"
TERM_ID = "term_id"
DF = "df"


class Postings(NamedTuple):
    """``postings: term_id, doc, value``; ``vocabulary: term, term_id, df``; ``documents: doc, doc_id``."""

    postings: daft.DataFrame
    vocabulary: daft.DataFrame
    documents: daft.DataFrame

    def collect(self) -> Postings:
        """Materialise the three frames (an index is built once and searched many times)."""
        return Postings(*(persist(frame) for frame in self))

    def save(self, path: str) -> None:
        """Write ``postings/``, ``vocabulary/`` and ``documents/`` Parquet folders under ``path``."""
        for name, frame in self._asdict().items():
            frame.write_parquet(os.path.join(path, name), write_mode="overwrite")

    @classmethod
    def load(cls, path: str) -> Postings:
        """Read what :meth:`save` wrote (lazily)."""
        return cls(*(daft.read_parquet(os.path.join(path, name, "*.parquet")) for name in cls._fields))


def number(frame: daft.DataFrame, key: str, id_column: str) -> daft.DataFrame:
    """``frame`` with ``id_column``: the 0-based position of ``key`` in ascending order (keys must be distinct)."""
    position = row_number().over(Window().order_by(key)) - 1
    return frame.with_column(id_column, position.cast(DataType.int64()))


def build_postings(rows: daft.DataFrame, documents: daft.DataFrame | None = None) -> Postings:
    """Postings of ``doc_id, term, value`` rows, the values summed per (document, term).

    ``documents`` (a frame with ``doc_id``) numbers documents that have no term too; by default only documents
    that appear in ``rows`` are numbered.
    """
    S.require_columns(rows, [S.DOC_ID, TERM, VALUE], "postings rows")
    summed = persist(rows.groupby(S.DOC_ID, TERM).agg(col(VALUE).sum().alias(VALUE)))
    doc_ids = (documents if documents is not None else summed).select(S.DOC_ID).distinct()
    docs = persist(number(doc_ids, S.DOC_ID, DOC).select(DOC, S.DOC_ID))
    vocab = number(summed.groupby(TERM).agg(col(S.DOC_ID).count().alias(DF)), TERM, TERM_ID)
    vocab = persist(vocab.select(TERM, TERM_ID, col(DF).cast(DataType.int64())))
    postings = (
        summed.join(vocab.select(TERM, TERM_ID), on=TERM).join(docs, on=S.DOC_ID).select(TERM_ID, DOC, VALUE)
    )  # unsorted: the searchers order what they load
    return Postings(persist(postings), vocab, docs)

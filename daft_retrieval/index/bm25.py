"""A BM25 index: postings with a precomputed BM25 weight each, saved as Parquet plus a small ``index.json``.

Documents are ``title + " " + text`` (the BEIR convention), tokenised by a :class:`Tokenizer`; each posting
``term_id, doc, value, weight`` holds the term frequency ``value`` and ``weight`` = idf(df, N) x tfc(tf, dl, avgdl)
under the chosen variant (:mod:`daft_retrieval.score.bm25`; Robertson et al., "Okapi at TREC-3", 1994; the Lucene
default k1 = 1.2, b = 0.75). ``N`` counts every document, including those with no token, and ``avgdl`` is the
mean token count over all of them, as in bm25s.

    >>> index = BM25Index.build(corpus, tokenizer=Tokenizer(stopwords="en", stemmer="english"))  # doctest: +SKIP
    >>> index.save("data/index/scifact-bm25"); BM25Index.load("data/index/scifact-bm25").n_docs  # doctest: +SKIP
    5183
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace

import daft
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.index.atomic import atomic_directory
from daft_retrieval.index.postings import DF, DOC, TERM_ID, Postings, build_postings, number
from daft_retrieval.runner import persist
from daft_retrieval.schema import TERM, VALUE, WEIGHT, document_text
from daft_retrieval.score.bm25 import VARIANTS, bm25_weight
from daft_retrieval.text.counts import LENGTH, term_counts
from daft_retrieval.text.tokenize import Tokenizer

__all__ = ["LENGTH", "BM25Index"]

_BAG = "_bag"
_TOTAL = "_total"
_META = S.INDEX_FILE
_FORMAT = "daft-retrieval/bm25-index/1"


@dataclass(frozen=True)
class BM25Index:
    """Postings (``term_id, doc, value, weight``), vocabulary (``term, term_id, df``), documents
    (``doc, doc_id, length``) and the settings that made them."""

    postings: Postings
    tokenizer: Tokenizer
    k1: float
    b: float
    variant: str
    n_docs: int
    avgdl: float
    path: str | None = None  # the index directory it was saved to or loaded from (searchers load it there)

    @classmethod
    def build(
        cls,
        corpus: daft.DataFrame,
        *,
        tokenizer: Tokenizer | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        variant: str = "lucene",
    ) -> BM25Index:
        """Tokenise ``corpus`` (``doc_id, title, text``), count postings and weigh them."""
        S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
        _check(k1, b, variant)
        tokenizer = tokenizer or Tokenizer()
        docs = persist(number(corpus.select(S.DOC_ID).distinct(), S.DOC_ID, DOC).select(DOC, S.DOC_ID))
        n_docs = docs.count_rows()
        if n_docs == 0:
            raise DataError("cannot index an empty corpus")
        if n_docs != corpus.count_rows():  # a doc id twice: its rows' tokens are pooled by the general path
            return cls._build_pooled(corpus, tokenizer, k1, b, variant)
        return cls._build_streamed(corpus, docs, n_docs, tokenizer, k1, b, variant)

    @classmethod
    def _build_streamed(
        cls, corpus: daft.DataFrame, docs: daft.DataFrame, n_docs: int, tokenizer: Tokenizer, k1, b, variant
    ) -> BM25Index:
        """Two streamed passes over the corpus (distinct doc ids): the vocabulary, then the weighted postings.

        Each document's terms are counted in its batch (:func:`term_counts`), so no frame of one row per token
        or keyed by strings is ever held; only the vocabulary, the documents and the final postings are.
        """
        keyed = corpus.select(S.DOC_ID, document_text()).join(docs, on=S.DOC_ID)
        bags = keyed.select(DOC, term_counts(tokenizer.tokens(col("document"))).alias(_BAG)).explode(_BAG)
        rows = bags.select(DOC, *(col(_BAG)[name].alias(name) for name in (TERM, VALUE, LENGTH)))
        rows = rows.where(col(TERM).not_null())
        counted = rows.groupby(TERM).agg(col(DOC).count().alias(DF), col(VALUE).sum().alias(_TOTAL))
        vocab = persist(number(counted, TERM, TERM_ID).select(TERM, TERM_ID, col(DF).cast(DataType.int64()), _TOTAL))
        avgdl = (vocab.sum(_TOTAL).to_pydict()[_TOTAL][0] or 0.0) / n_docs  # every token once: the sum of lengths
        vocab = persist(vocab.select(TERM, TERM_ID, DF))
        weighted = rows.join(vocab, on=TERM)
        weight = _weight_expr(variant, n_docs, avgdl, k1, b).cast(DataType.float32()).alias(WEIGHT)
        postings = persist(weighted.select(TERM_ID, DOC, VALUE, weight))  # unsorted: the searchers order them
        lengths = postings.groupby(DOC).agg(col(VALUE).sum().alias(LENGTH))
        documents = docs.join(lengths, on=DOC, how="left").select(
            DOC, S.DOC_ID, col(LENGTH).fill_null(0.0).cast(DataType.float64())
        )
        return cls(Postings(postings, vocab, persist(documents)), tokenizer, k1, b, variant, n_docs, avgdl)

    @classmethod
    def _build_pooled(cls, corpus: daft.DataFrame, tokenizer: Tokenizer, k1, b, variant) -> BM25Index:
        """The general path: one row per token, summed per (doc id, term) (rows sharing a doc id pooled)."""
        rows = tokenizer.terms(corpus, S.DOC_ID, document_text()).with_column(VALUE, lit(1.0))
        base = build_postings(rows.select(S.DOC_ID, TERM, VALUE), documents=corpus)
        lengths = base.postings.groupby(DOC).agg(col(VALUE).sum().alias(LENGTH))
        documents = base.documents.join(lengths, on=DOC, how="left").select(
            DOC, S.DOC_ID, col(LENGTH).fill_null(0.0).cast(DataType.float64())
        )
        documents = persist(documents)
        n_docs = documents.count_rows()
        total = documents.sum(LENGTH).to_pydict()[LENGTH][0] or 0.0
        index = cls(
            Postings(base.postings, base.vocabulary, documents), tokenizer, k1, b, variant, n_docs, total / n_docs
        )
        return index._weigh()

    def with_params(self, *, k1: float | None = None, b: float | None = None, variant: str | None = None) -> BM25Index:
        """The same postings re-weighted with other parameters (no re-tokenising)."""
        return replace(
            self,
            path=None,
            k1=self.k1 if k1 is None else k1,
            b=self.b if b is None else b,
            variant=variant or self.variant,
        )._weigh()

    def _weigh(self) -> BM25Index:
        _check(self.k1, self.b, self.variant)
        p = self.postings
        joined = p.postings.select(TERM_ID, DOC, VALUE).join(p.vocabulary.select(TERM_ID, DF), on=TERM_ID)
        joined = joined.join(p.documents.select(DOC, LENGTH), on=DOC)
        weight = _weight_expr(self.variant, self.n_docs, self.avgdl, self.k1, self.b)
        postings = joined.select(TERM_ID, DOC, VALUE, weight.cast(DataType.float32()).alias(WEIGHT))
        postings = persist(postings)  # unsorted: the searchers order what they load
        return replace(self, postings=Postings(postings, p.vocabulary, p.documents))

    def settings(self) -> dict:
        """What ``index.json`` records."""
        return {
            "format": _FORMAT,
            "tokenizer": self.tokenizer.to_dict(),
            "k1": self.k1,
            "b": self.b,
            "variant": self.variant,
            "n_docs": self.n_docs,
            "avgdl": self.avgdl,
        }

    def save(self, path: str) -> BM25Index:
        """Write the index directory (Parquet folders and ``index.json``), replacing any index there; return the
        index read back from it (searching a saved index loads its postings once per worker)."""
        with atomic_directory(path, "BM25 index") as tmp:
            self.postings.save(tmp)
            with open(os.path.join(tmp, _META), "w") as fh:
                json.dump(self.settings(), fh, indent=1)
        return BM25Index.load(path)

    @classmethod
    def load(cls, path: str) -> BM25Index:
        """Open an index directory written by :meth:`save` (the Parquet files are read when searched)."""
        meta_path = os.path.join(path, _META)
        if not os.path.exists(meta_path):
            raise DataError(f"{path}: not a BM25 index (no {_META}); build one with BM25Index.build(...).save(path)")
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta.get("format") != _FORMAT:
            raise DataError(f"{meta_path}: format {meta.get('format')!r}, expected {_FORMAT!r}; rebuild the index")
        return cls(
            postings=Postings.load(path),
            tokenizer=Tokenizer.from_dict(meta["tokenizer"]),
            k1=meta["k1"],
            b=meta["b"],
            variant=meta["variant"],
            n_docs=meta["n_docs"],
            avgdl=meta["avgdl"],
            path=path,
        )


def _weight_expr(variant: str, n_docs: int, avgdl: float, k1: float, b: float) -> daft.Expression:
    """The BM25 weight of columns ``value`` (tf), ``df`` and ``length`` (dl), in float64."""
    return bm25_weight(
        variant,
        tf=col(VALUE),
        df=col(DF).cast(DataType.float64()),
        dl=col(LENGTH),
        n_docs=float(n_docs),
        avgdl=avgdl,
        k1=k1,
        b=b,
    )


def _check(k1: float, b: float, variant: str) -> None:
    if variant not in VARIANTS:
        raise DataError(f"unknown BM25 variant {variant!r}: expected one of {sorted(VARIANTS)}")
    if k1 < 0 or not 0 <= b <= 1:
        raise DataError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")

"""The lexical tokenizer: lowercase, split on a regex, drop stopwords, stem; as Daft expressions.

It reproduces ``bm25s.tokenize(texts, lower=True, token_pattern=r"(?u)\\b\\w\\w+\\b", stopwords=..., stemmer=...)``
token for token, in bm25s's order: lowercase the text, find the tokens, drop stopwords (compared with the
lowercased token, before stemming), then stem what is left. The default pattern is scikit-learn's
``CountVectorizer`` pattern: maximal runs of two or more word characters, where a word character is Python's
``\\w`` (Unicode letters and numbers, and ``_``). Daft's regexes are Rust's, whose ``\\w`` also takes combining
marks (Hebrew niqqud, Devanagari vowel signs), so the default pattern runs as the equivalent
``[\\p{L}\\p{N}_]{2,}``, computed as a split on runs of other characters keeping pieces of two or more characters
(Arrow's ``split_pattern_regex``, 3x faster than Daft's ``regexp_extract_all``); any other pattern is handed to
Rust's regex engine unchanged.

    >>> tok = Tokenizer(stopwords="en", stemmer="english")
    >>> df = daft.from_pydict({"text": ["The Cats are running, naïvely!"]})
    >>> df.select(tok.tokens(daft.col("text"))).to_pydict()["text"]
    [['cat', 'run', 'naïv']]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression, col

from daft_retrieval.errors import DataError
from daft_retrieval.schema import TERM
from daft_retrieval.text.stem import check_stemmer, stem_array, stem_words
from daft_retrieval.text.stopwords import stopword_list

__all__ = ["BATCH_ROWS", "DEFAULT_PATTERN", "Tokenizer"]

DEFAULT_PATTERN = r"(?u)\b\w\w+\b"
# Python's \w is exactly [\p{L}\p{N}_] (checked over every code point of Python's Unicode database), and a
# findall of \b\w\w+\b returns the maximal runs of two or more of them.
_WORD_RUN_PATTERNS = (DEFAULT_PATTERN, r"\b\w\w+\b")  # both mean [\p{L}\p{N}_]{2,}
_NON_WORD = r"[^\p{L}\p{N}_]+"
BATCH_ROWS = 4096  # texts per tokenizer batch: a corpus is tokenised a slice at a time, never all at once


@dataclass(frozen=True)
class Tokenizer:
    """Tokenizer settings: ``pattern`` (a regex whose matches are the tokens), ``lowercase``, ``stopwords``
    (None, a list name such as "en", or a tuple of words) and ``stemmer`` (None or a Snowball algorithm name
    such as "english"; needs PyStemmer: ``pip install -e '.[stem]'`` in the checkout).
    """

    pattern: str = DEFAULT_PATTERN
    lowercase: bool = True
    stopwords: str | tuple[str, ...] | None = None
    stemmer: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stopwords, str):
            stopword_list(self.stopwords)
        elif self.stopwords is not None:
            object.__setattr__(self, "stopwords", tuple(self.stopwords))
        if self.stemmer is not None:
            check_stemmer(self.stemmer)
        if self.pattern not in _WORD_RUN_PATTERNS:  # Daft's (Rust) regex syntax: checked by Daft, now
            try:
                probe = daft.from_pydict({"t": ["probe"]})
                probe.select(daft.functions.regexp_extract_all(daft.col("t"), self.pattern)).to_pydict()
            except Exception as exc:
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                raise DataError(f"tokenizer pattern {self.pattern!r} is not a valid regex: {reason}") from None

    @property
    def stopword_set(self) -> tuple[str, ...]:
        """The stopwords as a tuple (empty when none)."""
        if self.stopwords is None:
            return ()
        return stopword_list(self.stopwords) if isinstance(self.stopwords, str) else self.stopwords

    def to_dict(self) -> dict:
        """Settings as JSON-ready values (stored with an index)."""
        d = asdict(self)
        if isinstance(self.stopwords, tuple):
            d["stopwords"] = list(self.stopwords)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Tokenizer:
        """Inverse of :meth:`to_dict`."""
        stopwords = d.get("stopwords")
        return cls(
            pattern=d.get("pattern", DEFAULT_PATTERN),
            lowercase=d.get("lowercase", True),
            stopwords=tuple(stopwords) if isinstance(stopwords, list) else stopwords,
            stemmer=d.get("stemmer"),
        )

    def split(self, text: Expression) -> Expression:
        """``list<string>`` of the raw tokens: lowercase (if set), then every match of ``pattern``."""
        text = text.fill_null("")
        if self.lowercase:
            text = text.lower()
        if self.pattern in _WORD_RUN_PATTERNS:
            return _word_runs(text)
        return daft.functions.regexp_extract_all(text, self.pattern)

    def tokens(self, text: Expression) -> Expression:
        """``list<string>`` of the final tokens of a text column (stopwords dropped, stems), in text order."""
        tokens = self.split(text)
        if not self.stopwords and self.stemmer is None:
            return tokens
        return _filter_and_stem(tokens, self.stopword_set, self.stemmer)

    def terms(self, frame: daft.DataFrame, key: str, text: Expression) -> daft.DataFrame:
        """One row ``key, term`` per token of ``text`` in each row of ``frame`` (the indexing hot path).

        Splitting, exploding and stopword removal are native Daft; only stemming calls PyStemmer.
        """
        exploded = frame.select(col(key), self.split(text).alias(TERM)).explode(TERM)
        kept = exploded.where(col(TERM).not_null())
        if self.stopwords:
            kept = kept.where(~col(TERM).is_in(list(self.stopword_set)))
        if self.stemmer is not None:
            kept = kept.with_column(TERM, stem_words(col(TERM), self.stemmer))
        return kept


@daft.func.batch(return_dtype=DataType.list(DataType.string()), batch_size=BATCH_ROWS)
def _word_runs(texts: daft.Series) -> daft.Series:
    """Maximal runs of two or more of ``[\\p{L}\\p{N}_]`` in each text, in order."""
    array = _large_strings(texts.to_arrow())
    pieces = pc.split_pattern_regex(array, _NON_WORD)
    values = pc.list_flatten(pieces)
    parents = pc.list_parent_indices(pieces).to_numpy()
    keep = pc.greater_equal(pc.utf8_length(values), 2)
    values = values.filter(keep)
    parents = parents[keep.to_numpy(zero_copy_only=False)]
    return _lists(values, parents, pieces, texts.name())


@daft.func.batch(return_dtype=DataType.list(DataType.string()), batch_size=BATCH_ROWS)
def _filter_and_stem(lists: daft.Series, stopwords: tuple[str, ...], stemmer: str | None) -> daft.Series:
    """Drop ``stopwords`` from each token list, then stem the rest (vectorised over the whole batch)."""
    array = lists.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_list(pa.large_string()))
    values = pc.list_flatten(array)
    parents = pc.list_parent_indices(array).to_numpy()
    if stopwords:
        keep = pc.invert(pc.is_in(values, value_set=pa.array(stopwords, type=pa.large_string())))
        keep = keep.fill_null(True)
        values = values.filter(keep)
        parents = parents[keep.to_numpy(zero_copy_only=False)]
    if stemmer is not None:
        values = stem_array(values, stemmer)
    return _lists(values, parents, array, lists.name())


def _large_strings(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.large_string())


def _lists(values: pa.Array, parents: np.ndarray, like: pa.Array, name: str) -> daft.Series:
    """``values`` regrouped into one list per row of ``like`` (``parents``: each value's row; nulls kept)."""
    counts = np.bincount(parents, minlength=len(like))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    mask = like.is_null() if like.null_count else None
    result = pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return daft.Series.from_arrow(result, name=name)

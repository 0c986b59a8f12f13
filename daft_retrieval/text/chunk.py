"""Long documents as overlapping windows of the model's own tokens (passages), each with the document's title.

A document's text is tokenised by the encoder's tokenizer (no special tokens) and cut into windows of ``tokens``
word pieces starting every ``stride`` (``stride = tokens``: no overlap; the last window ends at the text's end). A
window's text is the slice of the original text its tokens cover, so nothing is re-spelled; its title is the
document's, so :func:`daft_retrieval.schema.document_text` repeats the title in every chunk (Dai & Callan, "Deeper
Text Understanding for IR with Contextual Neural Language Modeling", SIGIR 2019). ``tokens`` counts the text's
tokens only: keep ``tokens`` + the title's tokens + 2 under the model's ``max_seq_length``, or the encoder cuts the
window's end.

:func:`chunk_corpus` gives the chunk corpus: ``doc_id`` (the chunk's id, ``<n>@<doc_id>``), ``title``, ``text``,
``parent`` (the document) and ``chunk`` (n, from 0). A document with an empty text has one chunk, its title.

    >>> Chunking(tokens=128, stride=64, agg="max")
    Chunking(tokens=128, stride=64, agg='max')
    >>> Chunking(tokens=128, stride=256)
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: chunk stride must be between 1 and the chunk length (128), not 256
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import daft
import pyarrow as pa
from daft import DataType, col

from daft_retrieval import registry as R
from daft_retrieval import schema as S
from daft_retrieval.errors import DataError

if TYPE_CHECKING:
    from daft_retrieval.encode.descriptor import ModelConfig

__all__ = ["CHUNK", "PARENT", "Chunking", "chunk_corpus", "windows", "word_windows"]

PARENT = "parent"
CHUNK = "chunk"
AGGS = tuple(R.CHUNK_AGGS.names())  # max (MaxP), first (FirstP), sum (SumP)
# numbered in the method: a select reading explode(index_column=)'s column fails to plan in Daft 0.7.26
_PIECES = DataType.list(DataType.struct({CHUNK: DataType.int64(), S.TEXT: DataType.string()}))


@dataclass(frozen=True)
class Chunking:
    """``tokens`` per window, a window every ``stride`` tokens (default ``tokens``), and how a document's score
    comes from its chunks' (``agg``: max = MaxP, first = FirstP, sum = SumP)."""

    tokens: int
    stride: int | None = None
    agg: str = "max"

    def __post_init__(self) -> None:
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 1:
            raise DataError(f"chunk length must be an integer >= 1 (tokens), not {self.tokens!r}")
        if self.stride is None:
            object.__setattr__(self, "stride", self.tokens)
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or not 1 <= self.stride <= self.tokens:
            raise DataError(f"chunk stride must be between 1 and the chunk length ({self.tokens}), not {self.stride}")
        if self.agg not in AGGS:
            names = ", ".join(AGGS)
            raise DataError(f"chunk aggregation must be one of {names} (MaxP, FirstP, SumP), not {self.agg!r}")

    def label(self) -> str:
        """``chunk128max`` or ``chunk128s64sum`` (a stride other than the length is named)."""
        stride = "" if self.stride == self.tokens else f"s{self.stride}"
        return f"chunk{self.tokens}{stride}{self.agg}"


def windows(n_tokens: int, tokens: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges [start, end) of the windows over ``n_tokens`` tokens: one every ``stride``, the last ending at
    ``n_tokens`` (a text of no token: one empty window).

    >>> windows(10, 4, 4), windows(10, 4, 3), windows(3, 4, 2), windows(0, 4, 4)
    ([(0, 4), (4, 8), (8, 10)], [(0, 4), (3, 7), (6, 10)], [(0, 3)], [(0, 0)])
    """
    out, start = [], 0
    while True:
        end = min(start + tokens, n_tokens)
        out.append((start, end))
        if end >= n_tokens:
            return out
        start += stride


@daft.cls
class _Chunker:
    """The windows of each text in the tokenizer of ``model`` (the model loads once per process, shared with its
    encoder)."""

    def __init__(self, model: ModelConfig, tokens: int, stride: int) -> None:
        self.tokenizer = model.build()[0].tokenizer
        self.tokens, self.stride = tokens, stride

    @daft.method.batch(return_dtype=_PIECES, batch_size=256)
    def split(self, texts: daft.Series) -> pa.Array:
        values = [t or "" for t in texts.to_pylist()]
        encoded = self.tokenizer(values, add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for i, text in enumerate(values):
            offsets, words = encoded["offset_mapping"][i], encoded.word_ids(i)
            cuts = word_windows(words, self.tokens, self.stride)
            pieces = [text[offsets[a][0] : offsets[b - 1][1]] if b > a else text for a, b in cuts]
            out.append([{CHUNK: n, S.TEXT: piece} for n, piece in enumerate(pieces)])
        return pa.array(out, type=_PIECES.to_arrow_dtype())


def word_windows(words: list[int | None], tokens: int, stride: int) -> list[tuple[int, int]]:
    """:func:`windows` over tokens whose word numbers are ``words``, moved so that no window begins or ends inside
    a word: each end goes back to the start of the word it cuts (unless that empties the window: a word longer
    than ``tokens`` is cut), the next window starts ``stride`` tokens after this one's start, moved back to its
    word's start too (``stride = tokens``: at this one's end, so the windows tile the text).

    >>> word_windows([0, 0, 1, 1, 1, 2], 4, 4)  # words: 2 pieces, 3 pieces, 1 piece
    [(0, 2), (2, 6)]
    """
    n = len(words)
    starts = [i for i in range(n) if i == 0 or words[i] is None or words[i] != words[i - 1]]

    def back(i: int) -> int:
        return starts[bisect.bisect_right(starts, i) - 1] if starts else i

    out, start = [], 0
    while True:
        if start + tokens >= n:
            out.append((start, n))
            return out
        end = back(start + tokens)
        end = end if end > start else start + tokens
        out.append((start, end))
        following = end if stride == tokens else back(start + stride)
        start = following if following > start else start + stride


def chunk_corpus(corpus: daft.DataFrame, chunking: Chunking, model: ModelConfig) -> daft.DataFrame:
    """The chunk corpus of ``corpus`` (``doc_id, title, text``) in ``model``'s tokenizer: the module doc has its
    columns."""
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    chunker = _Chunker(model, chunking.tokens, chunking.stride)
    pieces = corpus.select(col(S.DOC_ID).alias(PARENT), col(S.TITLE), chunker.split(col(S.TEXT)).alias("pieces"))
    exploded = pieces.explode("pieces").select(col(PARENT), col(S.TITLE), col("pieces").unnest())
    chunk_id = col(CHUNK).cast(DataType.string()).concat("@").concat(col(PARENT))
    return exploded.select(chunk_id.alias(S.DOC_ID), col(S.TITLE), col(S.TEXT), col(PARENT), col(CHUNK))

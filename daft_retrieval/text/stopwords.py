"""Named stopword lists.

``en`` is bm25s's English list (``bm25s.stopwords.STOPWORDS_EN``, itself the Lucene/Elasticsearch English
stop set of 33 words), so an index built with ``stopwords="en"`` matches ``bm25s.tokenize(..., stopwords="en")``.

    >>> "the" in STOPWORDS["en"], len(STOPWORDS["en"])
    (True, 33)
"""

from __future__ import annotations

from daft_retrieval.errors import DataError

__all__ = ["STOPWORDS", "stopword_list"]

_EN = (  # noqa: SIM905 (33 words read better as one string)
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with"
).split()

STOPWORDS: dict[str, tuple[str, ...]] = {"en": tuple(_EN), "english": tuple(_EN)}


def stopword_list(name: str) -> tuple[str, ...]:
    """The stopwords called ``name`` ("en" or "english"); a ValueError lists the known names otherwise."""
    if name not in STOPWORDS:
        raise DataError(f"unknown stopword list {name!r}: expected one of {sorted(STOPWORDS)} or a tuple of words")
    return STOPWORDS[name]

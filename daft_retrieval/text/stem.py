"""Snowball stemming (PyStemmer) of a Daft string column, one batch at a time.

Each batch is dictionary-encoded first, so every distinct word is stemmed once per batch (the exploded token
column of a corpus repeats words a lot); nulls stay null.

    >>> df = daft.from_pydict({"t": ["running", "runs", None]})
    >>> df.select(stem_words(daft.col("t"), "english")).to_pydict()["t"]  # doctest: +SKIP
    ['run', 'run', None]
"""

from __future__ import annotations

import threading

import daft
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType

from daft_retrieval.errors import DataError

__all__ = ["check_stemmer", "stem_array", "stem_words"]

_INSTALL = "pip install -e '.[stem]' in the daft_retrieval checkout (bash scripts/install.sh dev has it)"
_LOCAL = threading.local()


def _stemmer_module():
    try:
        import Stemmer
    except ImportError as e:
        raise ImportError(f"stemming needs PyStemmer, which is not installed: {_INSTALL}") from e
    return Stemmer


def check_stemmer(algorithm: str) -> None:
    """Raise ImportError (PyStemmer missing, naming the extra) or ValueError (unknown algorithm) now."""
    algorithms = _stemmer_module().algorithms()
    if algorithm not in algorithms:
        raise DataError(f"unknown stemmer {algorithm!r}: expected one of {sorted(algorithms)}")


def _stemmer(algorithm: str):
    """One PyStemmer object per thread and algorithm (they keep a cache and are not shared across threads)."""
    cache = _LOCAL.__dict__.setdefault("stemmers", {})
    if algorithm not in cache:
        cache[algorithm] = _stemmer_module().Stemmer(algorithm)
    return cache[algorithm]


def stem_array(words: pa.Array | pa.ChunkedArray, algorithm: str) -> pa.Array:
    """Stem an Arrow string array, each distinct word once."""
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    if len(words) == 0:
        return pa.array([], type=pa.large_string())
    encoded = pc.dictionary_encode(words)
    stems = _stemmer(algorithm).stemWords(encoded.dictionary.to_pylist())
    return pa.array(stems, type=pa.large_string()).take(encoded.indices)


@daft.func.batch(return_dtype=DataType.string())
def stem_words(words: daft.Series, algorithm: str) -> daft.Series:
    """Stem a string column with the Snowball ``algorithm`` ("english", "french", ...)."""
    return daft.Series.from_arrow(stem_array(words.to_arrow(), algorithm), name=words.name())

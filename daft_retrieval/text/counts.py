"""Per-row term counts of a token-list column, one batch at a time (a document's bag of words).

Each row's ``list<string>`` of tokens becomes ``list<struct{term, value, length}>``: its distinct tokens in
first-seen order, how often each occurs (``value``, a float64 count) and the row's token count (``length``, the
same in every entry of a row), so a corpus can be exploded into one row per (document, term), carrying the
document length BM25 needs, without a global groupby over every token.

    >>> df = daft.from_pydict({"t": [["b", "a", "b"], [], None]})
    >>> df.select(term_counts(daft.col("t"))).to_pydict()["t"]
    [[{'term': 'b', 'value': 2.0, 'length': 3.0}, {'term': 'a', 'value': 1.0, 'length': 3.0}], [], None]
"""

from __future__ import annotations

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType

from daft_retrieval.schema import TERM, VALUE
from daft_retrieval.text.tokenize import BATCH_ROWS

__all__ = ["LENGTH", "TERM_COUNTS", "term_counts"]

LENGTH = "length"

_FIELDS = {TERM: DataType.string(), VALUE: DataType.float64(), LENGTH: DataType.float64()}
TERM_COUNTS = DataType.list(DataType.struct(_FIELDS))


@daft.func.batch(return_dtype=TERM_COUNTS, batch_size=BATCH_ROWS)
def term_counts(lists: daft.Series) -> daft.Series:
    """Distinct tokens of each row with their counts and the row's length (nulls stay null)."""
    array = lists.to_arrow()
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    array = array.cast(pa.large_list(pa.large_string()))
    values = pc.list_flatten(array)
    parents = pc.list_parent_indices(array).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_words = max(1, len(encoded.dictionary))
    keys, first, counts = np.unique(parents * n_words + codes, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # per row, terms in first-seen order
    first, counts, rows = first[order], counts[order], keys[order] // n_words
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(array)))]).astype(np.int64)
    terms = values.take(pa.array(first)) if len(first) else pa.array([], pa.large_string())
    lengths = np.diff(np.asarray(array.offsets, dtype=np.int64)).astype(np.float64)[rows]
    columns = [terms, pa.array(counts.astype(np.float64)), pa.array(lengths)]
    pairs = pa.StructArray.from_arrays(columns, names=[TERM, VALUE, LENGTH])
    mask = array.is_null() if array.null_count else None
    return daft.Series.from_arrow(pa.LargeListArray.from_arrays(pa.array(offsets), pairs, mask=mask), lists.name())

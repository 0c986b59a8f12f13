"""A dataset's content fingerprint: what its saved runs are keyed by, so a run is reused only for the same data.

SHA-256 over the corpus, the queries and the qrels: each row's fields joined by a separator and hashed by Daft
(two 64-bit hashes, :func:`daft_retrieval.cache.fingerprint.text_hashes`), the hashes sorted (the same
fingerprint whatever the rows' order, files and partitions) and counted. A changed title, query, judgement, or an
added or removed row gives another fingerprint (PyTerrier's saved runs went stale when topics changed, its #304).

    >>> dataset_fingerprint(load_beir("data/demo"))  # doctest: +SKIP
    '3f1c...'
"""

from __future__ import annotations

import hashlib

import daft
import numpy as np
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.cache.fingerprint import HASH_1, HASH_2, text_hashes

__all__ = ["dataset_fingerprint"]

_PARTS = (("corpus", S.CORPUS), ("queries", S.QUERIES), ("qrels", S.QRELS))


def _row_hashes(frame: daft.DataFrame, columns: list[str]) -> np.ndarray:
    """Each row's two 64-bit hashes, sorted: ``rows x 2`` uint64."""
    fields = [col(c).cast(DataType.string()).fill_null("\x00") for c in columns]
    row = daft.functions.concat_ws("\x1f", *fields)
    table = frame.select(*text_hashes(row)).to_arrow()
    pairs = np.stack([table.column(HASH_1).to_numpy(), table.column(HASH_2).to_numpy()], axis=1).astype(np.uint64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs


def dataset_fingerprint(dataset) -> str:
    """16 hex digits of the content of ``dataset`` (a :class:`~daft_retrieval.load.dataset.Dataset`)."""
    digest = hashlib.sha256(b"daft_retrieval dataset/1")
    for (name, schema), frame in zip(_PARTS, (dataset.corpus, dataset.queries, dataset.qrels)):
        hashes = _row_hashes(frame, list(schema))
        digest.update(f"\n{name} {len(hashes)}\n".encode())
        digest.update(np.ascontiguousarray(hashes).tobytes())
    return digest.hexdigest()[:16]

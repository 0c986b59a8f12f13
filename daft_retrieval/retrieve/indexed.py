"""The sequence every index-backed search follows: refuse a bad index folder before any encoding, encode the
queries, build the index (at ``index_dir``, or in a temporary folder removed afterwards), search it, persist.

    >>> run = indexed_search(None, "daft-retrieval-index-", queries=encode_queries, build=build, search=search)  # doctest: +SKIP
"""  # noqa: E501

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import daft

from daft_retrieval.index.atomic import check_index_dir
from daft_retrieval.paths import scratch_directory
from daft_retrieval.runner import persist

__all__ = ["indexed_search"]

I = TypeVar("I")  # noqa: E741


def indexed_search(
    index_dir: str | None,
    prefix: str,
    *,
    queries: Callable[[], daft.DataFrame],
    build: Callable[[str], I],
    search: Callable[[I, daft.DataFrame], daft.DataFrame],
) -> daft.DataFrame:
    """``search(build(folder), queries())``, persisted: ``folder`` is ``index_dir`` (checked first, so a folder
    not ours to replace is refused before any model runs) or ``<scratch>/<prefix>*/index``."""
    if index_dir is not None:
        check_index_dir(index_dir)
    encoded = queries()
    if index_dir is not None:
        return persist(search(build(index_dir), encoded))
    with scratch_directory(prefix) as tmp:
        return persist(search(build(os.path.join(tmp, "index")), encoded))

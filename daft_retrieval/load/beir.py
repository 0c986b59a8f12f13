"""BEIR collections: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv`` in one folder (local or URL).

Thakur et al., "BEIR: A Heterogeneous Benchmark for Zero-shot Evaluation of Information Retrieval Models", 2021.
"""

from __future__ import annotations

import os

import daft

from daft_retrieval.errors import DataError
from daft_retrieval.load.archive import beir_archive, is_archive
from daft_retrieval.load.dataset import Dataset, check_dataset
from daft_retrieval.load.tables import read_corpus, read_queries
from daft_retrieval.load.trec import read_qrels

__all__ = ["load_beir"]


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts]) if "://" in root else os.path.join(root, *parts)


def _layout(path: str, needed: str, split: str) -> DataError:
    return DataError(
        f"{path}: {needed} is missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels/{split}.tsv; "
        "each may be gzip-compressed, .gz)."
    )


def _local_files(path: str, split: str) -> list[str]:
    if os.path.isfile(path):
        raise DataError(f"{path}: is a file; give the BEIR folder that holds corpus.jsonl, queries.jsonl, qrels/")
    if not os.path.isdir(path):
        raise DataError(f"{path}: no such folder. A BEIR folder holds corpus.jsonl, queries.jsonl, qrels/.")
    files = [_join(path, "corpus.jsonl"), _join(path, "queries.jsonl"), _join(path, "qrels", f"{split}.tsv")]
    for i, needed in enumerate(files):
        if not os.path.exists(needed) and os.path.exists(needed + ".gz"):
            files[i] = needed + ".gz"  # gzip-compressed files are read as they are
        elif not os.path.exists(needed):
            raise _layout(path, needed, split)
    return files


def _remote_files(path: str, split: str, io_config: daft.io.IOConfig, timeout: float, given: bool) -> list[str]:
    """The three files of a remote folder, each asked for within ``timeout`` (a dead server fails here)."""
    from daft_retrieval.load.remote import check_remote

    files = [_join(path, "corpus.jsonl"), _join(path, "queries.jsonl"), _join(path, "qrels", f"{split}.tsv")]
    for i, needed in enumerate(files):
        options = {"io_config": io_config, "timeout": timeout, "missing_ok": True, "authorised": given}
        if check_remote(needed, **options):
            continue
        if not check_remote(needed + ".gz", **options):
            raise _layout(path, needed, split)
        files[i] = needed + ".gz"
    return files


def load_beir(
    path: str | os.PathLike,
    *,
    split: str = "test",
    io_config: daft.io.IOConfig | None = None,
    timeout: float | None = None,
    max_archive_bytes: int | str | None = None,
    max_archive_ratio: float | None = None,
) -> Dataset:
    """Load a BEIR folder (local, http(s)://, s3://, ...) or zip archive (``.zip`` path or URL, ``beir:NAME``)
    into a checked :class:`Dataset`.

    Remote folders are read by Daft (``io_config`` for credentials and endpoints; by default
    :func:`~daft_retrieval.load.io.s3_config`). ``timeout`` (seconds, default ``$DAFT_RETRIEVAL_TIMEOUT`` or 60)
    bounds how long one remote file may keep a read waiting, retries included: each file is asked for first, and
    a server that fails, never answers or loops ends in a :class:`~daft_retrieval.errors.RemoteError` naming
    the URL. A given ``io_config`` keeps its own timeouts for Daft's reads. Archives are unpacked once into a
    folder of the user's cache named by their content, within ``max_archive_bytes`` (default 20 GiB) and
    ``max_archive_ratio`` (200x) (see :mod:`~daft_retrieval.load.archive`).

    >>> ds = load_beir("data/demo")
    >>> ds.corpus.column_names, ds.queries.column_names, ds.qrels.column_names
    (['doc_id', 'title', 'text'], ['query_id', 'text'], ['query_id', 'doc_id', 'relevance'])
    """
    from daft_retrieval.load.io import remote_timeout, s3_config
    from daft_retrieval.load.remote import reading

    path = os.fspath(path)
    seconds = remote_timeout(timeout)
    if is_archive(path):
        path = beir_archive(path, timeout=seconds, max_bytes=max_archive_bytes, max_ratio=max_archive_ratio)
    if "://" not in path:
        files = _local_files(path, split)
        corpus = read_corpus(files[0], io_config=io_config)
        queries = read_queries(files[1], io_config=io_config)
        qrels = read_qrels(files[2], io_config=io_config)
        return check_dataset(corpus, queries, qrels, os.path.basename(path.rstrip("/")) or path)
    given = io_config is not None
    io_config = io_config or s3_config(timeout=seconds)
    files = _remote_files(path, split, io_config, seconds, given)
    with reading(files[0], timeout=seconds):
        corpus = read_corpus(files[0], io_config=io_config)
    with reading(files[1], timeout=seconds):
        queries = read_queries(files[1], io_config=io_config)
    with reading(files[2], timeout=seconds):
        qrels = read_qrels(files[2], io_config=io_config)
        return check_dataset(corpus, queries, qrels, os.path.basename(path.rstrip("/")) or path)

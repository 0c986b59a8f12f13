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


def load_beir(path: str | os.PathLike, *, split: str = "test", io_config: daft.io.IOConfig | None = None) -> Dataset:
    """Load a BEIR folder (local, http(s)://, s3://, ...) or zip archive (``.zip`` path or URL, ``beir:NAME``)
    into a checked :class:`Dataset`. Remote folders are read by Daft (``io_config`` for credentials/endpoints);
    archives are downloaded once into the user's cache and unpacked.

    >>> ds = load_beir("data/demo")
    >>> ds.corpus.column_names, ds.queries.column_names, ds.qrels.column_names
    (['doc_id', 'title', 'text'], ['query_id', 'text'], ['query_id', 'doc_id', 'relevance'])
    """
    path = os.fspath(path)
    if is_archive(path):
        path = beir_archive(path)
    local = "://" not in path
    if local and os.path.isfile(path):
        raise DataError(f"{path}: is a file; give the BEIR folder that holds corpus.jsonl, queries.jsonl, qrels/")
    if local and not os.path.isdir(path):
        raise DataError(f"{path}: no such folder. A BEIR folder holds corpus.jsonl, queries.jsonl, qrels/.")
    files = [_join(path, "corpus.jsonl"), _join(path, "queries.jsonl"), _join(path, "qrels", f"{split}.tsv")]
    if local:
        for i, needed in enumerate(files):
            if not os.path.exists(needed) and os.path.exists(needed + ".gz"):
                files[i] = needed + ".gz"  # gzip-compressed files are read as they are
            elif not os.path.exists(needed):
                raise DataError(
                    f"{path}: {needed} is missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels/{split}.tsv; "
                    "each may be gzip-compressed, .gz)."
                )
    corpus = read_corpus(files[0], io_config=io_config)
    queries = read_queries(files[1], io_config=io_config)
    qrels = read_qrels(files[2], io_config=io_config)
    name = os.path.basename(path.rstrip("/")) or path
    return check_dataset(corpus, queries, qrels, name)

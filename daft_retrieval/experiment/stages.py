"""Run one system spec on a dataset: the library call each kind of spec stands for, returning a run frame.

The CLI's ``eval``, ``search`` and ``compare`` and :class:`~daft_retrieval.experiment.Experiment` all run systems
through :func:`run_system`, so a system means the same thing wherever it is given.

    >>> run = run_system(Retrieve(retriever="bm25", k=10), dataset, {})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import daft

from daft_retrieval.errors import DataError
from daft_retrieval.experiment.spec import Fuse, Rerank, Retrieve, System

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache
    from daft_retrieval.encode.descriptor import ModelConfig
    from daft_retrieval.load.dataset import Dataset

__all__ = ["check_system", "descriptor", "labels", "model_provenance", "run_provenance", "run_system", "sources"]


def descriptor(kind: str, model: str, spec: Retrieve | Rerank) -> ModelConfig:
    """The model descriptor of a retriever ("dense", "splade", "late") or a reranker ("cross", "bi", "late")
    with the spec's device, fp16, batch size and maximum length (a cross-encoder's per pair)."""
    options = {"device": spec.device, "fp16": spec.fp16, "batch_size": spec.batch_size, "amp": spec.amp}
    if kind == "cross":
        from daft_retrieval.reranking.cross import CrossConfig

        return CrossConfig(model=model, max_length=spec.max_seq_length, **options)
    if kind == "splade":
        from daft_retrieval.encode.sparse import SparseConfig as config_type
    elif kind == "late":
        from daft_retrieval.encode.tokens import TokenConfig as config_type
    else:
        from daft_retrieval.encode.dense import DenseConfig as config_type
    return config_type(model=model, max_seq_length=spec.max_seq_length, **options)


def check_system(spec: System) -> None:
    """Make (and so check) the light settings of ``spec`` before any work: its model descriptor, BM25 parameters
    and tokenizer."""
    if isinstance(spec, Retrieve):
        spec.chunking()  # checks the chunk length, stride and aggregation
    if isinstance(spec, Retrieve) and spec.retriever == "bm25":
        from daft_retrieval.index.bm25 import _check as check_bm25
        from daft_retrieval.text.tokenize import Tokenizer

        Tokenizer(stopwords=spec.stopwords, stemmer=spec.stemmer)
        check_bm25(spec.k1, spec.b, spec.bm25_variant)
    elif isinstance(spec, Retrieve):
        descriptor(spec.retriever, spec.model, spec)
        from daft_retrieval.index.kind import index_kind

        kind = index_kind(spec.index, retriever=spec.retriever)
        if kind == "faiss":
            from daft_retrieval.index.faiss import FaissOptions

            FaissOptions.of(spec.index_options())
        elif kind == "qdrant":
            from daft_retrieval.index.qdrant import QdrantOptions, check_server

            check_server(QdrantOptions.of(spec.index_options()).url)  # a server that does not answer: before any work
    elif isinstance(spec, Rerank):
        descriptor(spec.reranker, spec.rerank, spec)


def sources(spec: System, earlier: list[str]) -> list[str]:
    """The earlier systems (by label) ``spec`` reads: a fusion's ``runs`` (default all), a rerank's ``of``
    (default the last); none for a retriever."""
    if isinstance(spec, Fuse):
        names = list(spec.runs) if spec.runs else list(earlier)
        missing = [n for n in names if n not in earlier]
        if len(names) < 2 or missing:
            raise DataError(f"'runs' must name at least two earlier systems (unknown: {missing}, earlier: {earlier})")
        return names
    if isinstance(spec, Rerank):
        source = spec.of or (earlier[-1] if earlier else None)
        if source not in earlier:
            raise DataError(f"'of' must name an earlier system, not {source!r}")
        return [source]
    return []


def labels(systems: list[System]) -> list[str]:
    """The systems' names, in order: ``name``, else made from the spec and the systems it reads (``bm25``,
    ``rrf(bm25, dense-all-MiniLM-L6-v2)``, ``bi-all-mpnet-base-v2@100(bm25)``); a name used twice is refused."""
    out: list[str] = []
    for index, spec in enumerate(systems):
        where = f"system {index + 1}"
        if not isinstance(spec, (Retrieve, Fuse, Rerank)):
            raise DataError(f"{where}: expected a Retrieve, Fuse or Rerank spec, not {spec!r}")
        try:
            read = sources(spec, out)
        except DataError as exc:
            raise DataError(f"{where} ({spec.name or type(spec).__name__}): {exc}") from None
        label = spec.label_for(read)
        if label in out:
            raise DataError(f"two systems are named {label!r}: give each a distinct 'name'")
        out.append(label)
    return out


def run_system(
    spec: System, dataset: Dataset, runs: dict[str, daft.DataFrame], cache: EmbeddingCache | None = None
) -> daft.DataFrame:
    """The run of ``spec`` on ``dataset``; ``runs``: the earlier systems' runs by label (what a fusion or a rerank
    reads); ``cache``: the embedding cache of every model."""
    corpus, queries = dataset.corpus, dataset.queries
    if isinstance(spec, Fuse):
        from daft_retrieval.fusion import fuse

        names = sources(spec, list(runs))
        return fuse([runs[n] for n in names], method=spec.fuse, depth=spec.k, **spec.options())
    if isinstance(spec, Rerank):
        from daft_retrieval.reranking import rerank

        model = descriptor(spec.reranker, spec.rerank, spec)
        source = runs[sources(spec, list(runs))[0]]
        cache = None if spec.reranker == "cross" else cache  # a cross-encoder scores pairs: nothing to cache
        return rerank(source, queries, corpus, method=spec.reranker, model=model, depth=spec.depth, cache=cache)
    if spec.retriever == "bm25":
        from daft_retrieval.retrieve.bm25 import bm25_search
        from daft_retrieval.text.tokenize import Tokenizer

        tokenizer = Tokenizer(stopwords=spec.stopwords, stemmer=spec.stemmer)
        return bm25_search(
            corpus, queries, k=spec.k, tokenizer=tokenizer, k1=spec.k1, b=spec.b, variant=spec.bm25_variant
        )
    model = descriptor(spec.retriever, spec.model, spec)
    chunking = spec.chunking()
    if chunking is None:
        return _retrieve(spec, model, corpus, queries, spec.k, cache)
    from daft_retrieval.retrieve.chunked import chunked_search

    def search(chunks: daft.DataFrame, depth: int) -> daft.DataFrame:
        return _retrieve(spec, model, chunks, queries, depth, cache)

    return chunked_search(search, corpus, chunking, model, k=spec.k)


def _retrieve(
    spec: Retrieve,
    model: ModelConfig,
    corpus: daft.DataFrame,
    queries: daft.DataFrame,
    k: int,
    cache: EmbeddingCache | None,
) -> daft.DataFrame:
    """The top ``k`` of the dense, SPLADE or late retriever of ``spec`` over ``corpus``."""
    if spec.retriever == "splade":
        from daft_retrieval.retrieve.splade import splade_search

        if spec.index == "qdrant":
            options = {"index": "qdrant", "index_dir": spec.index_dir, "index_options": spec.index_options()}
            return splade_search(corpus, queries, model=model, k=k, cache=cache, **options)
        return splade_search(corpus, queries, model=model, k=k, cache=cache)
    if spec.retriever == "late":
        from daft_retrieval.retrieve.late import late_search

        options = {"nprobe": spec.nprobe, "candidates": spec.candidates, "nbits": spec.nbits}
        return late_search(corpus, queries, model=model, k=k, cache=cache, **options)
    from daft_retrieval.retrieve.dense import dense_search

    return dense_search(
        corpus,
        queries,
        model=model,
        k=k,
        index_dir=spec.index_dir,
        cache=cache,
        index=spec.index,
        index_options=spec.index_options(),
    )


def model_provenance(spec: System) -> dict:
    """The model spec and its weights digest (None for BM25 and fusions)."""
    if isinstance(spec, Retrieve) and spec.model:
        model = descriptor(spec.retriever, spec.model, spec)
    elif isinstance(spec, Rerank):
        model = descriptor(spec.reranker, spec.rerank, spec)
    else:
        return (
            {"tokenizer": {"stopwords": spec.stopwords, "stemmer": spec.stemmer}} if isinstance(spec, Retrieve) else {}
        )
    from daft_retrieval.cache.fingerprint import weights_digest

    try:
        digest = weights_digest(model.model, model.resolver)
    except Exception:  # a hub id not downloaded: the spec still says which model
        digest = None
    from daft_retrieval.device import compute_dtype

    return {"model": model.model, "weights": digest, "dtype": compute_dtype(model.device, model.fp16, model.amp)}


def run_provenance(spec: System, dataset: str, fingerprint: str, seconds: float) -> dict:
    """What made a run, for the ``#`` lines of its TREC file: the package, the system spec, the dataset and its
    content fingerprint, the model and its weights digest (or the tokenizer) and the seconds it took."""
    import dataclasses

    from daft_retrieval import __version__

    return {
        "package": f"daft_retrieval {__version__}",
        "system": {"kind": type(spec).__name__, **dataclasses.asdict(spec)},
        "dataset": {"name": dataset, "fingerprint": fingerprint},
        "model": model_provenance(spec),
        "seconds": round(seconds, 3),
    }

"""The CLI's commands: each takes the parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from daft_retrieval.errors import DataError

__all__ = ["COMMANDS", "default_dataset"]


def default_dataset() -> str:
    """The bundled demo collection: ``data/demo`` beside the package (a checkout) or in the working directory."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "data" / "demo" / "corpus.jsonl").exists():
            return str(root / "data" / "demo")
    raise DataError("no --dataset given and the bundled data/demo was not found; pass --dataset PATH")


def _print_report(result, args: argparse.Namespace, title: str) -> None:
    from daft_retrieval.report.table import format_aggregate, format_per_query

    if args.per_query:
        print(format_per_query(result.per_query))
    print(format_aggregate({title: result.aggregate}))
    if args.json:
        print(json.dumps(result.aggregate))


def evaluate_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluate import evaluate, parse_measures
    from daft_retrieval.load import read_qrels, read_run

    measures = parse_measures(args.measures)  # bad measures fail before any file is read
    for path in (args.qrels, args.run):
        if not os.path.exists(path) and "://" not in path:
            raise DataError(f"{path}: no such file")
    result = evaluate(read_run(args.run), read_qrels(args.qrels), measures, queries=args.queries_in)
    _print_report(result, args, os.path.basename(args.run))
    return 0


def _retrieve(retriever: str, args: argparse.Namespace, corpus, queries):
    """The run of one retriever (each returns the same run frame)."""
    if retriever == "bm25":
        from daft_retrieval.retrieve.bm25 import bm25_search
        from daft_retrieval.text.tokenize import Tokenizer

        tokenizer = Tokenizer(stopwords=args.stopwords, stemmer=args.stemmer)
        return bm25_search(
            corpus, queries, k=args.k, tokenizer=tokenizer, k1=args.k1, b=args.b, variant=args.bm25_variant
        )
    if retriever == "splade":
        from daft_retrieval.retrieve.splade import splade_search

        return splade_search(corpus, queries, model=args.splade_model, k=args.k)
    from daft_retrieval.encode.dense import DenseConfig
    from daft_retrieval.retrieve.dense import dense_search

    config = DenseConfig(
        model=args.model,
        device=args.device,
        fp16=args.fp16,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
    )
    return dense_search(corpus, queries, config=config, k=args.k, index_dir=args.index_dir)


def _system_name(retriever: str, args: argparse.Namespace) -> str:
    model = {"dense": args.model, "splade": args.splade_model}.get(retriever)
    return f"{retriever}-{os.path.basename(model.rstrip('/'))}" if model else retriever


def _check_fusion(method: str | None, n_runs: int, args: argparse.Namespace) -> None:
    """Fail on bad fusion options before any file is read or model run."""
    if method == "wsum" and (args.weights is None or len(args.weights) != n_runs):
        raise DataError(f"--fuse/--method wsum needs --weights with one weight per run ({n_runs} runs)")


def _fuse(method: str, runs: list, args: argparse.Namespace, depth: int | None):
    """Fuse run frames by ``method`` with the CLI's fusion options (shared by ``fuse`` and ``eval --fuse``)."""
    from daft_retrieval.fuse import FUSIONS

    _check_fusion(method, len(runs), args)
    if method == "rrf":
        return FUSIONS["rrf"](runs, k=args.rrf_k, depth=depth)
    if method == "wsum":
        return FUSIONS["wsum"](runs, args.weights, norm=args.norm, depth=depth)
    return FUSIONS[method](runs, norm=args.norm, depth=depth)


def _search(args: argparse.Namespace) -> tuple:
    """Load the dataset and run every retriever (and the fusion): ``(dataset, {system name: run})``."""
    from daft_retrieval.load import load_beir

    if args.k < 1:
        raise DataError(f"--k must be >= 1, not {args.k}")
    retrievers = list(dict.fromkeys(args.retriever or ["dense"]))
    if args.fuse and len(retrievers) < 2:
        raise DataError("--fuse needs at least two --retriever options")
    if len(retrievers) > 1 and not args.fuse and args.command == "search":
        raise DataError("search writes one run: give one --retriever, or --fuse to combine several")
    _check_fusion(args.fuse, len(retrievers), args)
    dataset = load_beir(args.dataset or default_dataset(), split=args.split)
    for line in dataset.report.problems():
        print(f"warning: {dataset.name}: {line}", file=sys.stderr)
    names = [_system_name(r, args) for r in retrievers]
    print(
        f"{dataset.name}: {dataset.report.documents:,} documents, {dataset.report.queries:,} queries, "
        f"{dataset.report.judgements:,} judgements; {', '.join(names)}",
        file=sys.stderr,
    )
    runs = {name: _retrieve(r, args, dataset.corpus, dataset.queries).collect() for r, name in zip(retrievers, names)}
    if args.fuse:
        runs[f"{args.fuse}({', '.join(names)})"] = _fuse(args.fuse, list(runs.values()), args, args.k).collect()
    return dataset, runs


def _tag(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("_")


def search_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.load import write_run

    _, runs = _search(args)
    name, run = list(runs.items())[-1]
    write_run(run, args.output_run, tag=args.tag or _tag(name))
    print(f"wrote {run.count_rows():,} lines ({name}) to {args.output_run}", file=sys.stderr)
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluate import evaluate, parse_measures
    from daft_retrieval.load import write_run
    from daft_retrieval.report.table import format_aggregate, format_per_query

    measures = parse_measures(args.measures)
    dataset, runs = _search(args)
    name, final = list(runs.items())[-1]
    if args.output_run:
        write_run(final, args.output_run, tag=_tag(name))
    results = {n: evaluate(r, dataset.qrels, measures, queries=args.queries_in) for n, r in runs.items()}
    if args.per_query:
        print(format_per_query(results[name].per_query))
    print(format_aggregate({f"{dataset.name} {n}": r.aggregate for n, r in results.items()}))
    if args.json:
        single = len(results) == 1
        print(json.dumps(results[name].aggregate if single else {n: r.aggregate for n, r in results.items()}))
    return 0


def fuse_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.load import read_run, write_run

    _check_fusion(args.method, len(args.runs), args)
    runs = [read_run(path) for path in args.runs]
    fused = _fuse(args.method, runs, args, args.depth).collect()
    write_run(fused, args.output_run, tag=args.tag or args.method)
    print(
        f"wrote {fused.count_rows():,} lines ({args.method} of {len(runs)} runs) to {args.output_run}", file=sys.stderr
    )
    return 0


COMMANDS = {"evaluate": evaluate_cmd, "search": search_cmd, "eval": eval_cmd, "fuse": fuse_cmd}

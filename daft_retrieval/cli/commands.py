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


_DEFAULT_MODELS = {"dense": "all-MiniLM-L6-v2", "splade": "splade-tiny", "bm25": "bm25"}


def _retrieve(args: argparse.Namespace, corpus, queries):
    """The run of the chosen retriever (each returns the same run frame)."""
    if args.retriever == "bm25":
        from daft_retrieval.retrieve.bm25 import bm25_search
        from daft_retrieval.text.tokenize import Tokenizer

        tokenizer = Tokenizer(stopwords=args.stopwords, stemmer=args.stemmer)
        return bm25_search(
            corpus, queries, k=args.k, tokenizer=tokenizer, k1=args.k1, b=args.b, variant=args.bm25_variant
        )
    if args.retriever == "splade":
        from daft_retrieval.retrieve.splade import splade_search

        return splade_search(corpus, queries, model=args.model, k=args.k)
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


def _search(args: argparse.Namespace):
    from daft_retrieval.load import load_beir

    if args.k < 1:
        raise DataError(f"--k must be >= 1, not {args.k}")
    args.model = args.model or _DEFAULT_MODELS[args.retriever]
    dataset = load_beir(args.dataset or default_dataset(), split=args.split)
    for line in dataset.report.problems():
        print(f"warning: {dataset.name}: {line}", file=sys.stderr)
    print(
        f"{dataset.name}: {dataset.report.documents:,} documents, {dataset.report.queries:,} queries, "
        f"{dataset.report.judgements:,} judgements; retriever {args.retriever} ({args.model})",
        file=sys.stderr,
    )
    run = _retrieve(args, dataset.corpus, dataset.queries).collect()
    return dataset, run


def _tag(args: argparse.Namespace) -> str:
    return getattr(args, "tag", None) or re.sub(r"[^\w.\-]+", "_", f"{args.retriever}-{os.path.basename(args.model)}")


def search_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.load import write_run

    _, run = _search(args)
    write_run(run, args.output_run, tag=_tag(args))
    print(f"wrote {run.count_rows():,} lines to {args.output_run}", file=sys.stderr)
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluate import evaluate, parse_measures
    from daft_retrieval.load import write_run

    measures = parse_measures(args.measures)
    dataset, run = _search(args)
    if args.output_run:
        write_run(run, args.output_run, tag=_tag(args))
    result = evaluate(run, dataset.qrels, measures, queries=args.queries_in)
    _print_report(result, args, f"{dataset.name} {args.retriever} {os.path.basename(args.model)}")
    return 0


def fuse_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.fuse import FUSIONS
    from daft_retrieval.load import read_run, write_run

    if args.method == "wsum" and (args.weights is None or len(args.weights) != len(args.runs)):
        raise DataError(f"--method wsum needs --weights with one weight per run ({len(args.runs)} runs)")
    runs = [read_run(path) for path in args.runs]
    if args.method == "rrf":
        fused = FUSIONS["rrf"](runs, k=args.rrf_k, depth=args.depth)
    elif args.method == "wsum":
        fused = FUSIONS["wsum"](runs, args.weights, norm=args.norm, depth=args.depth)
    else:
        fused = FUSIONS[args.method](runs, norm=args.norm, depth=args.depth)
    fused = fused.collect()
    write_run(fused, args.output_run, tag=args.tag or args.method)
    print(
        f"wrote {fused.count_rows():,} lines ({args.method} of {len(runs)} runs) to {args.output_run}", file=sys.stderr
    )
    return 0


COMMANDS = {"evaluate": evaluate_cmd, "search": search_cmd, "eval": eval_cmd, "fuse": fuse_cmd}

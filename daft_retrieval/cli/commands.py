"""The CLI's commands: each takes the parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from daft_retrieval import registry as R
from daft_retrieval.cli import checks
from daft_retrieval.errors import DataError
from daft_retrieval.progress import QUIET
from daft_retrieval.runner import materialize

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
    from daft_retrieval.evaluation import evaluate, parse_measures
    from daft_retrieval.load import read_qrels, read_run

    measures = parse_measures(args.measures)  # bad measures fail before any file is read
    for path in (args.qrels, args.run):
        if not os.path.exists(path) and "://" not in path:
            raise DataError(f"{path}: no such file")
    result = evaluate(read_run(args.run), read_qrels(args.qrels), measures, queries=args.queries_in, empty="error")
    _print_report(result, args, os.path.basename(args.run))
    return 0


def _load(args: argparse.Namespace):
    """The dataset the options name (read remotely with the S3 options when it is a URL)."""
    from daft_retrieval.load import load_beir
    from daft_retrieval.load.io import s3_config

    io_config = s3_config(args.s3_endpoint, anonymous=args.anonymous, timeout=args.timeout)
    return load_beir(
        args.dataset or default_dataset(),
        split=args.split,
        io_config=io_config,
        timeout=args.timeout,
        max_archive_bytes=args.max_archive_bytes,
        max_archive_ratio=args.max_archive_ratio,
    )


def _cache(args: argparse.Namespace):
    """The embedding cache the options name (None with --no-cache)."""
    if getattr(args, "no_cache", False):
        return None
    from daft_retrieval.cache import EmbeddingCache, default_cache_dir
    from daft_retrieval.load.io import s3_config

    io_config = s3_config(  # the cache's own S3 settings: the dataset's --s3-endpoint/--anonymous never apply
        args.cache_s3_endpoint,
        anonymous=args.cache_anonymous,
        timeout=getattr(args, "timeout", None),
    )
    read_only = getattr(args, "cache_read_only", False)
    return EmbeddingCache(args.cache or default_cache_dir(), io_config=io_config, read_only=read_only)


def _retrieve(retriever: str, args: argparse.Namespace, corpus, queries, cache=None):
    """The run of one retriever (each returns the same run frame)."""
    if retriever == "bm25":
        from daft_retrieval.retrieve.bm25 import bm25_search
        from daft_retrieval.text.tokenize import Tokenizer

        tokenizer = Tokenizer(stopwords=args.stopwords, stemmer=args.stemmer)
        return bm25_search(
            corpus, queries, k=args.k, tokenizer=tokenizer, k1=args.k1, b=args.b, variant=args.bm25_variant
        )
    model = descriptor(retriever, getattr(args, R.RETRIEVERS.entry(retriever).info["model_dest"]), args)
    if retriever == "splade":
        from daft_retrieval.retrieve.splade import splade_search

        return splade_search(corpus, queries, model=model, k=args.k, cache=cache)
    if retriever == "late":
        from daft_retrieval.retrieve.late import late_search

        return late_search(
            corpus, queries, model=model, k=args.k, nprobe=args.nprobe, candidates=args.candidates, cache=cache
        )
    from daft_retrieval.retrieve.dense import dense_search

    return dense_search(corpus, queries, model=model, k=args.k, index_dir=args.index_dir, cache=cache)


def descriptor(kind: str, model: str, args: argparse.Namespace):
    """The model descriptor, with the CLI's options, of a retriever ("dense", "splade", "late") or a reranker
    ("cross", "bi", "late"): every model the CLI runs is made here (and so checked before any work)."""
    options = {"device": args.device, "fp16": args.fp16, "batch_size": args.batch_size}
    if kind == "cross":  # a pair's length
        from daft_retrieval.reranking.cross import CrossConfig

        return CrossConfig(model=model, max_length=args.max_seq_length, **options)
    if kind == "splade":
        from daft_retrieval.encode.sparse import SparseConfig as config_type
    elif kind == "late":
        from daft_retrieval.encode.tokens import TokenConfig as config_type
    else:
        from daft_retrieval.encode.dense import DenseConfig as config_type
    return config_type(model=model, max_seq_length=args.max_seq_length, **options)


def _rerank(run, args: argparse.Namespace, dataset, cache=None):
    from daft_retrieval.reranking import rerank

    model = descriptor(args.reranker, args.rerank, args)
    cache = None if args.reranker == "cross" else cache  # a cross-encoder scores pairs: nothing to cache
    method, depth = args.reranker, args.rerank_depth
    return rerank(run, dataset.queries, dataset.corpus, method=method, model=model, depth=depth, cache=cache)


def _system_name(retriever: str, args: argparse.Namespace) -> str:
    dest = R.RETRIEVERS.entry(retriever).info.get("model_dest")  # None: a retriever without a model (bm25)
    model = getattr(args, dest) if dest else None
    return f"{retriever}-{os.path.basename(model.rstrip('/'))}" if model else retriever


# how the library's fusion messages name the options: by the CLI's flags
_FUSION_FLAGS = {"method": "--fuse/--method", "weights": "--weights", "norm": "--norm", "k": "--rrf-k"}


def _fusion_options(method: str, args: argparse.Namespace) -> dict:
    """The fusion options of ``args`` that ``method`` takes: --norm for the methods that normalise, --rrf-k for
    rrf (each defaults, so it is passed only where it applies), --weights whenever given (refused but by wsum)."""
    info = R.FUSIONS.entry(method).info
    dests = {"k": "rrf_k"}  # a method's parameter -> the option holding it
    options = {p: getattr(args, dests.get(p, p)) for p in info["params"]}
    return {**options, "norm": args.norm if info["norm"] else None, "weights": args.weights}


def _check_fusion(method: str | None, n_runs: int, args: argparse.Namespace) -> None:
    """Fail on bad fusion options before any file is read or model run (the library's
    :func:`~daft_retrieval.fusion.check_fusion`, naming the CLI's flags)."""
    if method is None:
        return
    from daft_retrieval.fusion.by_name import check_fusion

    check_fusion(method, n_runs, **_fusion_options(method, args), labels=_FUSION_FLAGS)


def _fuse(method: str, runs: list, args: argparse.Namespace, depth: int | None):
    """Fuse run frames by ``method`` with the CLI's fusion options (shared by ``fuse`` and ``eval --fuse``)."""
    from daft_retrieval.fusion import fuse

    _check_fusion(method, len(runs), args)
    return fuse(runs, method=method, depth=depth, **_fusion_options(method, args))


def _search(args: argparse.Namespace) -> tuple:
    """Load the dataset and run every retriever (and the fusion): ``(dataset, {system name: run})``."""

    if args.k < 1:
        raise DataError(f"--k must be >= 1, not {args.k}")
    if args.rerank and args.rerank_depth < 1:
        raise DataError(f"--rerank-depth must be >= 1, not {args.rerank_depth}")
    retrievers = list(dict.fromkeys(args.retriever or [R.RETRIEVERS.default]))
    if args.fuse and len(retrievers) < 2:
        raise DataError("--fuse needs at least two --retriever options")
    if len(retrievers) > 1 and not args.fuse and args.command == "search":
        raise DataError("search writes one run: give one --retriever, or --fuse to combine several")
    _check_fusion(args.fuse, len(retrievers), args)
    models = [R.RETRIEVERS.entry(r).info for r in retrievers]
    named = [
        (m["model_option"], getattr(args, m["model_dest"]), r)
        for r, m in zip(retrievers, models)
        if m.get("model_dest")
    ]
    checks.check_models(named + ([("--rerank", args.rerank, "dense")] if args.rerank else []), args)
    for retriever in retrievers:
        checks.check_retriever(retriever, args)
    dataset = _load(args)  # its problems come as one DataWarning line (see main)
    names = [_system_name(r, args) for r in retrievers]
    print(
        f"{dataset.name}: {dataset.report.documents:,} documents, {dataset.report.queries:,} queries, "
        f"{dataset.report.judgements:,} judgements; {', '.join(names)}",
        file=sys.stderr,
    )
    cache = _cache(args)
    runs = {
        name: _finished(materialize(_retrieve(r, args, dataset.corpus, dataset.queries, cache)))
        for r, name in zip(retrievers, names)
    }
    if args.fuse:
        runs[f"{args.fuse}({', '.join(names)})"] = materialize(_fuse(args.fuse, list(runs.values()), args, args.k))
    if args.rerank:
        last = list(runs)[-1]
        model = os.path.basename(args.rerank.rstrip("/"))
        runs[f"{args.reranker}-{model}@{args.rerank_depth}({last})"] = _finished(
            materialize(_rerank(runs[last], args, dataset, cache))
        )
    return dataset, runs


def _finished(run):
    """``run``, once every progress counter of its work has written its final count (before what comes next)."""
    from daft_retrieval.progress import finish_all

    finish_all()
    return run


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
    from daft_retrieval.evaluation import evaluate, parse_measures
    from daft_retrieval.load import write_run
    from daft_retrieval.report.table import format_aggregate, format_per_query

    measures = parse_measures(args.measures)
    dataset, runs = _search(args)
    name, final = list(runs.items())[-1]
    if args.output_run:
        write_run(final, args.output_run, tag=_tag(name))
    results = {n: evaluate(r, dataset.qrels, measures, queries=args.queries_in, empty="error") for n, r in runs.items()}
    if args.per_query:
        print(format_per_query(results[name].per_query))
    print(format_aggregate({f"{dataset.name} {n}": r.aggregate for n, r in results.items()}))
    if args.json:
        single = len(results) == 1
        print(json.dumps(results[name].aggregate if single else {n: r.aggregate for n, r in results.items()}))
    return 0


def fuse_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.fusion.inputs import check_scores
    from daft_retrieval.load import read_run, write_run

    _check_fusion(args.method, len(args.runs), args)
    if args.depth < 1:
        raise DataError(f"--depth must be >= 1, not {args.depth}")
    twice = sorted({p for p in args.runs if args.runs.count(p) > 1})
    if twice:
        raise DataError(f"{twice[0]} is given twice; fuse distinct runs")
    if len(args.runs) == 1:
        print(f"daft-retrieval: warning: one run: {args.method} only re-scores it", file=sys.stderr)
    runs = [read_run(path) for path in args.runs]
    for path, run in zip(args.runs, runs):
        check_scores(run, path, path=path)  # an inf score named at its file and line
    fused = materialize(_fuse(args.method, runs, args, args.depth))
    write_run(fused, args.output_run, tag=args.tag or args.method)
    print(
        f"wrote {fused.count_rows():,} lines ({args.method} of {len(runs)} runs) to {args.output_run}", file=sys.stderr
    )
    return 0


_SYSTEM_KEYS = {"name", "retriever", "model", "fuse", "runs", "rerank", "reranker", "of", "depth"}


def _systems(args: argparse.Namespace) -> list[dict]:
    """The systems to compare: from --experiment, else --bm25, --splade and each --model (in that order)."""
    if args.experiment:
        given = [o for o, v in (("--fuse", args.fuse), ("--rerank", args.rerank), ("--retriever", args.retriever)) if v]
        if given or args.bm25 or args.splade or args.model:
            raise DataError("give the systems either in --experiment or by options (--bm25, --model, --fuse, ...)")
        from daft_retrieval.cli.experiment import read_experiment

        return read_experiment(args.experiment)  # every value through its CLI option's type and choices
    flags = ["bm25"] * args.bm25 + ["splade"] * args.splade
    others = [r for r in args.retriever or [] if r != "dense" or not args.model]  # with --model: the dense systems
    retrievers = list(dict.fromkeys([*flags, *others]))
    systems: list[dict] = [{"retriever": r} for r in retrievers]
    systems += [{"retriever": "dense", "model": m} for m in (args.model or [])]
    if not systems:
        raise DataError(
            "compare needs systems: --model M (repeatable), --bm25, --splade, --retriever R, or --experiment FILE"
        )
    if args.fuse:
        if len(systems) < 2:
            raise DataError("--fuse needs at least two systems to fuse")
        _check_fusion(args.fuse, len(systems), args)
        systems.append({"fuse": args.fuse})  # every system above
    if args.rerank:
        systems.append({"rerank": args.rerank, "reranker": args.reranker, "depth": args.rerank_depth})  # the last
    return systems


def _run_system(system: dict, args: argparse.Namespace, dataset, runs: dict, cache):
    """(name, run) of one experiment entry: a retriever, a fusion of earlier entries, or a rerank of one."""
    where = f"system {system.get('name') or system}"
    options = {k: v for k, v in system.items() if k not in _SYSTEM_KEYS}
    local = argparse.Namespace(**{**vars(args), **options})
    for key in options:
        if key not in vars(args):
            raise DataError(f"{where}: unknown option {key!r}")
    if "fuse" in system:
        names = system.get("runs") or list(runs)  # default: every earlier system
        missing = [n for n in names if n not in runs]
        if len(names) < 2 or missing:
            raise DataError(f"{where}: 'runs' must name at least two earlier systems (unknown: {missing})")
        name = system.get("name") or f"{system['fuse']}({', '.join(names)})"
        return name, materialize(_fuse(system["fuse"], [runs[n] for n in names], local, args.k))
    if "rerank" in system:
        source = system.get("of") or (list(runs)[-1] if runs else None)
        if source not in runs:
            raise DataError(f"{where}: 'of' must name an earlier system, not {source!r}")
        local.rerank, local.reranker = system["rerank"], system.get("reranker", R.RERANKERS.default)
        local.rerank_depth = system.get("depth", args.rerank_depth)
        model = os.path.basename(str(system["rerank"]).rstrip("/"))
        name = system.get("name") or f"{local.reranker}-{model}@{local.rerank_depth}({source})"
        return name, materialize(_rerank(runs[source], local, dataset, cache))
    retriever = system.get("retriever", R.RETRIEVERS.default)
    if retriever not in R.RETRIEVERS:
        raise DataError(f"{where}: unknown retriever {retriever!r}")
    if "model" in system:
        for entry in R.RETRIEVERS.entries():  # the system's model, whichever retriever option names it
            if "model_dest" in entry.info:
                setattr(local, entry.info["model_dest"], system["model"])
    elif retriever == "dense":
        local.model = R.RETRIEVERS.entry("dense").info["default_model"]  # compare's --model is a list
    name = system.get("name") or _system_name(retriever, local)
    return name, materialize(_retrieve(retriever, local, dataset.corpus, dataset.queries, cache))


def compare_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluation import parse_measures
    from daft_retrieval.report.compare import compare

    measures = parse_measures(args.measures)
    if args.k < 1:
        raise DataError(f"--k must be >= 1, not {args.k}")
    systems = _systems(args)
    checks.check_systems(systems, args)  # every model and retriever setting, before any work
    dataset = _load(args)
    cache = _cache(args)
    runs: dict = {}
    for system in systems:
        name, run = _run_system(system, args, dataset, runs, cache)
        if name in runs:
            raise DataError(f"two systems are named {name!r}: give each a distinct 'name'")
        runs[name] = _finished(run)
        if os.environ.get(QUIET) != "0":
            print(f"ran {name}", file=sys.stderr)
    result = compare(runs, dataset.qrels, measures, dataset=dataset.name, trials=args.trials, queries=args.queries_in)
    folder = args.output_dir or os.path.join("data", "reports", dataset.name)
    paths = result.write(folder, plot=not args.no_plot)
    print(result.markdown())
    if args.json:
        print(json.dumps(result.to_json()))
    print(f"wrote {', '.join(paths)}", file=sys.stderr)
    return 0


def cache_cmd(args: argparse.Namespace) -> int:
    cache = _cache(args)
    if args.cache_command == "prune":
        removed = cache.prune(model=args.model, fingerprint=args.fingerprint)
        print(
            f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} from {cache.root}: {' '.join(removed)}"
        )
        return 0
    if args.cache_command == "verify":
        from daft_retrieval.cache import verify

        report = verify(cache, repair=args.repair)
        for problem in report.problems:
            print(f"damaged: {problem.line()}")
        moved = sum(1 for p in report.problems if p.moved_to)
        print(
            f"cache {cache.root}: {report.entries} entries, {report.parts} parts checked, "
            f"{len(report.problems)} problems" + (f", {moved} moved aside" if args.repair else "")
        )
        return 1 if report.problems else 0
    stats = cache.stats()
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    print(f"cache {stats['root']}: {len(stats['entries'])} entries")
    print(f"{'fingerprint':<18}{'kind':<8}{'role':<10}{'rows':>10}{'MB':>9}  model")
    for e in stats["entries"]:
        print(
            f"{e['fingerprint']:<18}{e['kind']:<8}{e['role']:<10}{e['rows']:>10,}{e['bytes'] / 1e6:>9.1f}  {e['model']}"
        )
    damaged = [d for e in stats["entries"] for d in e["damaged"]]
    if damaged:
        print(f"{len(damaged)} damaged files (run 'daft-retrieval cache verify --repair'): {damaged[0]['path']}, ...")
    counts = stats["last_run"].get("counts", {})
    if counts:
        hits, misses = sum(c["hits"] for c in counts.values()), sum(c["misses"] for c in counts.values())
        print(f"last run: {hits:,} hits, {misses:,} misses (distinct texts)")
    return 0


COMMANDS = {
    "evaluate": evaluate_cmd,
    "search": search_cmd,
    "eval": eval_cmd,
    "fuse": fuse_cmd,
    "compare": compare_cmd,
    "cache": cache_cmd,
}

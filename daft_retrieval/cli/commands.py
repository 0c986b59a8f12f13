"""The CLI's commands: each takes the parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from daft_retrieval import registry as R
from daft_retrieval.cli import checks
from daft_retrieval.errors import DataError
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


def _measures(args: argparse.Namespace) -> list:
    """The measures of ``-m``, with ``--rel-level`` as the rel= of every binary measure that gives none (trec_eval
    -l), checked with ``--depth`` before any file is read."""
    from daft_retrieval.evaluation import parse_measures

    measures = parse_measures(args.measures)
    depth, level = getattr(args, "depth", None), getattr(args, "rel_level", None)
    if depth is not None and depth < 1:
        raise DataError(f"--depth must be >= 1, not {depth}")
    if level is None:
        return measures
    if level < 1:
        raise DataError(f"--rel-level must be >= 1, not {level} (relevance <= 0 is never relevant)")
    return [dataclasses.replace(m, rel=level) if m.family.takes_rel and m.rel is None else m for m in measures]


def evaluate_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluation import evaluate
    from daft_retrieval.load import read_qrels, read_run

    measures = _measures(args)  # bad measures fail before any file is read
    for path in (args.qrels, args.run):
        if not os.path.exists(path) and "://" not in path:
            raise DataError(f"{path}: no such file")
    run, qrels = read_run(args.run), read_qrels(args.qrels)
    result = evaluate(run, qrels, measures, queries=args.queries_in, depth=args.depth, empty="error")
    _print_report(result, args, os.path.basename(args.run))
    return 0


def _load(args: argparse.Namespace):
    """The dataset the options name (read remotely with the S3 options when it is a URL)."""
    from daft_retrieval.load import load_beir

    return load_beir(args.dataset or default_dataset(), **_load_options(args))


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


def _defaults(args: argparse.Namespace) -> dict:
    """The command's flags as the defaults of every system spec (what a system does not set itself)."""
    from dataclasses import fields

    from daft_retrieval.experiment import Fuse, Rerank, Retrieve

    names = {f.name for cls in (Retrieve, Fuse, Rerank) for f in fields(cls)} - {"name", "runs", "of", "model"}
    out = {n: getattr(args, n) for n in names if n in vars(args)}
    out["depth"] = getattr(args, "rerank_depth", None)
    dense = args.model if isinstance(args.model, str) else None  # compare's --model is a list of systems
    out["models"] = {"dense": dense, "splade": args.splade_model, "late": args.late_model}
    return out


def _flag_systems(args: argparse.Namespace, retrievers: list[str]) -> list[dict]:
    """The systems the flags name, as experiment entries: the retrievers, the fusion of all, a rerank of the last."""
    systems: list[dict] = [{"retriever": r} for r in retrievers]
    if args.fuse:
        systems.append({"fuse": args.fuse})  # every system above
    if args.rerank:
        systems.append({"rerank": args.rerank, "reranker": args.reranker, "depth": args.rerank_depth})
    return systems


def _specs(entries: list[dict], args: argparse.Namespace) -> list:
    from daft_retrieval.experiment import system_from_mapping

    defaults = _defaults(args)
    return [system_from_mapping(e, f"system {i + 1}", defaults) for i, e in enumerate(entries)]


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
    """Load the dataset and run every system the flags name (retrievers, the fusion, the rerank), each through
    :func:`daft_retrieval.experiment.run_system`: ``(dataset, {name: run}, {name: (spec, seconds)})``."""
    from daft_retrieval.experiment.stages import labels, run_system

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
    specs = _specs(_flag_systems(args, retrievers), args)
    names = labels(specs)
    dataset = _load(args)  # its problems come as one DataWarning line (see main)
    print(
        f"{dataset.name}: {dataset.report.documents:,} documents, {dataset.report.queries:,} queries, "
        f"{dataset.report.judgements:,} judgements; {', '.join(names[: len(retrievers)])}",
        file=sys.stderr,
    )
    cache = _cache(args)
    runs: dict = {}
    seconds: dict = {}
    for spec, label in zip(specs, names):
        started = time.perf_counter()
        runs[label] = _finished(materialize(run_system(spec, dataset, runs, cache)))
        seconds[label] = time.perf_counter() - started
    return dataset, runs, {n: (s, seconds[n]) for n, s in zip(names, specs)}


def _provenance(spec, dataset, seconds: float) -> dict:
    """The ``#`` lines of a run the CLI writes (:func:`daft_retrieval.experiment.stages.run_provenance`)."""
    from daft_retrieval.experiment import dataset_fingerprint
    from daft_retrieval.experiment.stages import run_provenance

    return run_provenance(spec, dataset.name, dataset_fingerprint(dataset), seconds)


def _finished(run):
    """``run``, once every progress counter of its work has written its final count (before what comes next)."""
    from daft_retrieval.progress import finish_all

    finish_all()
    return run


def _tag(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("_")


def search_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.load import write_run

    dataset, runs, specs = _search(args)
    name, run = list(runs.items())[-1]
    spec, seconds = specs[name]
    write_run(run, args.output_run, tag=args.tag or _tag(name), provenance=_provenance(spec, dataset, seconds))
    print(f"wrote {run.count_rows():,} lines ({name}) to {args.output_run}", file=sys.stderr)
    return 0


def _against_exact(args, dataset, runs: dict, specs: dict, results: dict, measures: list, options: dict) -> dict:
    """For each dense run of an approximate (FAISS) index: the exact search once more (its embeddings come from
    the cache), ``{name: {"Overlap@10": ..., "delta_to_exact": {measure: approx - exact}}}``."""
    from daft_retrieval.evaluation import evaluate
    from daft_retrieval.experiment.against import against_exact, exact_counterpart
    from daft_retrieval.experiment.stages import run_system

    out: dict = {}
    for name, (spec, _) in specs.items():
        exact_spec = exact_counterpart(spec)
        if exact_spec is None:
            continue
        exact = _finished(materialize(run_system(exact_spec, dataset, {}, _cache(args))))
        reference = evaluate(exact, dataset.qrels, measures, **options).aggregate
        out[name] = against_exact(runs[name], exact, results[name].aggregate, reference)
    return out


def eval_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.evaluation import evaluate
    from daft_retrieval.load import write_run
    from daft_retrieval.report.table import format_aggregate, format_per_query

    measures = _measures(args)
    dataset, runs, specs = _search(args)
    name, final = list(runs.items())[-1]
    if args.output_run:
        spec, seconds = specs[name]
        write_run(final, args.output_run, tag=_tag(name), provenance=_provenance(spec, dataset, seconds))
    options = {"queries": args.queries_in, "depth": args.depth, "empty": "error"}
    results = {n: evaluate(r, dataset.qrels, measures, **options) for n, r in runs.items()}
    if args.per_query:
        print(format_per_query(results[name].per_query))
    print(format_aggregate({f"{dataset.name} {n}": r.aggregate for n, r in results.items()}))
    against = _against_exact(args, dataset, runs, specs, results, measures, options)
    for n, extra in against.items():
        deltas = ", ".join(f"{m} {d:+.4f}" for m, d in extra["delta_to_exact"].items())
        print(f"{dataset.name} {n}: Overlap@10 {extra['Overlap@10']:.4f}; delta to exact: {deltas}")
    if args.json:
        aggregates = {n: {**r.aggregate, **against.get(n, {})} for n, r in results.items()}
        print(json.dumps(aggregates[name] if len(results) == 1 else aggregates))
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


def _systems(args: argparse.Namespace):
    """The systems to compare, as specs, and the experiment file's settings: from --experiment, else --bm25,
    --splade, --retriever and each --model (in that order), then --fuse and --rerank."""
    from daft_retrieval.experiment import read_experiment

    if args.experiment:
        given = [o for o, v in (("--fuse", args.fuse), ("--rerank", args.rerank), ("--retriever", args.retriever)) if v]
        if given or args.bm25 or args.splade or args.model:
            raise DataError("give the systems either in --experiment or by options (--bm25, --model, --fuse, ...)")
        found = read_experiment(args.experiment, _defaults(args))  # every value converted by its field's type
        return list(found.systems), found.settings
    flags = ["bm25"] * args.bm25 + ["splade"] * args.splade
    others = [r for r in args.retriever or [] if r != "dense" or not args.model]  # with --model: the dense systems
    entries: list[dict] = [{"retriever": r} for r in dict.fromkeys([*flags, *others])]
    entries += [{"retriever": "dense", "model": m} for m in (args.model or [])]
    if not entries:
        raise DataError(
            "compare needs systems: --model M (repeatable), --bm25, --splade, --retriever R, or --experiment FILE"
        )
    if args.fuse:
        if len(entries) < 2:
            raise DataError("--fuse needs at least two systems to fuse")
        _check_fusion(args.fuse, len(entries), args)
    return _specs(entries + _flag_systems(args, []), args), {}


def _load_options(args: argparse.Namespace) -> dict:
    """The options of :func:`~daft_retrieval.load.load_beir` the command's flags give (S3, archives, timeout)."""
    from daft_retrieval.load.io import s3_config

    return {
        "split": args.split,
        "io_config": s3_config(args.s3_endpoint, anonymous=args.anonymous, timeout=args.timeout),
        "timeout": args.timeout,
        "max_archive_bytes": args.max_archive_bytes,
        "max_archive_ratio": args.max_archive_ratio,
    }


def compare_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.cli.main import DEFAULT_MEASURES
    from daft_retrieval.experiment import Experiment, RunStore
    from daft_retrieval.paths import cache_home

    if args.k < 1:
        raise DataError(f"--k must be >= 1, not {args.k}")
    systems, settings = _systems(args)
    measures = settings.get("measures", args.measures) if args.measures is DEFAULT_MEASURES else args.measures
    no_cache = getattr(args, "no_cache", False)
    experiment = Experiment(
        systems,
        args.dataset or settings.get("datasets") or [default_dataset()],
        measures,
        baselines=args.baseline or settings.get("baselines"),
        correction=args.correction or settings.get("correction", R.CORRECTIONS.default),
        trials=args.trials,
        tukey=args.tukey or settings.get("tukey", False),
        interval=args.interval,
        queries=args.queries_in,
        runs=None if no_cache else RunStore(args.runs_dir or cache_home("runs"), fresh=args.fresh),
        load=_load_options(args),
        report_depth=args.report_depth,
        snippet=args.snippet,
    )
    labels = experiment.check()
    checks.check_systems(systems, labels, args)  # every model and retriever setting, before any work
    result = dataclasses.replace(experiment, cache=_cache(args)).run()
    names = "+".join(result.comparisons)
    folder = args.output_dir or os.path.join("data", "reports", names)
    paths = result.write(folder, plot=not args.no_plot, report=not args.no_report)
    print(result.markdown())
    if args.json:
        print(json.dumps(result.to_json(), allow_nan=False))
    print(f"wrote {', '.join(paths)}", file=sys.stderr)
    return 0


def report_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.report.page import write_report

    print(f"wrote {write_report(args.folder, title=args.title)}", file=sys.stderr)
    return 0


def _names(a: str, b: str) -> tuple[str, str]:
    """The two runs' names in a diff: their file names less the extension (``-A`` / ``-B`` added when equal)."""
    names = [os.path.splitext(os.path.basename(p.rstrip("/")))[0] or p for p in (a, b)]
    return (names[0], names[1]) if names[0] != names[1] else (f"{names[0]}-A", f"{names[1]}-B")


def diff_cmd(args: argparse.Namespace) -> int:
    from daft_retrieval.experiment import ExperimentResult
    from daft_retrieval.load import load_beir, read_qrels, read_run
    from daft_retrieval.load.trec import read_provenance
    from daft_retrieval.report.compare import compare
    from daft_retrieval.report.views import check_report_options, shown_rankings

    measures = _measures(args)
    check_report_options(args.report_depth, args.snippet)  # before any file is read
    if args.queries < 1:
        raise DataError(f"--queries must be >= 1, not {args.queries}")
    if args.qrels is None and args.dataset is None:
        raise DataError("diff needs the judgements: --qrels FILE, or --dataset FOLDER with qrels")
    dataset = load_beir(args.dataset, **_load_options(args)) if args.dataset else None
    qrels = read_qrels(args.qrels) if args.qrels else dataset.qrels
    a, b = _names(args.run_a, args.run_b)
    runs = {a: materialize(read_run(args.run_a)), b: materialize(read_run(args.run_b))}
    name = dataset.name if dataset is not None else os.path.splitext(os.path.basename(args.qrels))[0]
    comparison = compare(
        runs, qrels, [str(m) for m in measures], dataset=name, trials=args.trials, queries=args.queries_in
    )
    shown = shown_rankings(runs, qrels, dataset, k=args.report_depth, snippet=args.snippet)
    provenance = {"runs": {a: read_provenance(args.run_a), b: read_provenance(args.run_b)}}
    provenance["files"] = {"run_a": args.run_a, "run_b": args.run_b, "qrels": args.qrels, "dataset": args.dataset}
    result = ExperimentResult({name: comparison}, comparison.table, provenance, {name: shown})
    if args.terminal:
        from daft_retrieval.report.terminal import side_by_side

        data = result.report_data()
        width = shutil.get_terminal_size((160, 24)).columns
        first = str(measures[0])  # the terminal view is of one measure: the first
        print(side_by_side(data["datasets"][0], first, a, b, queries=args.queries, k=args.report_depth, width=width))
        return 0
    folder = args.output_dir or os.path.join("data", "reports", f"diff-{_tag(a)}-vs-{_tag(b)}")
    paths = result.write(folder, plot=False, report=not args.no_report)
    print(comparison.markdown())
    if args.json:
        print(json.dumps(result.to_json(), allow_nan=False))
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
    "report": report_cmd,
    "diff": diff_cmd,
    "cache": cache_cmd,
}

"""``daft-retrieval``: evaluate runs, search collections, and run the default job on the bundled demo.

Kept light: this module imports only argparse and the Daft-free :mod:`daft_retrieval.registry` (every choice and
the help listing names come from its registries) at load time, so ``--help`` is instant; each command imports
what it needs. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

from daft_retrieval import registry as R

__all__ = ["main"]

DEFAULT_MEASURES = ["nDCG@10", "R@100", "MRR@10", "AP@100", "P@10"]


def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--report-depth", type=int, default=10, metavar="K", help="the top K of each system in the report (default 10)"
    )
    p.add_argument(
        "--snippet",
        type=int,
        default=300,
        metavar="N",
        help="characters of each document's text kept in the report (default 300)",
    )
    p.add_argument("--no-report", action="store_true", help="skip report.html (and the rankings and texts files)")


def _add_output(p: argparse.ArgumentParser, *, per_query: bool = True) -> None:
    p.add_argument(
        "-m",
        "--measure",
        dest="measures",
        nargs="+",
        default=DEFAULT_MEASURES,
        metavar="MEASURE",
        help=f"measures, e.g. {' '.join(e.info['example'] for e in R.MEASURES.entries())} "
        f"(default: {' '.join(DEFAULT_MEASURES)})",
    )
    if per_query:  # evaluate and eval: trec_eval's -M and -l
        p.add_argument("--per-query", action="store_true", help="also print every query's values")
        p.add_argument(
            "--depth",
            type=int,
            default=None,
            metavar="M",
            help="read each ranking only to rank M (trec_eval -M; default: all of it)",
        )
        p.add_argument(
            "--rel-level",
            type=int,
            default=None,
            metavar="L",
            help="relevance a document needs to count as relevant in every binary measure not given rel= "
            "(trec_eval -l; default 1)",
        )
    p.add_argument("--json", action="store_true", help="print one JSON object of means as the last line of stdout")
    p.add_argument(
        "--queries-in",
        choices=["qrels", "both"],
        default="qrels",
        help="average over every qrels query, 0 when absent from the run (trec_eval -c; default), "
        "or over queries in both run and qrels",
    )


def _add_fusion(p: argparse.ArgumentParser) -> None:
    """Fusion options shared by ``fuse`` and ``eval/search --fuse``."""
    normalising = "/".join(m for m in R.FUSIONS if R.FUSIONS.entry(m).info["norm"])
    weighted = "/".join(m for m in R.FUSIONS if R.FUSIONS.entry(m).info["weights"])
    p.add_argument("--rrf-k", type=float, default=60, help="RRF constant k (default 60)")
    p.add_argument(
        "--norm",
        choices=R.NORMALIZATIONS.names(),
        default=R.NORMALIZATIONS.default,
        help=f"per-query score normalisation for {normalising}: {R.NORMALIZATIONS.describe()} "
        f"(default {R.NORMALIZATIONS.default})",
    )
    p.add_argument("--weights", type=float, nargs="+", default=None, help=f"{weighted}: one weight per run, in order")


def _add_dataset(p: argparse.ArgumentParser, *, many_models: bool = False, default: str = "") -> None:
    """--dataset and how to read it (split, S3, timeout, archive limits)."""
    p.add_argument(
        "--dataset",
        default=None,
        action="append" if many_models else "store",
        help="BEIR folder (local, http(s)://, s3://), zip archive (path or URL) or beir:NAME"
        + ("; repeat it to run every system on every dataset" if many_models else "")
        + (default or "; default: the bundled data/demo"),
    )
    p.add_argument("--split", default="test", help="qrels split (qrels/<split>.tsv; default test)")
    p.add_argument("--s3-endpoint", default=None, help="S3-compatible endpoint for s3:// datasets (MinIO, ...)")
    p.add_argument("--anonymous", action="store_true", help="read s3:// datasets without credentials")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="most seconds a remote file (or a --ray-address) may keep us waiting, retries included "
        "(default $DAFT_RETRIEVAL_TIMEOUT, else 60)",
    )
    p.add_argument(
        "--max-archive-bytes",
        default=None,
        metavar="SIZE",
        help="most bytes a dataset zip may unpack to, e.g. 50G (default $DAFT_RETRIEVAL_MAX_ARCHIVE_BYTES, else 20G)",
    )
    p.add_argument(
        "--max-archive-ratio",
        type=float,
        default=None,
        metavar="N",
        help="most a dataset zip (or a member) may unpack to, over its packed size "
        "(default $DAFT_RETRIEVAL_MAX_ARCHIVE_RATIO, else 200)",
    )


def _add_retrieval(p: argparse.ArgumentParser, *, many_models: bool = False) -> None:
    _add_dataset(p, many_models=many_models)
    p.add_argument(
        "--retriever",
        action="append",
        choices=R.RETRIEVERS.names(),
        help=f"retriever: {R.RETRIEVERS.describe()}; repeat it to run several side by side "
        f"(default {R.RETRIEVERS.default})",
    )
    p.add_argument(
        "--fuse",
        choices=R.FUSIONS.names(),
        default=None,
        help="add the fusion of every system listed"
        if many_models
        else "fuse the retrievers' runs (the fused run is the one written and evaluated last)",
    )
    p.add_argument(
        "--scratch-dir",
        default=None,
        metavar="DIR",
        help="where the indexes a run builds go (temporary folders, removed at the end; default: the system's "
        "temporary folder); on a multi-node Ray cluster, a shared file system every node reads",
    )
    _add_fusion(p)
    for entry in R.RETRIEVERS.entries():  # --model, --splade-model, --late-model
        info = entry.info
        if "model_option" not in info:
            continue
        if many_models and info["model_dest"] == "model":
            p.add_argument("--model", action="append", default=None, help=f"a {entry.name} model to compare; repeat it")
            continue
        default = info["default_model"] + (f", {info['model_note']}" if "model_note" in info else "")
        p.add_argument(
            info["model_option"], default=info["default_model"], help=f"{info['model_help']} (default {default})"
        )
    p.add_argument("--nprobe", type=int, default=4, help="late: centroids probed per query token; 0 = brute force")
    p.add_argument("--candidates", type=int, default=1024, help="late: documents scored exactly per query")
    p.add_argument(
        "--nbits",
        type=int,
        default=4,
        help="late: bits per dimension of each token's residual to its centroid, 2 or 4; 0 = fp32 tokens (default 4)",
    )
    p.add_argument(
        "--rerank",
        default=None,
        metavar="MODEL",
        help="rerank the last run's top --rerank-depth with MODEL (local path, hub id or short name)",
    )
    p.add_argument(
        "--reranker",
        choices=R.RERANKERS.names(),
        default=R.RERANKERS.default,
        help=f"how --rerank scores: {R.RERANKERS.describe()} (default {R.RERANKERS.default})",
    )
    p.add_argument("--rerank-depth", type=int, default=100, help="documents per query to rerank (default 100)")
    p.add_argument("--k", type=int, default=100, help="documents per query (default 100)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    p.add_argument("--fp16", action="store_true", help="half precision on CUDA (the model halved)")
    p.add_argument(
        "--amp", action="store_true", help="mixed precision on CUDA: fp32 weights, fp16 products (torch.autocast)"
    )
    p.add_argument("--batch-size", type=int, default=32, help="encoder batch size (default 32)")
    p.add_argument("--max-seq-length", type=int, default=None, help="truncate texts to this many tokens")
    p.add_argument(
        "--chunk-tokens",
        type=int,
        default=None,
        metavar="N",
        help="dense, splade, late: search windows of N of the model's tokens of each document (its title in each) "
        "instead of its truncated start (default: whole documents)",
    )
    p.add_argument(
        "--chunk-stride", type=int, default=None, metavar="S", help="a window every S tokens (default N: no overlap)"
    )
    p.add_argument(
        "--chunk-agg",
        choices=R.CHUNK_AGGS.names(),
        default=R.CHUNK_AGGS.default,
        help=f"a chunked document's score: {R.CHUNK_AGGS.describe()} (default {R.CHUNK_AGGS.default})",
    )
    p.add_argument("--index-dir", default=None, help="keep the vector index here (default: a temporary folder)")
    p.add_argument(
        "--index",
        default="exact",
        metavar="exact|faiss:FACTORY|qdrant",
        help="dense: exact (brute force, default) or an approximate FAISS index, e.g. faiss:HNSW32, faiss:IVF1024,PQ32 "
        "(needs pip install 'daft-retrieval[faiss]'); dense and splade: qdrant, a Qdrant collection (embedded "
        "local mode, or --qdrant-url; needs pip install 'daft-retrieval[qdrant]'); eval and compare then also "
        "report Overlap@10 and the delta to exact",
    )
    p.add_argument(
        "--qdrant-url",
        default=None,
        metavar="URL",
        help="--index qdrant: a Qdrant server, e.g. http://localhost:6333 (default: embedded local mode, no server)",
    )
    p.add_argument("--ef-search", type=int, default=64, help="dense faiss:HNSW*: efSearch (default 64)")
    p.add_argument("--nprobe-faiss", type=int, default=8, help="dense faiss:IVF*: lists probed (default 8)")
    _add_cache(p)
    p.add_argument("--no-cache", action="store_true", help="encode every text, reading and writing no cache")
    p.add_argument("--k1", type=float, default=1.2, help="BM25 k1 (default 1.2)")
    p.add_argument("--b", type=float, default=0.75, help="BM25 b (default 0.75)")
    p.add_argument(
        "--bm25-variant",
        default=R.BM25_VARIANTS.default,
        choices=R.BM25_VARIANTS.names(),
        help=f"BM25 scoring variant: {R.BM25_VARIANTS.describe()} (default {R.BM25_VARIANTS.default})",
    )
    p.add_argument("--stopwords", default=None, help="BM25 stopword list, e.g. en (default: none)")
    p.add_argument("--stemmer", default=None, help="BM25 Snowball stemmer, e.g. english (needs PyStemmer)")


def _add_cache(p: argparse.ArgumentParser, *, with_s3: bool = False) -> None:
    p.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="embedding cache: a folder or object-store URL "
        "(default $DAFT_RETRIEVAL_CACHE/embeddings, else $XDG_CACHE_HOME/daft_retrieval/embeddings, "
        "else ~/.cache/daft_retrieval/embeddings)",
    )
    # the cache's own object-store settings (a dataset's --s3-endpoint/--anonymous never apply to it)
    names = ["--cache-s3-endpoint", "--s3-endpoint"] if with_s3 else ["--cache-s3-endpoint"]
    p.add_argument(*names, dest="cache_s3_endpoint", default=None, help="S3-compatible endpoint for an s3:// cache")
    p.add_argument("--cache-anonymous", action="store_true", help="read an s3:// cache without credentials")
    if not with_s3:  # commands that encode
        p.add_argument("--cache-read-only", action="store_true", help="serve cache hits but store nothing in it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daft-retrieval",
        description="Retrieval evaluation on Daft. With no command: 'eval' on the bundled demo collection.",
    )
    parser.add_argument(
        "--runner", choices=["native", "ray"], default="native", help="Daft runner (default native; ray needs [ray])"
    )
    parser.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--ray-num-cpus", type=int, default=None, help="CPUs of a local Ray cluster")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines (warnings and errors still show)")
    sub = parser.add_subparsers(dest="command")

    ev = sub.add_parser("evaluate", help="evaluate a TREC run against qrels (trec_eval semantics)")
    ev.add_argument("qrels", help="TREC qrels (qid 0 docid rel) or BEIR qrels TSV")
    ev.add_argument("run", help="TREC run (qid Q0 docid rank score tag)")
    _add_output(ev)

    se = sub.add_parser("search", help="retrieve the top k per query and write a TREC run")
    _add_retrieval(se)
    se.add_argument("--output-run", required=True, help="TREC run file to write")
    se.add_argument("--tag", default=None, help="run tag (default: the system's name, e.g. bm25 or rrf_bm25_dense-...)")

    es = sub.add_parser("eval", help="search a collection and evaluate the run")
    _add_retrieval(es)
    _add_output(es)
    es.add_argument("--output-run", default=None, help="also write the run here")
    fu = sub.add_parser("fuse", help=f"fuse TREC runs ({', '.join(R.FUSIONS)}) into one TREC run")
    fu.add_argument("runs", nargs="+", help="TREC run files")
    fu.add_argument(
        "--method",
        choices=R.FUSIONS.names(),
        default=R.FUSIONS.default,
        help=f"{R.FUSIONS.describe()} (default {R.FUSIONS.default})",
    )
    _add_fusion(fu)
    fu.add_argument("--depth", type=int, default=1000, help="documents kept per query (default 1000)")
    fu.add_argument("--output-run", required=True, help="TREC run file to write")
    fu.add_argument("--tag", default=None, help="run tag (default: the method)")

    co = sub.add_parser(
        "compare",
        help="compare systems side by side: table, per-query values, paired tests, Markdown/JSON/PNG/HTML report",
    )
    _add_retrieval(co, many_models=True)
    _add_output(co, per_query=False)  # every system's per-query values: per_query.parquet in --output-dir
    co.add_argument("--bm25", action="store_true", help="add BM25 (with the --k1/--b/--stopwords/... options)")
    co.add_argument("--splade", action="store_true", help="add SPLADE (--splade-model)")
    co.add_argument(
        "--experiment",
        default=None,
        help='JSON (or .toml) file listing the systems: {"systems": [{"name": ..., "retriever": "dense", "model": '
        '...}, {"retriever": "bm25", "stopwords": "en"}, {"name": "hybrid", "fuse": "rrf", "runs": [...] (default: '
        'all earlier systems)}, {"rerank": MODEL, "reranker": "bi", "of": NAME, "depth": 100}]}, and optionally '
        '"datasets", "measures", "baselines", "correction", "tukey" (options given on the command line win)',
    )
    co.add_argument("--output-dir", default=None, help="report folder (default data/reports/<dataset>[+<dataset>])")
    co.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    co.add_argument("--trials", type=int, default=10_000, help="randomisation-test trials (default 10000)")
    co.add_argument(
        "--baseline",
        action="append",
        default=None,
        metavar="NAME",
        help="a system every other one is tested against; repeat it for several (default: the first system)",
    )
    co.add_argument(
        "--correction",
        choices=R.CORRECTIONS.names(),
        default=None,
        help=f"multiple-testing correction over each table's tests: {R.CORRECTIONS.describe()} "
        f"(default {R.CORRECTIONS.default})",
    )
    co.add_argument("--tukey", action="store_true", help="also the randomised Tukey HSD of every pair of systems")
    co.add_argument(
        "--interval",
        choices=["t", "bootstrap"],
        default="t",
        help="each difference's 95%% interval: t (Student, default) or bootstrap (paired percentile, seeded)",
    )
    co.add_argument(
        "--runs-dir",
        default=None,
        help="saved runs, keyed by system spec, dataset content and package version (default: runs under the "
        "cache home); a re-run reads them instead of running the systems again",
    )
    co.add_argument("--fresh", action="store_true", help="run every system again, ignoring (and replacing) saved runs")
    _add_report(co)

    rp = sub.add_parser("report", help="rebuild report.html from a comparison folder written by compare or diff")
    rp.add_argument("folder", help="the folder: comparison.json, per_query.parquet, rankings.parquet, texts.parquet")
    rp.add_argument("--title", default="", help="the page's title (default: the datasets' names)")

    di = sub.add_parser(
        "diff",
        help="two runs side by side: an HTML report (or --terminal) of the queries that changed, with both rankings",
    )
    di.add_argument("run_a", metavar="RUN_A", help="TREC run: the baseline")
    di.add_argument("run_b", metavar="RUN_B", help="TREC run compared with it")
    di.add_argument("--qrels", default=None, help="TREC qrels or BEIR qrels TSV (default: the --dataset's)")
    _add_dataset(di, default=": the query and document texts (and qrels, without --qrels)")
    _add_output(di, per_query=False)
    di.add_argument("--output-dir", default=None, help="report folder (default data/reports/diff-<A>-vs-<B>)")
    di.add_argument("--trials", type=int, default=10_000, help="randomisation-test trials (default 10000)")
    di.add_argument(
        "--terminal",
        action="store_true",
        help="print the most changed queries side by side instead of writing the report",
    )
    di.add_argument(
        "--queries", type=int, default=10, help="with --terminal: how many of the most changed queries (default 10)"
    )
    _add_report(di)

    ca = sub.add_parser("cache", help="inspect, verify or prune the embedding cache")
    ca_sub = ca.add_subparsers(dest="cache_command", required=True)
    st = ca_sub.add_parser("stats", help="models, rows, bytes, and the last run's hits and misses")
    _add_cache(st, with_s3=True)
    st.add_argument("--json", action="store_true", help="print the statistics as JSON")
    pr = ca_sub.add_parser("prune", help="delete a model's entries")
    _add_cache(pr, with_s3=True)
    pr.add_argument("--model", default=None, help="the model as given when encoding (e.g. all-MiniLM-L6-v2)")
    pr.add_argument("--fingerprint", default=None, help="one entry, by the fingerprint 'cache stats' shows")
    ve = ca_sub.add_parser(
        "verify", help="check every part's bytes (exit 0: sound, 1: problems found, 2: --repair cannot write)"
    )
    _add_cache(ve, with_s3=True)
    ve.add_argument("--repair", action="store_true", help="move bad files aside into <cache>/quarantine/")
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data warnings as one line each, as the errors are (no source path or code line); others as Python shows
    them."""
    from daft_retrieval.load.dataset import DataWarning

    if issubclass(category, DataWarning):
        print(f"daft-retrieval: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=file or sys.stderr)


def _run(args: argparse.Namespace) -> int:
    """Run the command (on Ray when asked), each data warning shown as one line."""
    from daft_retrieval.cli import commands
    from daft_retrieval.progress import sharing

    with warnings.catch_warnings(), sharing():  # restores Python's warning display; one progress line per step
        warnings.showwarning = _show_warning
        if args.runner == "ray":
            from daft_retrieval.runner import ray_runner

            with ray_runner(args.ray_address, num_cpus=args.ray_num_cpus, timeout=getattr(args, "timeout", None)):
                return commands.COMMANDS[args.command](args)
        return commands.COMMANDS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    """Run ``daft-retrieval`` with ``argv`` (default: the command line); returns the exit status: 0, 2 for bad
    input (one line on stderr, never a traceback), 130 when interrupted. ``os.environ`` is left as it was.

    >>> main(["evaluate", "qrels.txt", "run.txt", "-m", "nDCG@10"])  # doctest: +SKIP
    0
    """
    from daft_retrieval.cli.session import cli_environment, failure

    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args([*(sys.argv[1:] if argv is None else argv), "eval"])
    settings = {}  # for the run only (main restores the environment); read by Daft, Ray's workers and ours
    if args.quiet:
        from daft_retrieval.progress import QUIET

        settings[QUIET] = "0"
    from daft_retrieval.outputs import check_destination

    for flag in ("--output-run", "--output-dir", "--index-dir", "--scratch-dir"):  # before any search, not after
        path = getattr(args, flag[2:].replace("-", "_"), None)
        if flag == "--index-dir" and path:
            from daft_retrieval.index.atomic import check_index_dir

            problem = check_destination(flag, path, check=check_index_dir)
        else:
            problem = check_destination(flag, path)
        if problem:
            print(f"daft-retrieval: error: {problem}", file=sys.stderr)
            return 2
    if getattr(args, "scratch_dir", None):  # read by every search that builds a temporary index
        from daft_retrieval.paths import SCRATCH

        settings[SCRATCH] = os.path.abspath(args.scratch_dir)
    from daft_retrieval.load.remote import quiet_rust_logs

    quiet_rust_logs()  # Daft's retry and pipeline logs: the one-line error below says what happened
    with cli_environment(settings):
        try:
            return _run(args)
        except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly
            with contextlib.suppress(Exception):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except BaseException as exc:
            found = failure(exc)  # None: a bug, which keeps its traceback
            if found is None or os.environ.get("DAFT_RETRIEVAL_DEBUG") == "1":
                raise
            print(f"daft-retrieval: error: {found[0]}", file=sys.stderr)
            return found[1]


if __name__ == "__main__":
    sys.exit(main())

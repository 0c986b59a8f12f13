"""Late interaction: compressed (PLAID/ColBERTv2 residuals, 2 or 4 bits) and fp32 indexes against brute-force MaxSim.

Token vectors come from a real model (default all-MiniLM-L6-v2, no projection; pass a ColBERT checkpoint with
--model) over the corpus of a BEIR collection (default SciFact; --docs N: its first N passages by id) and every
query with qrels. They go through the embedding cache (--cache-dir), so they are encoded once and reused by later
runs. Each index is built and searched in a process of its own, so the peak RSS shown is that whole process's
(``ru_maxrss``: encoding from the cache, build, shard loading, search). The reference is brute-force MaxSim over the
fp32 vectors (``nbits=0, nprobe=0``). Prints per setting (nbits, nprobe, candidates): build and search seconds,
index bytes on disk against the fp32 token vectors (n_tokens x dim x 4), peak RSS, nDCG@10 of both and the delta,
and Overlap@10 with the reference.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/late_interaction.py [--docs 2000] [--dataset ../shared/datasets/scifact]
        [--max-seq-length 256] [--nbits 2,4] [--settings 1:256,2:512,4:1024,8:2048] [--cache-dir DIR]
        [--centroids N] [--sample-tokens 262144]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _inputs(args: argparse.Namespace):
    from daft_retrieval import schema as S
    from daft_retrieval.load import load_beir

    ds = load_beir(args.dataset)
    corpus = ds.corpus.sort(S.DOC_ID)
    if args.docs:
        corpus = corpus.limit(args.docs)
    judged = ds.qrels.select(S.QUERY_ID).distinct()
    return corpus, ds.queries.join(judged, on=S.QUERY_ID, how="semi"), ds.qrels


def encode_phase(args: argparse.Namespace) -> None:
    """Encode the queries and the corpus into the cache (only what it lacks), in this process; print JSON stats."""
    from daft import col

    from daft_retrieval import schema as S
    from daft_retrieval.cache.store import EmbeddingCache
    from daft_retrieval.encode.column import encode
    from daft_retrieval.encode.tokens import TokenConfig

    corpus, queries, _ = _inputs(args)
    cache = EmbeddingCache(args.cache_dir)
    config = TokenConfig(model=args.model, max_seq_length=args.max_seq_length)
    t = time.perf_counter()
    encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache).count_rows()
    encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache).count_rows()
    misses = sum(c["misses"] for c in cache.counts.values())
    fp = config.fingerprint("document")[0]
    stats = {"seconds": time.perf_counter() - t, "encoded": misses, "rss_gb": _rss_gb(), "fp": fp}
    stats["cache_bytes"] = _folder_bytes(os.path.join(args.cache_dir, fp))
    print("PHASE " + json.dumps(stats), flush=True)


def phase(args: argparse.Namespace) -> None:
    """Build one index (``--phase-nbits``) and search it with every setting, in this process; print JSON stats."""
    from daft import col

    from daft_retrieval import schema as S
    from daft_retrieval.cache.store import EmbeddingCache
    from daft_retrieval.encode.column import encode
    from daft_retrieval.encode.tokens import TokenConfig
    from daft_retrieval.retrieve.late import build_late_index_for, search_late_index
    from daft_retrieval.runner import persist

    corpus, queries, _ = _inputs(args)
    cache = EmbeddingCache(args.cache_dir)
    config = TokenConfig(model=args.model, max_seq_length=args.max_seq_length)
    t = time.perf_counter()
    tokens = persist(encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache))
    path = os.path.join(args.out, "index")
    options = {"nbits": args.phase_nbits, "n_centroids": args.centroids, "sample_tokens": args.sample_tokens}
    index = build_late_index_for(corpus, path, config, cache=cache, **options)
    stats = {"build_s": time.perf_counter() - t, "index_bytes": _folder_bytes(path), "rss_build_gb": _rss_gb()}
    stats.update(n_tokens=index.n_tokens, dim=index.dim, count=index.count, n_centroids=index.n_centroids)
    search_late_index(index, tokens.limit(1), args.k, nprobe=1, candidates=1).collect()  # load the shards once
    stats["searches"] = []
    for setting in args.phase_settings.split(","):
        nprobe, candidates = (int(x) for x in setting.split(":"))
        t = time.perf_counter()
        run = search_late_index(index, tokens, args.k, nprobe=nprobe, candidates=candidates).to_arrow()
        seconds = time.perf_counter() - t
        file = os.path.join(args.out, f"run-{args.phase_nbits}-{nprobe}-{candidates}.parquet")
        import pyarrow.parquet as pq

        pq.write_table(run, file)
        stats["searches"].append({"nprobe": nprobe, "candidates": candidates, "seconds": seconds, "run": file})
    stats["rss_gb"] = _rss_gb()
    print("PHASE " + json.dumps(stats), flush=True)


def _run_phase(args: argparse.Namespace, nbits: int, settings: str, out: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), *args.argv, "--phase-nbits", str(nbits)]
    command += ["--phase-settings", settings, "--out", out]
    if nbits < 0:
        command += ["--phase-encode"]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PHASE ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"phase nbits={nbits} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("PHASE ") :])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--dataset", default=os.path.join(here, "..", "..", "shared", "datasets", "scifact"))
    parser.add_argument("--docs", type=int, default=None, help="the first N passages by id (default: all)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nbits", default="2,4", help="compressed indexes to measure (each 2 or 4)")
    parser.add_argument("--settings", default="1:256,2:512,4:1024,8:2048", help="nprobe:candidates, comma-separated")
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: the user's)")
    parser.add_argument("--centroids", type=int, default=None, help="k-means centroids (default: PLAID's 16 sqrt(n))")
    parser.add_argument("--sample-tokens", type=int, default=262_144, help="token vectors k-means is trained on")
    parser.add_argument("--phase-nbits", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase-settings", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase-encode", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cache_dir is None:
        from daft_retrieval.cache.store import default_cache_dir

        args.cache_dir = default_cache_dir()
    if args.phase_encode:
        return encode_phase(args)
    if args.phase_nbits is not None:
        return phase(args)
    args.argv = [a for a in (argv if argv is not None else sys.argv[1:])]
    args.argv += ["--cache-dir", args.cache_dir]
    report(args)


def report(args: argparse.Namespace) -> None:
    """Run the reference and every compressed index in processes of their own; print the table."""
    import daft

    import daft_retrieval as dr

    _, _, qrels = _inputs(args)
    with tempfile.TemporaryDirectory() as tmp:
        enc = _run_phase(args, -1, "", tmp)
        print(
            f"encoding: {enc['encoded']:,} texts encoded (the rest from the cache) in {enc['seconds']:.0f} s, peak RSS "
            f"{enc['rss_gb']:.2f} GB; document token cache {enc['cache_bytes'] / 2**20:,.0f} MiB (fp16)"
        )
        phases = {0: _run_phase(args, 0, "0:1,4:1024", tmp)}  # brute force (the reference) and the default
        for nbits in (int(b) for b in args.nbits.split(",")):
            os.makedirs(os.path.join(tmp, str(nbits)))
            phases[nbits] = _run_phase(args, nbits, args.settings, os.path.join(tmp, str(nbits)))
        reference = daft.read_parquet(phases[0]["searches"][0]["run"]).collect()
        exact = dr.evaluate(reference, qrels, ["nDCG@10"]).aggregate["nDCG@10"]
        ref = phases[0]
        fp32_bytes = ref["n_tokens"] * ref["dim"] * 4
        print(
            f"{ref['count']:,} passages, {ref['n_tokens']:,} token vectors x {ref['dim']} "
            f"(fp32 {fp32_bytes / 2**20:,.0f} MiB), {ref['n_centroids']:,} centroids (k-means over "
            f"{args.sample_tokens:,} token vectors), max_seq_length {args.max_seq_length}; reference: brute-force "
            f"MaxSim over fp32, nDCG@10 {exact:.4f}\n"
        )
        head = f"{'nbits':>5} {'nprobe:cand':>11} {'build s':>8} {'search s':>9} {'index MiB':>10} {'/fp32':>6}"
        print(head + f" {'peak RSS GB':>11} {'nDCG@10':>8} {'ref':>7} {'delta':>8} {'Overlap@10':>10}")
        for nbits, stats in phases.items():
            for search in stats["searches"]:
                run = daft.read_parquet(search["run"]).collect()
                ndcg = dr.evaluate(run, qrels, ["nDCG@10"]).aggregate["nDCG@10"]
                found = dr.overlap(run, reference, k=10).aggregate["Overlap@10"]
                setting = f"{search['nprobe']}:{search['candidates']}" if search["nprobe"] else "brute"
                print(
                    f"{nbits:>5} {setting:>11} {stats['build_s']:>8.1f} {search['seconds']:>9.1f} "
                    f"{stats['index_bytes'] / 2**20:>10.1f} {stats['index_bytes'] / fp32_bytes:>6.3f} "
                    f"{stats['rss_gb']:>11.2f} {ndcg:>8.4f} {exact:>7.4f} {ndcg - exact:>+8.4f} {found:>10.3f}"
                )
        print("\nnbits 0: fp32 token vectors (the reference index); build s includes reading the token cache")


if __name__ == "__main__":
    main()

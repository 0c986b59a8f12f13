"""Late interaction: centroid-pruned search vs brute-force MaxSim, on token embeddings of a real collection.

Token vectors come from a real model (default all-MiniLM-L6-v2, no projection; pass a ColBERT checkpoint with
--model) over the first --docs passages of SciFact and all its queries. Encoding is done once, before timing.
Prints: index build time, search time of brute force (nprobe=0) and of each pruned setting, the speedup, and the
share of the exact top-10 the pruned search finds (goal >= 95% at the default nprobe=4, candidates=1024).

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/late_interaction.py [--docs 2000] [--dataset ../shared/datasets/scifact]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--dataset", default=os.path.join(here, "..", "..", "shared", "datasets", "scifact"))
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)

    from daft import col

    from daft_retrieval import schema as S
    from daft_retrieval.encode.tokens import TokenConfig, TokenEncoder
    from daft_retrieval.index.late import build_late_index
    from daft_retrieval.load import load_beir
    from daft_retrieval.retrieve.late import search_late_index

    ds = load_beir(args.dataset)
    config = TokenConfig(model=args.model, max_seq_length=args.max_seq_length)
    encoder, dim = TokenEncoder(config), config.dimensions()
    t = time.perf_counter()
    corpus = ds.corpus.sort(S.DOC_ID).limit(args.docs)
    docs = corpus.select(S.DOC_ID, encoder.embed_documents(S.document_text()).alias(S.TOKENS)).collect()
    queries = ds.queries.select(S.QUERY_ID, encoder.embed_queries(col(S.TEXT)).alias(S.TOKENS)).collect()
    seconds = time.perf_counter() - t
    print(f"encoded {docs.count_rows():,} passages and {queries.count_rows():,} queries in {seconds:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index = build_late_index(docs, os.path.join(tmp, "late"), dim=dim)
        print(
            f"index: {index.n_tokens:,} token vectors, {index.n_centroids:,} centroids, {time.perf_counter() - t:.1f} s"
        )

        def timed(**options):
            t = time.perf_counter()
            run = search_late_index(index, queries, args.k, **options).to_pydict()
            return time.perf_counter() - t, set(zip(run[S.QUERY_ID], run[S.DOC_ID]))

        search_late_index(index, queries.limit(2), args.k, nprobe=0).collect()  # load the shard once
        exact_s, exact = timed(nprobe=0)
        print(f"\n{'search':<28}{'seconds':>9}{'speedup':>9}{'top-' + str(args.k) + ' found':>13}")
        print(f"{'brute force (nprobe=0)':<28}{exact_s:>9.2f}{1.0:>9.2f}{1.0:>13.3f}")
        for nprobe, candidates in [(1, 256), (2, 512), (4, 1024), (8, 2048)]:
            seconds, found = timed(nprobe=nprobe, candidates=candidates)
            label = f"nprobe={nprobe}, candidates={candidates}" + (" *" if nprobe == 4 else "")
            print(f"{label:<28}{seconds:>9.2f}{exact_s / seconds:>9.2f}{len(found & exact) / len(exact):>13.3f}")
        print("* default")


if __name__ == "__main__":
    main()

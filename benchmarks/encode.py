"""Encoding throughput: the Daft pipeline (DenseEncoder batch method) vs bare SentenceTransformer.encode.

Same texts (SciFact passages when ../shared/datasets is present, else data/demo), same model and batch size;
runs alternate and the best of each is kept. Prints passages/s and the ratio (goal >= 1.0).

    python benchmarks/encode.py [--n 1000] [--repeat 2] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import daft

from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.load import load_beir
from daft_retrieval.schema import document_text

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="passages to encode")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    scifact = ROOT.parent / "shared" / "datasets" / "scifact"
    ds = load_beir(str(scifact if scifact.exists() else ROOT / "data" / "demo"))
    corpus = ds.corpus.limit(args.n).collect()
    texts = corpus.select(document_text()).to_pydict()["document"]
    config = DenseConfig(batch_size=args.batch_size)
    model = config.build()[0]  # warm both sides up on the same loaded weights
    model.encode_document(texts[:64], batch_size=args.batch_size)
    ours, bare = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        encode(corpus, "doc_id", document_text(), config, role="document")
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.encode_document(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        bare.append(time.perf_counter() - t)
    n = len(texts)
    print(f"{n} passages ({ds.name}), batch size {args.batch_size}, best of {args.repeat}")
    print(f"daft_retrieval (Daft batch method)  {n / min(ours):8.1f} passages/s")
    print(f"bare SentenceTransformer.encode     {n / min(bare):8.1f} passages/s")
    print(f"ratio ours/bare                     {min(bare) / min(ours):8.2f}")


if __name__ == "__main__":
    daft.set_runner_native()
    main()

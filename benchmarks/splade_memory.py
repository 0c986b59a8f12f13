"""SPLADE encoding memory: sentence-transformers' pooling over the whole (batch x length x vocabulary) logits vs
ours (:mod:`daft_retrieval.encode.splade_head`: the masked-LM head a chunk of tokens at a time).

Each side encodes the same passages (the first --docs of SciFact, else data/demo) with SPLADE-tiny in its own
subprocess and reports its peak RSS (``ru_maxrss``) and time; the weights are compared bit for bit.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/splade_memory.py [--docs 1000] [--batch-size 32]
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
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def texts(n: int) -> list[str]:
    scifact = ROOT.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
    path = scifact if scifact.exists() else ROOT / "data" / "demo" / "corpus.jsonl"
    out = []
    with open(path) as fh:
        for line in fh:
            if len(out) == n:
                break
            d = json.loads(line)
            out.append(f"{d.get('title', '')} {d.get('text', '')}".strip())
    return out


def side(kind: str, n: int, batch_size: int, out: str) -> dict:
    import numpy as np
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

    from daft_retrieval.encode.splade_head import chunked_splade
    from daft_retrieval.resolve import resolve_sparse_model

    path = resolve_sparse_model("splade-tiny")
    model = SparseEncoder(modules=[Transformer(path, transformer_task="fill-mask"), SpladePooling("max")])
    model = chunked_splade(model) if kind == "chunked" else model
    passages = texts(n)
    t = time.perf_counter()
    vectors = model.encode_document(passages, batch_size=batch_size, convert_to_sparse_tensor=True)
    seconds = time.perf_counter() - t
    dense = vectors.coalesce().to_dense().numpy()
    np.save(out, dense)
    return {"seconds": seconds, "passages": len(passages), "max_seq_length": model.max_seq_length}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        result = side(args.side, args.docs, args.batch_size, args.out)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    import numpy as np

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sentence-transformers", "chunked"):
            out = os.path.join(tmp, f"{kind}.npy")
            cmd = [sys.executable, __file__, "--side", kind, "--docs", str(args.docs), "--out", out]
            cmd += ["--batch-size", str(args.batch_size)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results[kind] = json.loads(done.stdout.splitlines()[-1])
            results[kind]["weights"] = np.load(out)
        same = np.array_equal(results["sentence-transformers"]["weights"], results["chunked"]["weights"])
    first = results["chunked"]
    print(f"SPLADE-tiny, {first['passages']:,} passages, batch {args.batch_size}, max length {first['max_seq_length']}")
    for kind, r in results.items():
        print(f"{kind:22s} peak RSS {r['peak_mb']:7.0f} MB   {r['seconds']:7.1f} s")
    st, ours = results["sentence-transformers"], results["chunked"]
    print(
        f"ratio peak ours/sentence-transformers {ours['peak_mb'] / st['peak_mb']:.2f}; "
        f"time {ours['seconds'] / st['seconds']:.2f}; weights bit-identical: {same}"
    )


if __name__ == "__main__":
    main()

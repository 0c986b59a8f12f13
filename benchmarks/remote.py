"""Remote fetching: one-by-one synchronous requests vs the async Daft batch method (Fetcher).

A loopback HTTP server (started here) answers each request after --latency seconds (default 20 ms, like a nearby
object store). Both sides fetch the same --docs URLs and must return the same bodies; prints both times and the
ratio, and the server's peak number of requests in flight (the cap is --concurrency).

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/remote.py [--docs 1000] [--latency 0.02] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)

    import daft
    from daft import col

    from daft_retrieval.load.fetch import Fetcher
    from tests.servers import http_server

    with http_server(latency=args.latency) as (base, counters):
        urls = [f"{base}/doc/{i}" for i in range(args.docs)]
        t = time.perf_counter()
        sync = [urllib.request.urlopen(u, timeout=30).read().decode() for u in urls]
        sync_s = time.perf_counter() - t
        counters.max_in_flight = 0
        frame = daft.from_pydict({"url": urls})
        t = time.perf_counter()
        fetched = frame.select(Fetcher(concurrency=args.concurrency).fetch_text(col("url"))).to_pydict()["url"]
        async_s = time.perf_counter() - t
        assert fetched == sync, "the two sides fetched different bodies"
        print(f"{args.docs} documents, {args.latency * 1000:.0f} ms latency each")
        print(f"one by one (urllib)        {sync_s:8.2f} s")
        print(
            f"async Fetcher ({args.concurrency:>3} max)    {async_s:8.2f} s   peak in flight {counters.max_in_flight}"
        )
        print(f"ratio: async is {sync_s / async_s:.1f}x faster")


if __name__ == "__main__":
    main()

"""Choose Daft's runner: native (default, this process) or Ray (a local cluster or one at an address).

Everything in daft_retrieval is Daft expressions and Daft classes, so the same pipeline runs on either; on Ray
each ``@daft.cls`` (encoders, searchers, rerankers, fetchers) becomes actors that load their model or index shard
once. Choose before any Daft work: Daft cannot switch runners in a running process.

    >>> import daft_retrieval as dr
    >>> dr.use_ray(num_cpus=2)  # a local cluster; or address="ray://head:10001"  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import daft

__all__ = ["materialize", "on_ray", "persist", "ray_runner", "use_ray"]


def use_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Run Daft on Ray: connect to ``address`` (``auto``, ``ray://host:10001``), or start a local cluster."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "the Ray runner needs Ray: pip install -e '.[ray]' in the daft_retrieval checkout "
            "(bash scripts/install.sh dev has it)"
        ) from exc
    import daft

    if not ray.is_initialized():
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    daft.set_runner_ray(address=address)


@contextlib.contextmanager
def ray_runner(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[None]:
    """:func:`use_ray` for a block, shutting the Ray connection (and a local cluster) down afterwards, also on
    errors."""
    try:
        use_ray(address, num_cpus=num_cpus)
        yield
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()


def on_ray() -> bool:
    """Whether Daft runs (or will run) this process's queries on Ray."""
    return daft.get_or_infer_runner_type() == "ray"


def persist(frame: daft.DataFrame) -> daft.DataFrame:
    """Run ``frame`` and keep its result for the queries that read it next (Daft's ``collect``).

    On Ray the result is first coalesced to at most one partition per CPU of the cluster. On Daft 0.7.26's Ray
    runner, while collected frames of many small partitions (as shuffles leave them) are held, each further
    shuffle (join, groupby, window) over them was slower than the one before: 0.2 s, 8 s, then 54 s per round
    within eight rounds, and a pipeline of them hung (``benchmarks/ray_collected_shuffles.py``: the same rounds
    through ``persist`` stay under 0.7 s). On the native runner it is ``collect()``.

    >>> persist(daft.from_pydict({"x": [1, 2]})).to_pydict()
    {'x': [1, 2]}
    """
    if not on_ray():
        return frame.collect()
    import ray

    return frame.into_partitions(max(1, int(ray.cluster_resources().get("CPU", 1)))).collect()


def materialize(frame: daft.DataFrame) -> daft.DataFrame:
    """Run ``frame`` and hold the result in the driver as Arrow, in one partition (for small frames: runs, qrels,
    statistics, per-query values).

    Unlike ``collect()``, the result does not point at partitions held by Ray workers, and later shuffles over it
    stay small (see :func:`persist`); on the native runner it is a cheap copy.
    """
    return daft.from_arrow(frame.to_arrow())

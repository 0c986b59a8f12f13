"""Choose Daft's runner: native (default, this process) or Ray (a local cluster or one at an address).

Everything in daft_retrieval is Daft expressions and Daft classes, so the same pipeline runs on either; on Ray
each ``@daft.cls`` (encoders, searchers, rerankers, fetchers) becomes actors that load their model or index shard
once. Choose before any Daft work: Daft cannot switch runners in a running process.

    >>> import daft_retrieval as dr
    >>> dr.use_ray(num_cpus=2)  # doctest: +SKIP  (a local cluster; or address="ray://head:10001")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["ray_runner", "use_ray"]


def use_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Run Daft on Ray: connect to ``address`` (``auto``, ``ray://host:10001``), or start a local cluster."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError("the Ray runner needs Ray: pip install 'daft-retrieval[ray]'") from exc
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

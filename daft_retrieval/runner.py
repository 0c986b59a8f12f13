"""Choose Daft's runner: native (default, this process) or Ray (a local cluster or one at an address).

Everything in daft_retrieval is Daft expressions and Daft classes, so the same pipeline runs on either; on Ray
each ``@daft.cls`` (encoders, searchers, rerankers, fetchers) becomes actors that load their model or index shard
once. Choose before any Daft work: Daft cannot switch runners in a running process.

    >>> import daft_retrieval as dr
    >>> dr.use_ray(num_cpus=2)  # a local cluster; or address="ray://head:10001"  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from collections.abc import Iterator

import daft

from daft_retrieval.errors import DataError, RemoteError

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "check_ray_address",
    "materialize",
    "on_ray",
    "persist",
    "ray_runner",
    "remote_timeout",
    "use_ray",
]

RAY_EXTRA = "pip install 'daft-retrieval[ray]' (in a checkout: pip install -e '.[ray]')"
_PORTS = {"ray://": 10001, "": 6379}  # Ray's client server and GCS ports


DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "DAFT_RETRIEVAL_TIMEOUT"


def remote_timeout(timeout: float | None = None) -> float:
    """``timeout`` if given, else ``$DAFT_RETRIEVAL_TIMEOUT``, else 60 s; a :class:`DataError` unless > 0.

    >>> remote_timeout(5)
    5.0
    """
    source = "timeout"
    if timeout is None and os.environ.get(TIMEOUT_ENV):
        source, timeout = TIMEOUT_ENV, os.environ[TIMEOUT_ENV]
    if timeout is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise DataError(f"{source} must be a number of seconds > 0, not {timeout!r}")
    return value


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"the Ray runner needs Ray, which is not installed: {RAY_EXTRA}") from exc
    return ray


def check_ray_address(address: str | None, *, timeout: float | None = None) -> None:
    """A :class:`RemoteError` naming ``address`` unless a gRPC server (Ray's client server for ``ray://host:port``,
    its GCS for ``host:port``) answers there within ``timeout`` seconds (default 60, ``$DAFT_RETRIEVAL_TIMEOUT``).
    ``ray.init`` itself retries an unreachable ``ray://`` address for about 30 s and a GCS address far longer.
    None, ``auto`` and other schemes (``anyscale://``) are left to Ray.

    >>> check_ray_address("ray://127.0.0.1:1", timeout=2)  # doctest: +SKIP
    Traceback (most recent call last):
    RemoteError: ray://127.0.0.1:1: cannot reach the Ray cluster (connection refused) ...
    """
    import time

    if address is None or address == "auto":
        return
    scheme = "ray://" if address.startswith("ray://") else ""
    rest = address[len(scheme) :]
    if "://" in rest:
        return
    host, _, port = rest.rstrip("/").rpartition(":") if ":" in rest else (rest, "", "")
    if not port.isdigit():
        host, port = rest.rstrip("/"), str(_PORTS[scheme])
    seconds = remote_timeout(timeout)
    fix = "check --ray-address (ray://HEAD:10001), or leave it out to start a local cluster"
    started = time.monotonic()
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else exc.strerror or str(exc)
        if isinstance(exc, socket.gaierror):
            reason = f"the host name {host} does not resolve"
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {seconds:g} s"
        raise RemoteError(f"{address}: cannot reach the Ray cluster ({reason}); {fix}") from None
    import grpc

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=max(0.1, seconds - (time.monotonic() - started)))
    except grpc.FutureTimeoutError:
        raise RemoteError(
            f"{address}: something listens there but no Ray server answered within {seconds:g} s; {fix} "
            "(raise the wait with --timeout SECONDS or DAFT_RETRIEVAL_TIMEOUT)"
        ) from None
    finally:
        channel.close()


def use_ray(address: str | None = None, *, num_cpus: int | None = None, timeout: float | None = None) -> None:
    """Run Daft on Ray: connect to ``address`` (``auto``, ``ray://host:10001``), or start a local cluster.

    Without Ray installed: an ImportError naming the extra to install. An address where no Ray answers within
    ``timeout`` seconds (default 60): a :class:`RemoteError` naming it (see :func:`check_ray_address`).
    """
    ray = _import_ray()
    if not ray.is_initialized():
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            check_ray_address(address, timeout=timeout)
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise RemoteError(f"{address}: cannot connect to the Ray cluster ({exc})") from None
    daft.set_runner_ray(address=address)


@contextlib.contextmanager
def ray_runner(
    address: str | None = None, *, num_cpus: int | None = None, timeout: float | None = None
) -> Iterator[None]:
    """:func:`use_ray` for a block, shutting the Ray connection (and a local cluster) down afterwards, also on
    errors."""
    try:
        use_ray(address, num_cpus=num_cpus, timeout=timeout)
        yield
    finally:
        with contextlib.suppress(ImportError):  # without Ray, use_ray's own error says what to install
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

"""A cache that heals: a damaged part is reported once, moved aside and encoded again; a cache that cannot be
written still serves its hits; ``cache stats`` never crashes and ``cache verify [--repair]`` finds every bad byte;
the cache's S3 settings are its own."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import daft
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from daft import col

from daft_retrieval.cache import EmbeddingCache, verify
from daft_retrieval.cache.parts import part_name
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.errors import DataWarning
from daft_retrieval.schema import EMBEDDING
from tests.conftest import ROOT

CONFIG = DenseConfig(max_seq_length=32)
N, COMMIT = 24, 8  # three parts of eight texts each


def _frame(n: int = N) -> daft.DataFrame:
    return daft.from_pydict({"id": [f"p{i}" for i in range(n)], "text": [f"passage number {i}" for i in range(n)]})


def _encode(cache: EmbeddingCache, n: int = N) -> tuple[dict[str, np.ndarray], list[str]]:
    """(id -> vector, the DataWarnings raised) of one run over ``n`` texts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = encode(_frame(n), "id", col("text"), CONFIG, role="document", cache=cache).to_pydict()
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    return {k: np.asarray(v) for k, v in zip(d["id"], d[EMBEDDING])}, messages


def _misses(cache: EmbeddingCache) -> int:
    return sum(c["misses"] for c in cache.counts.values())


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """A clean cache of three parts, and the vectors of the clean run that wrote it (copied per test)."""
    root = tmp_path_factory.mktemp("clean") / "cache"
    vectors, messages = _encode(EmbeddingCache(root, commit_rows=COMMIT))
    assert messages == [] and len(vectors) == N
    return root, vectors


@pytest.fixture
def cache_dir(tmp_path, clean) -> Path:
    import shutil

    shutil.copytree(clean[0], tmp_path / "cache")
    return tmp_path / "cache"


def _entry(cache_dir: Path) -> Path:
    return next(p.parent for p in cache_dir.glob("*/meta.json"))


def _parts(cache_dir: Path) -> list[Path]:
    return sorted(_entry(cache_dir).glob("part-*.parquet"))


def _flip_a_value_byte(path: Path) -> None:
    """Change one byte so that the file still reads as Parquet (other vector values): only the checksum tells."""
    data, before = bytearray(path.read_bytes()), pq.read_table(path)
    for at in range(len(data) // 2, len(data) - 100):
        changed = bytearray(data)
        changed[at] ^= 0x01
        try:
            after = pq.read_table(pa.BufferReader(bytes(changed)))
        except Exception:
            continue
        if after.schema == before.schema and not after.equals(before):
            path.write_bytes(bytes(changed))
            return
    raise AssertionError("no byte flip keeps this part readable")


def _wrong_dimension(path: Path, cache_dir: Path) -> Path:
    """Plant a new, well-formed part (its own valid checksum) holding the keys of the texts in ``path`` with
    8-dimensional vectors: a part of another model. Returns the planted part."""
    keys = pq.read_table(path).select(["_h1", "_h2"])
    rows = keys.num_rows
    values = pa.array([[float(i)] * 8 for i in range(rows)], pa.large_list(pa.float32()))
    sink = pa.BufferOutputStream()
    pq.write_table(keys.append_column("value", values), sink)
    data = sink.getvalue().to_pybytes()
    planted = path.parent / part_name(data)
    planted.write_bytes(data)
    return planted


DAMAGES = {
    "truncated": lambda p, _: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "not parquet": lambda p, _: p.write_bytes(os.urandom(p.stat().st_size)),
    "zero bytes": lambda p, _: p.write_bytes(b""),
    "footer only": lambda p, _: p.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1"),
    "flipped byte": lambda p, _: _flip_a_value_byte(p),
    "wrong dimension": _wrong_dimension,
}
WHY = {
    "truncated": "is truncated",
    "not parquet": "is not a Parquet file",
    "zero bytes": "is empty (0 bytes)",
    "footer only": "unreadable Parquet footer",
    "flipped byte": "fails its checksum",
    "wrong dimension": "holds 8-dimensional vectors, expected 384 dimensions",
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_part_is_reported_once_moved_aside_and_encoded_again(cache_dir, clean, damage):
    target = _parts(cache_dir)[1]
    planted = DAMAGES[damage](target, cache_dir)
    bad = planted if isinstance(planted, Path) else target
    fp = _entry(cache_dir).name

    stats = EmbeddingCache(cache_dir).stats()  # never crashes; structure only (the checksum needs verify)
    damaged = stats["entries"][0]["damaged"]
    if damage == "flipped byte":
        assert damaged == [] and stats["entries"][0]["rows"] == N
    else:
        assert [d["path"] for d in damaged] == [str(bad)] and WHY[damage] in damaged[0]["problem"]
        assert stats["entries"][0]["rows"] == N - (0 if damage == "wrong dimension" else COMMIT)
    assert bad.exists()  # stats moves nothing

    cache = EmbeddingCache(cache_dir, commit_rows=COMMIT)
    vectors, messages = _encode(cache)
    assert len(messages) == 1, messages
    assert str(bad) in messages[0] and WHY[damage] in messages[0] and "moved aside" in messages[0]
    moved = cache_dir / "quarantine" / fp / bad.name
    assert not bad.exists() and moved.exists()  # moved, never deleted
    assert WHY[damage] in (moved.parent / f"{bad.name}.why").read_text()
    # its texts were encoded again (a planted part held texts other parts hold: nothing to encode)
    assert _misses(cache) == (0 if damage == "wrong dimension" else COMMIT)
    assert vectors.keys() == clean[1].keys()
    assert all(np.array_equal(vectors[k], clean[1][k]) for k in vectors)  # the same bits as the clean run

    again = EmbeddingCache(cache_dir, commit_rows=COMMIT)
    vectors, messages = _encode(again)
    assert messages == [] and _misses(again) == 0
    assert all(np.array_equal(vectors[k], clean[1][k]) for k in vectors)
    assert verify(again).problems == []


def test_a_part_from_before_checksums_is_still_served(cache_dir, clean):
    part = _parts(cache_dir)[0]
    legacy = part.with_name(part.name.rsplit("-", 1)[0] + ".parquet")  # part-<time>-<tag>.parquet
    part.rename(legacy)
    cache = EmbeddingCache(cache_dir)
    vectors, messages = _encode(cache)
    assert messages == [] and _misses(cache) == 0 and legacy.exists()
    assert all(np.array_equal(vectors[k], clean[1][k]) for k in vectors)
    assert verify(cache).problems == []  # decoded in full: sound
    legacy.write_bytes(legacy.read_bytes()[:-40] + bytes(36) + b"PAR1")  # a broken footer is caught without one
    assert "unreadable Parquet footer" in verify(cache).problems[0].why


def test_damaged_json_files_never_crash_stats_and_are_written_again(cache_dir, clean):
    entry = _entry(cache_dir)
    (entry / "meta.json").write_bytes(b"\xff{not json")
    (entry / "schema.json").write_text("[1, 2]")
    (cache_dir / "last_run.json").write_text("{truncated")
    stats = EmbeddingCache(cache_dir).stats()
    assert stats["last_run"] == {} and stats["entries"][0]["model"] == "?" and stats["entries"][0]["rows"] == N
    assert sorted(Path(d["path"]).name for d in stats["entries"][0]["damaged"]) == ["meta.json", "schema.json"]

    cache = EmbeddingCache(cache_dir, commit_rows=COMMIT)
    vectors, messages = _encode(cache, N + 3)  # three new texts: a commit writes both files again
    assert len(messages) == 2 and all("is not a JSON object" in m and "written again" in m for m in messages)
    assert json.loads((entry / "meta.json").read_text())["model"] == CONFIG.model
    assert json.loads((entry / "schema.json").read_text()) == {"value_type": "large_list<element: float>", "dim": 384}
    assert all(np.array_equal(vectors[k], clean[1][k]) for k in clean[1])
    assert verify(EmbeddingCache(cache_dir)).problems == []


def test_a_bad_part_in_a_read_only_cache_is_skipped_and_left_in_place(cache_dir, clean):
    bad = _parts(cache_dir)[2]
    bad.write_bytes(b"")
    cache = EmbeddingCache(cache_dir, read_only=True)
    vectors, messages = _encode(cache)
    assert len(messages) == 1 and str(bad) in messages[0] and "left in place: the cache is read-only" in messages[0]
    assert bad.exists() and not (cache_dir / "quarantine").exists()
    assert _misses(cache) == COMMIT and all(np.array_equal(vectors[k], clean[1][k]) for k in vectors)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_read_only_flag_serves_hits_and_stores_nothing(cache_dir, clean):
    before = _snapshot(cache_dir)
    cache = EmbeddingCache(cache_dir, commit_rows=COMMIT, read_only=True)
    vectors, messages = _encode(cache, N + 5)  # 24 hits, 5 misses
    assert messages == []  # asked for: no warning
    assert len(vectors) == N + 5 and _misses(cache) == 5
    assert all(np.array_equal(vectors[k], clean[1][k]) for k in clean[1])
    assert _snapshot(cache_dir) == before
    fresh, _ = _encode(EmbeddingCache(cache_dir.parent / "fresh"), N + 5)
    assert all(np.allclose(vectors[k], fresh[k], atol=1e-6) for k in fresh)


@contextlib.contextmanager
def _read_only_folders(*folders: Path):
    """Make folders unwritable: chmod for a user; as root (chmod does not bind root) the immutable attribute,
    or skip where this machine does not allow it."""
    if os.geteuid() != 0:
        for f in folders:
            f.chmod(0o555)
        try:
            yield
        finally:
            for f in folders:
                f.chmod(0o755)
        return
    done = []
    try:
        for f in folders:
            if subprocess.run(["chattr", "+i", str(f)], capture_output=True).returncode != 0:
                pytest.skip(
                    "running as root without CAP_LINUX_IMMUTABLE (chattr +i): no way to make a folder read-only"
                )
            done.append(f)
        yield
    finally:
        for f in done:
            subprocess.run(["chattr", "-i", str(f)], check=True)


def test_a_read_only_folder_serves_hits_with_one_warning(cache_dir, clean):
    before = _snapshot(cache_dir)
    with _read_only_folders(cache_dir, _entry(cache_dir)):
        cache = EmbeddingCache(cache_dir, commit_rows=COMMIT)
        vectors, messages = _encode(cache, N + 20)  # 24 hits; 20 misses in three chunks: each fails to commit
        assert len(messages) == 1 and f"embedding cache {cache_dir} cannot be written" in messages[0], messages
        assert len(vectors) == N + 20 and _misses(cache) == 20
        assert all(np.array_equal(vectors[k], clean[1][k]) for k in clean[1])
        assert _snapshot(cache_dir) == before
        assert cache.stats()["entries"][0]["rows"] == N


def test_a_cache_under_a_file_cannot_be_written_and_the_run_still_completes(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    cache = EmbeddingCache(tmp_path / "a-file" / "cache", commit_rows=COMMIT)
    vectors, messages = _encode(cache, 10)
    assert len(messages) == 1 and "cannot be written" in messages[0] and str(tmp_path / "a-file") in messages[0]
    assert len(vectors) == 10 and _misses(cache) == 10 and (tmp_path / "a-file").read_text() == "not a folder"
    assert cache.stats()["entries"] == [] and verify(cache).problems == []


_FULL_DISK = textwrap.dedent(
    """
    import json, resource, signal, sys, warnings
    sys.path.insert(0, {root!r})
    import daft
    from daft import col
    from daft_retrieval.cache import EmbeddingCache
    from daft_retrieval.encode.dense import DenseConfig
    from daft_retrieval.encode.column import encode
    from daft_retrieval.schema import EMBEDDING

    frame = daft.from_pydict({{"id": [f"p{{i}}" for i in range(30)], "text": [f"text {{i}}" for i in range(30)]}})
    config = DenseConfig(max_seq_length=32)
    encode(frame, "id", col("text"), config, role="document")  # load the model while files can be written
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = EmbeddingCache(sys.argv[1], commit_rows=8)
        out = encode(frame, "id", col("text"), config, role="document", cache=cache).to_pydict()
    print(json.dumps({{"rows": len(out["id"]), "dims": sorted({{len(v) for v in out[EMBEDDING]}}),
                       "warnings": [str(w.message) for w in caught]}}))
    """
)


def test_a_full_disk_mid_commit_leaves_no_half_file_and_loses_no_row(tmp_path):
    script = tmp_path / "full_disk.py"
    script.write_text(_FULL_DISK.format(root=str(ROOT)))
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0", "HF_HUB_OFFLINE": "1"}
    cache_dir = tmp_path / "cache"
    out = subprocess.run(
        [sys.executable, str(script), str(cache_dir)], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] == 30 and result["dims"] == [384]
    assert len(result["warnings"]) == 1 and "File too large" in result["warnings"][0], result["warnings"]
    assert list(cache_dir.rglob("part-*")) == [] and list(cache_dir.rglob(".tmp-*")) == []


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "daft_retrieval", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_cli_verify_stats_and_repair(cache_dir):
    out = cli("cache", "verify", "--cache", str(cache_dir))
    assert out.returncode == 0 and out.stdout.strip().endswith("1 entries, 3 parts checked, 0 problems"), out
    garbage, flipped = _parts(cache_dir)[:2]
    garbage.write_bytes(b"x" * 100)
    _flip_a_value_byte(flipped)

    out = cli("cache", "stats", "--cache", str(cache_dir))
    assert out.returncode == 0 and out.stderr == "" and "1 damaged files" in out.stdout and str(garbage) in out.stdout
    out = cli("cache", "stats", "--cache", str(cache_dir), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["entries"][0]["damaged"][0]["path"] == str(garbage)

    out = cli("cache", "verify", "--cache", str(cache_dir))
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 3, out
    assert lines[0] == f"damaged: {garbage} is not a Parquet file (no PAR1 header)"
    assert lines[1].startswith(f"damaged: {flipped} fails its checksum")
    assert garbage.exists() and flipped.exists()  # verify alone moves nothing

    out = cli("cache", "verify", "--cache", str(cache_dir), "--repair")
    assert out.returncode == 1 and out.stdout.strip().endswith("2 problems, 2 moved aside"), out
    quarantined = cache_dir / "quarantine" / _entry(cache_dir).name
    assert f"moved aside to {quarantined / garbage.name}" in out.stdout
    assert not garbage.exists() and (quarantined / flipped.name).exists()
    out = cli("cache", "verify", "--cache", str(cache_dir))
    assert out.returncode == 0 and "1 parts checked, 0 problems" in out.stdout


def test_cli_repair_that_cannot_write_exits_2_naming_the_file(cache_dir):
    bad = _parts(cache_dir)[0]
    bad.write_bytes(b"")
    (cache_dir / "quarantine").write_text("a file where the quarantine folder goes")  # unwritable, even for root
    out = cli("cache", "verify", "--cache", str(cache_dir), "--repair")
    assert out.returncode == 2 and out.stdout == "", out
    assert out.stderr.count("\n") == 1 and f"error: {bad}: cannot move it aside" in out.stderr, out.stderr
    assert bad.exists()


def test_fp16_asked_on_cpu_shares_the_fp32_entry():
    import torch

    base = CONFIG.fingerprint("document")
    for device, dtype in (("cpu", "float32"), ("cuda", "float16"), (None, None)):
        config = DenseConfig(max_seq_length=32, fp16=True, device=device)
        fp, meta = config.fingerprint("document")
        expected = dtype or ("float16" if torch.cuda.is_available() else "float32")
        assert meta["dtype"] == expected and (fp == base[0]) == (expected == "float32")


def test_the_cache_takes_its_own_s3_settings_not_the_datasets(monkeypatch, tmp_path):
    from daft_retrieval.cli import commands
    from daft_retrieval.cli.main import build_parser
    from tests.servers import closed_port, s3_server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with s3_server() as (endpoint, client):
        client.create_bucket(Bucket="emb")
        dataset_endpoint = f"http://127.0.0.1:{closed_port()}"  # the dataset's store: nothing listens there
        argv = ["eval", "--s3-endpoint", dataset_endpoint, "--cache", "s3://emb/c", "--cache-s3-endpoint", endpoint]
        cache = commands._cache(build_parser().parse_args(argv))
        assert cache.io_config.s3.endpoint_url == endpoint
        first, messages = _encode(cache, 12)
        assert messages == [] and _misses(cache) == 12

        # a part overwritten on the store: reported as an s3:// URL, moved aside under quarantine/, encoded again
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="emb")["Contents"] if o["Key"].endswith(".parquet")]
        client.put_object(Bucket="emb", Key=keys[0], Body=b"not parquet at all")
        again = commands._cache(build_parser().parse_args(argv))
        second, messages = _encode(again, 12)
        assert len(messages) == 1 and f"s3://emb/{keys[0]} is not a Parquet file" in messages[0]
        listed = [o["Key"] for o in client.list_objects_v2(Bucket="emb")["Contents"]]
        assert keys[0] not in listed and any(k.startswith("c/quarantine/") and k.endswith(".parquet") for k in listed)
        assert _misses(again) == 12 and all(np.array_equal(first[k], second[k]) for k in first)

        out = cli("cache", "verify", "--cache", "s3://emb/c", "--cache-s3-endpoint", endpoint)
        assert out.returncode == 0 and "0 problems" in out.stdout, out


@pytest.mark.parametrize("kind", ["tokens", "sparse"])
def test_token_and_sparse_entries_heal_too(tmp_path, kind):
    """Values of varying length (token matrices, sparse vectors): no dimension is expected, the rest holds."""
    from daft_retrieval.encode.sparse import SparseConfig
    from daft_retrieval.encode.tokens import TokenConfig

    def run(cache: EmbeddingCache) -> tuple[dict, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if kind == "tokens":
                out = encode(_frame(), "id", col("text"), TokenConfig(max_seq_length=32), role="document", cache=cache)
            else:
                out = encode(_frame(), "id", col("text"), SparseConfig(max_seq_length=32), role="query", cache=cache)
            d = out.to_pydict()
        rows = sorted(zip(*[d[c] for c in out.column_names]), key=repr)
        return rows, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]

    root = tmp_path / "cache"
    first, messages = run(EmbeddingCache(root, commit_rows=COMMIT))
    assert messages == [] and first
    schema = json.loads(next(root.glob("*/schema.json")).read_text())
    assert schema["dim"] is None  # lengths vary: only the type is expected of every part
    bad = _parts(root)[0]
    _flip_a_value_byte(bad)
    cache = EmbeddingCache(root, commit_rows=COMMIT)
    second, messages = run(cache)
    assert len(messages) == 1 and str(bad) in messages[0] and "fails its checksum" in messages[0]
    assert _misses(cache) == COMMIT and second == first
    third = EmbeddingCache(root, commit_rows=COMMIT)
    assert run(third) == (first, []) and _misses(third) == 0 and verify(third).problems == []

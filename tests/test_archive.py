"""Dataset zips: unpacked into folders keyed by content (a changed zip is re-read, two zips of one name never
share), within size and ratio limits, refusing corrupt, escaping and duplicate members with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from daft_retrieval import schema as S
from daft_retrieval.errors import ArchiveError, DataError, RemoteError
from daft_retrieval.load import load_beir
from daft_retrieval.load.archive import beir_archive
from daft_retrieval.load.unzip import archive_limits, parse_size
from tests.conftest import ROOT
from tests.servers import http_server

DEMO = ROOT / "data" / "demo"
NEW_DOC = {"_id": "zz-new-doc", "title": "Added", "text": "a document only the second archive has"}


def _members(extra_docs: int = 0) -> dict[str, bytes]:
    files = {f"demo/{p.relative_to(DEMO).as_posix()}": p.read_bytes() for p in DEMO.rglob("*") if p.is_file()}
    for i in range(extra_docs):
        doc = {**NEW_DOC, "_id": f"{NEW_DOC['_id']}-{i}"}
        files["demo/corpus.jsonl"] += (json.dumps(doc) + "\n").encode()
    return files


def _zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> str:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def _unpacked(home) -> list[str]:
    folder = home / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFT_RETRIEVAL_CACHE", str(tmp_path / "home"))
    for name in ("DAFT_RETRIEVAL_MAX_ARCHIVE_BYTES", "DAFT_RETRIEVAL_MAX_ARCHIVE_RATIO", "DAFT_RETRIEVAL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def _documents(path: str, **options) -> int:
    return load_beir(path, **options).corpus.count_rows()


def test_two_archives_of_one_name_never_share_a_folder(tmp_path, home):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _zip(tmp_path / "a" / "demo.zip", _members())
    second = _zip(tmp_path / "b" / "demo.zip", _members(extra_docs=2))
    assert _documents(first) == 300
    assert _documents(second) == 302  # not the first one's unpacked copy
    assert _documents(first) == 300
    names = _unpacked(home)
    assert len(names) == 2 and all(n.startswith("demo-c") for n in names), names


def test_a_changed_archive_is_read_again_and_an_unchanged_one_is_not(tmp_path, home):
    path = tmp_path / "demo.zip"
    _zip(path, _members())
    assert _documents(str(path)) == 300
    stat = path.stat()
    _zip(path, _members(extra_docs=1))  # the same path, new content (mtime put back: content decides)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _documents(str(path)) == 301
    assert len(_unpacked(home)) == 2
    copy = tmp_path / "copy.zip"
    copy.write_bytes(path.read_bytes())  # identical bytes under another name: the same key
    assert _documents(str(copy)) == 301
    keys = {name.split("-", 1)[1] for name in _unpacked(home)}
    assert len(_unpacked(home)) == 3 and len(keys) == 2, _unpacked(home)


def test_an_archive_by_url_is_keyed_by_its_validators(tmp_path, home):
    served = tmp_path / "served"
    served.mkdir()
    path = served / "demo.zip"
    _zip(path, _members())
    with http_server(str(served)) as (base, counters):
        assert _documents(f"{base}/demo.zip") == 300
        assert _documents(f"{base}/demo.zip") == 300
        assert counters.hits["/demo.zip"] == 1  # unchanged (HEAD: same Last-Modified and length): not fetched
        _zip(path, _members(extra_docs=3))
        os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))
        assert _documents(f"{base}/demo.zip") == 303  # changed on the server: fetched and unpacked again
        assert counters.hits["/demo.zip"] == 2
        # a server with no ETag or Last-Modified: fetched every time, keyed by what came
        assert _documents(f"{base}/fault/plain/demo.zip") == 303
        assert _documents(f"{base}/fault/plain/demo.zip") == 303
        assert counters.hits["/fault/plain/demo.zip"] == 2
    keys = [n.rsplit("-", 1)[-1] for n in _unpacked(home)]
    assert len(keys) == 3 and len(set(keys)) == 3, keys
    assert sum(k.startswith("c") for k in keys) == 1  # the content-keyed one


def test_an_archive_url_refusing_head_is_asked_for_its_first_byte(tmp_path, home):
    served = tmp_path / "served"
    served.mkdir()
    _zip(served / "demo.zip", _members())
    with http_server(str(served)) as (base, counters):
        url = f"{base}/fault/nohead/demo.zip"  # as a presigned URL: HEAD 403, GET fine
        assert _documents(url) == 300
        assert _documents(url) == 300
        assert counters.hits["/fault/nohead/demo.zip"] == 3  # first byte + download, then the first byte only
    assert len(_unpacked(home)) == 1 and _unpacked(home)[0].startswith("demo-u")


def test_a_cut_download_is_refused_after_retries(tmp_path, home):
    served = tmp_path / "served"
    served.mkdir()
    _zip(served / "demo.zip", _members())
    with http_server(str(served)) as (base, counters):
        url = f"{base}/fault/truncate/demo.zip"
        with pytest.raises(RemoteError, match=r"demo\.zip: the body ended after [\d,]+ of [\d,]+ bytes.*4 attempts"):
            load_beir(url, timeout=20)
        assert counters.hits["/fault/truncate/demo.zip"] == 4
    assert not any(p.name.startswith(".") for p in (home / "datasets").iterdir())


def test_a_zip_bomb_is_refused_and_the_limit_can_be_raised(tmp_path, home, monkeypatch):
    members = {**_members(), "demo/padding.bin": b"\0" * (8 << 20)}  # 8 MiB of zeros packs about 1000:1
    bomb = _zip(tmp_path / "bomb.zip", members)
    with pytest.raises(ArchiveError, match=r"bomb\.zip: member 'demo/padding\.bin' unpacks [\d,]+x .*limit of 200x"):
        load_beir(bomb)
    assert _unpacked(home) == []  # refused before anything was written (no hidden half folder either)
    assert _documents(bomb, max_archive_ratio=5000) == 300
    monkeypatch.setenv("DAFT_RETRIEVAL_MAX_ARCHIVE_RATIO", "5000")  # the environment's limit, when none is given
    second = _zip(tmp_path / "second.zip", {**members, "demo/padding.bin": b"\0" * (6 << 20)})
    assert _documents(second) == 300
    third = _zip(tmp_path / "third.zip", {**members, "demo/padding.bin": b"\0" * (5 << 20)})
    with pytest.raises(ArchiveError, match=r"third\.zip: .*over the limit of 300x"):
        beir_archive(third, max_ratio=300)  # given beats the environment


def test_the_total_size_limit(tmp_path, home, monkeypatch):
    archive = _zip(tmp_path / "demo.zip", _members())
    total = sum(len(v) for v in _members().values())
    with pytest.raises(ArchiveError, match=rf"demo\.zip: unpacks to {total:,} bytes, over the limit of 102,400"):
        load_beir(archive, max_archive_bytes="100K")
    monkeypatch.setenv("DAFT_RETRIEVAL_MAX_ARCHIVE_BYTES", "100K")
    with pytest.raises(ArchiveError, match="max-archive-bytes"):
        load_beir(archive)
    assert _documents(archive, max_archive_bytes=total) == 300  # exactly at the limit is allowed


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_corrupt_member_is_named(tmp_path, home, compression):
    path = tmp_path / "demo.zip"
    _zip(path, _members(), compression)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo/corpus.jsonl")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x55  # one flipped byte in the member's data
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"demo\.zip: member 'demo/corpus\.jsonl' is corrupt"):
        load_beir(str(path))
    assert _unpacked(home) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [("../evil.txt", "points outside"), ("/tmp/evil.txt", "points outside"), ("demo/../../evil.txt", "points outside")],
)
def test_members_escaping_the_folder_are_refused(tmp_path, home, name, problem):
    archive = _zip(tmp_path / "slip.zip", {**_members(), name: b"owned"})
    with pytest.raises(ArchiveError, match=rf"slip\.zip: member '{name}' {problem}"):
        load_beir(archive)
    assert not (tmp_path / "evil.txt").exists() and not (home / "evil.txt").exists()
    assert _unpacked(home) == []


def test_links_duplicates_and_non_zips_are_refused(tmp_path, home):
    link = zipfile.ZipInfo("demo/link")
    link.external_attr = (0o120777 << 16) | 0  # a symbolic link
    path = tmp_path / "link.zip"
    _zip(path, _members())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ArchiveError, match=r"member 'demo/link' is a symbolic link"):
        load_beir(str(path))
    twice = tmp_path / "twice.zip"
    _zip(twice, _members())
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(twice, "a") as zf:
        zf.writestr("demo/corpus.jsonl", b'{"_id": "x", "text": "another corpus"}\n')
    with pytest.raises(ArchiveError, match=r"member 'demo/corpus\.jsonl' is in the archive twice"):
        load_beir(str(twice))
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArchiveError, match=r"fake\.zip: not a zip archive"):
        load_beir(str(fake))
    with pytest.raises(DataError, match=r"nothing\.zip: no such archive"):
        load_beir(str(tmp_path / "nothing.zip"))
    empty = _zip(tmp_path / "empty.zip", {"readme.txt": b"no corpus here"})
    with pytest.raises(ArchiveError, match=r"empty\.zip: the archive holds no BEIR folder"):
        load_beir(empty)
    assert not any(p.startswith(".") for p in _unpacked(home))


def test_limits_are_checked():
    assert parse_size("1.5G") == 3 << 29 and parse_size("20GiB") == 20 << 30 and parse_size(" 7 ") == 7
    assert archive_limits() == (20 << 30, 200.0)
    for bad in ("lots", "-1G", "0", "1Q"):
        with pytest.raises(DataError, match="not a size"):
            parse_size(bad)
    with pytest.raises(DataError, match="ratio limit must be a number >= 1"):
        archive_limits(max_ratio=0.5)


def _cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAFT_RETRIEVAL_CACHE": str(home), "DAFT_ANALYTICS_ENABLED": "0"}
    command = [sys.executable, "-m", "daft_retrieval", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def _one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr and "panicked" not in out.stderr
    return lines[0]


def test_cli_corrupt_member_and_ratio_limit(tmp_path, home):
    path = tmp_path / "demo.zip"
    _zip(path, _members(), zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo/queries.jsonl")
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0x01
    path.write_bytes(bytes(data))
    line = _one_line_error(_cli("eval", "--retriever", "bm25", "--dataset", str(path), home=home))
    assert str(path) in line and "member 'demo/queries.jsonl' is corrupt" in line, line

    bomb = _zip(tmp_path / "bomb.zip", {**_members(), "demo/padding.bin": b"\0" * (4 << 20)})
    args = ["eval", "--retriever", "bm25", "-m", "nDCG@10", "--json", "--dataset", bomb]
    line = _one_line_error(_cli(*args, home=home))
    assert "bomb.zip" in line and "--max-archive-ratio" in line, line
    raised = _cli(*args, "--max-archive-ratio", "10000", home=home)
    assert raised.returncode == 0, raised.stderr
    assert 0 < json.loads(raised.stdout.strip().splitlines()[-1])["nDCG@10"] <= 1
    line = _one_line_error(_cli(*args, "--max-archive-bytes", "lots", home=home))
    assert "not a size: 'lots'" in line


def test_corpus_of_an_unpacked_archive_equals_the_folder(tmp_path, home):
    archive = _zip(tmp_path / "demo.zip", _members())
    local, unpacked = load_beir(DEMO), load_beir(archive)
    key = [S.DOC_ID]
    assert unpacked.corpus.sort(key).to_pydict() == local.corpus.sort(key).to_pydict()
    assert unpacked.report == local.report

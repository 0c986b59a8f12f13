"""Never destroy what the user owns: output files replaced atomically or written in place, index folders replaced
only when ours, read-only and full destinations refused naming the path, and killed writes cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import daft
import numpy as np
import pytest
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import OutputError
from daft_retrieval.index import atomic
from daft_retrieval.index.atomic import MARKER, atomic_directory
from daft_retrieval.index.vector import build_vector_index, open_vector_index
from daft_retrieval.load import read_run, write_run
from daft_retrieval.outputs import TEMP_PREFIX, check_output_file, output_file, remove_stale_temps, temp_name
from daft_retrieval.paths import SCRATCH, scratch_directory
from tests.conftest import ROOT
from tests.conftest import cli_process as cli

ROOT_USER = os.geteuid() == 0


def run_frame(n: int = 3) -> daft.DataFrame:
    return daft.from_pydict(
        {
            S.QUERY_ID: [f"q{i // 100}" for i in range(n)],
            S.DOC_ID: [f"doc-{i}" for i in range(n)],
            S.SCORE: [float(n - i) for i in range(n)],
            S.RANK: [i % 100 + 1 for i in range(n)],
        }
    )


def run_text(n: int = 3, tag: str = "daft_retrieval") -> str:
    rows = sorted((f"q{i // 100}", i % 100 + 1, f"doc-{i}", float(n - i)) for i in range(n))
    return "".join(f"{q} Q0 {d} {r} {s} {tag}\n" for q, r, d, s in rows)


def vectors(n: int, dim: int = 8, seed: int = 0) -> daft.DataFrame:
    matrix = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    df = daft.from_pydict({S.DOC_ID: [f"d{i}" for i in range(n)], "embedding": list(matrix)})
    return df.with_column("embedding", col("embedding").cast(DataType.embedding(DataType.float32(), dim)))


def temps(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX))


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(OutputError) as info:
        call(*args, **kwargs)
    return str(info.value)


@contextlib.contextmanager
def mounted(folder: Path, options: str):
    """A tmpfs mounted at ``folder`` (root only: else the test is skipped), unmounted afterwards."""
    if not ROOT_USER:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount_read_only(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


# --- output files ---------------------------------------------------------------------------------------------


def test_a_symlink_keeps_being_a_link_and_its_target_gets_the_run(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "real.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    here = tmp_path / "here"
    here.mkdir()
    link = here / "run.txt"
    link.symlink_to(target)
    write_run(run_frame(), str(link))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == run_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the target's mode is kept
    assert os.listdir(here) == ["run.txt"] and os.listdir(elsewhere) == ["real.txt"]  # no temporary file left


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "run.txt"
    link.symlink_to(tmp_path / "made" / "target.txt")
    write_run(run_frame(), str(link))
    assert link.is_symlink() and (tmp_path / "made" / "target.txt").read_text() == run_text()


def test_a_fifo_is_written_in_place_for_its_reader(tmp_path):
    fifo = tmp_path / "run.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        write_run(run_frame(250), str(fifo))
    finally:
        with contextlib.suppress(OSError):  # a reader still waiting for a writer: let it see the end
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=60)
    assert got == [run_text(250).encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not renamed over
    assert os.listdir(tmp_path) == ["run.fifo"]


def test_a_fifo_reader_that_goes_away_is_one_error_naming_the_fifo(tmp_path):
    fifo = tmp_path / "run.fifo"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with open(fifo, "rb") as fh:
            fh.read(10)  # then closes, with ~150 KB still to come: more than a pipe holds

    reader = threading.Thread(target=read_a_little, daemon=True)
    reader.start()
    try:
        message = error_of(write_run, run_frame(5000), str(fifo))
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=60)
    assert message.startswith(f"{fifo}: cannot write it (the reader of the pipe went away)")


def test_dev_null_is_written_and_stays_a_device():
    write_run(run_frame(), "/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dev_stdout_writes_into_the_processes_stdout_at_its_place(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("kept\n")
    inode = out.stat().st_ino
    script = (
        "import daft\n"
        "from daft_retrieval.load import write_run\n"
        "print('before')\n"
        "run = daft.from_pydict({'query_id': ['q1'], 'doc_id': ['d1'], 'score': [2.5], 'rank': [1]})\n"
        "write_run(run, '/dev/stdout', tag='t')\n"
        "print('after')\n"
    )
    with open(out, "a") as fh:
        done = subprocess.run([sys.executable, "-c", script], stdout=fh, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "kept\nbefore\nq1 Q0 d1 1 2.5 t\nafter\n"  # appended in order, nothing truncated
    assert out.stat().st_ino == inode  # the same file: not replaced


def test_dev_full_is_a_full_disk_naming_the_path():
    message = error_of(write_run, run_frame(), "/dev/full")
    assert message.startswith("/dev/full: cannot write it (no space left on device)")


def test_a_failed_temporary_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "run.txt"
    path.write_text("precious\n")
    with pytest.raises(RuntimeError, match="boom"), output_file(str(path)) as fh:
        fh.write(b"half a run")
        raise RuntimeError("boom")
    assert path.read_text() == "precious\n" and os.listdir(tmp_path) == ["run.txt"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a directory; give a file path to write"),
        (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "is a socket, not written"),
    ],
)
def test_folders_and_sockets_are_refused(tmp_path, make, message):
    path = tmp_path / "out"
    make(path)
    assert f"{path}: {message}" in error_of(write_run, run_frame(), str(path))


def test_a_block_device_is_refused_and_never_opened(tmp_path):
    node = tmp_path / "disk"
    try:  # a block device number no driver answers (240: local use): even a wrong write could not reach a disk
        os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(240, 0))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a block device node here: {exc}")
    assert f"{node}: is a block device, not written" in error_of(write_run, run_frame(), str(node))


def test_a_folder_that_is_a_file_is_refused_before_the_run_is_computed(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    path = afile / "sub" / "run.txt"
    message = error_of(check_output_file, str(path))
    assert message.startswith(f"{path}: cannot make its folder") and f"{afile} is a file" in message
    assert "cannot make its folder" in error_of(write_run, run_frame(), str(path))
    assert afile.read_text() == "x"


def test_read_only_destinations_exit_2_naming_the_path(tmp_path):
    with mounted(tmp_path / "ro", "size=1m") as ro:
        (ro / "old.txt").write_text("precious\n")
        remount_read_only(ro)
        new = ro / "runs" / "new.txt"
        assert error_of(write_run, run_frame(), str(new)).startswith(f"{new}: cannot write into {ro} (read-only")
        old = ro / "old.txt"
        assert f"{old}: is read-only" in error_of(write_run, run_frame(), str(old))
        assert old.read_text() == "precious\n"


@pytest.mark.skipif(ROOT_USER, reason="permissions do not stop root: the read-only mount case covers it")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        assert "permission denied" in error_of(write_run, run_frame(), str(locked / "run.txt"))
    finally:
        os.chmod(locked, 0o755)


def test_a_full_disk_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    with mounted(tmp_path / "tiny", "size=64k") as tiny:
        path = tiny / "run.txt"
        path.write_text("precious\n")
        message = error_of(write_run, run_frame(5000), str(path))  # ~150 KB of lines into 64 KiB
        assert message.startswith(f"{path}: cannot write it (no space left on device)")
        assert path.read_text() == "precious\n" and os.listdir(tiny) == ["run.txt"]


# --- killed writes ----------------------------------------------------------------------------------------------


def _killed_mid_write(script: str, env: dict | None = None) -> None:
    """Run ``script`` until it prints "ready", then SIGKILL it (and reap it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    try:
        assert child.stdout.readline() == "ready\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()


def test_a_killed_file_write_is_cleaned_up_by_the_next_write(tmp_path):
    path = tmp_path / "run.txt"
    path.write_text("precious\n")
    _killed_mid_write(
        "import time\nfrom daft_retrieval.outputs import output_file\n"
        f"with output_file({str(path)!r}) as fh:\n"
        "    fh.write(b'half a run'); fh.flush(); print('ready', flush=True); time.sleep(600)\n"
    )
    left = temps(tmp_path)
    assert len(left) == 1 and (tmp_path / left[0]).read_bytes() == b"half a run"
    assert path.read_text() == "precious\n"  # the kill did not touch the file
    live = tmp_path / temp_name()  # this process's: alive, so kept
    live.write_text("in use")
    other_host = tmp_path / f"{TEMP_PREFIX}999999-0123456789ab@another-host"  # maybe alive there: kept
    other_host.write_text("theirs")
    lookalike = tmp_path / f"{TEMP_PREFIX}notes.txt"  # not our name: never removed
    lookalike.write_text("mine")
    write_run(run_frame(), str(path))
    assert path.read_text() == run_text()
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other_host.name, lookalike.name, "run.txt"])


def test_a_killed_index_build_is_cleaned_up_by_the_next_build(tmp_path):
    index = tmp_path / "index"
    _killed_mid_write(
        "import os, time\nfrom daft_retrieval.index.atomic import atomic_directory\n"
        f"with atomic_directory({str(index)!r}) as tmp:\n"
        "    open(os.path.join(tmp, 'part'), 'w').write('x'); print('ready', flush=True); time.sleep(600)\n"
    )
    assert len(temps(tmp_path)) == 1 and not index.exists()
    build_vector_index(vectors(10), str(index))
    assert temps(tmp_path) == [] and open_vector_index(str(index)).count == 10


def test_a_killed_search_scratch_folder_is_cleaned_up_by_the_next_one(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    _killed_mid_write(
        "import time\nfrom daft_retrieval.paths import scratch_directory\n"
        "with scratch_directory('daft-retrieval-index-') as tmp:\n"
        "    print('ready', flush=True); time.sleep(600)\n",
        env={SCRATCH: str(scratch)},
    )
    (left,) = os.listdir(scratch)
    assert left.startswith("daft-retrieval-index-")
    monkeypatch.setenv(SCRATCH, str(scratch))
    with scratch_directory("daft-retrieval-index-") as tmp:
        assert os.listdir(scratch) == [os.path.basename(tmp)]
    assert os.listdir(scratch) == []


def test_remove_stale_temps_needs_our_exact_name(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    host = temp_name().rsplit("@", 1)[1]
    names = [
        f"{TEMP_PREFIX}{pid}-0123456789ab@{host}",  # ours, dead: removed
        f"daft-retrieval-late-{pid}-0123456789ab@{host}",  # a scratch folder, dead: removed
        f"{TEMP_PREFIX}{pid}-0123456789@{host}",  # a random part too short: not ours
        f"{TEMP_PREFIX}{pid}-0123456789ab",  # no host: not ours
        f"x{TEMP_PREFIX}{pid}-0123456789ab@{host}",
    ]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    assert sorted(remove_stale_temps(str(tmp_path))) == sorted(names[:2])
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])


# --- index folders ----------------------------------------------------------------------------------------------


def test_a_folder_that_is_not_our_index_is_refused_and_left_as_it_was(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work")
    (mine / "index.json").write_text("{}")  # an index.json alone does not make it ours
    message = error_of(build_vector_index, vectors(10), str(mine))
    assert message.startswith(f"{mine}: is a folder that is not an index daft-retrieval wrote (no {MARKER}")
    assert "give a new or empty folder" in message
    assert sorted(os.listdir(mine)) == ["chapter1.tex", "index.json"]
    assert (mine / "chapter1.tex").read_text() == "years of work" and temps(tmp_path) == []
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is not a folder" in error_of(build_vector_index, vectors(10), str(afile))


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_our_index_is_replaced_whole(tmp_path, monkeypatch, exchange):
    if exchange and not sys.platform.startswith("linux"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is Linux only")
    swaps = []
    real_exchange = atomic._exchange

    def spy(a: str, b: str) -> bool:
        swaps.append(real_exchange(a, b) if exchange else False)
        return swaps[-1]

    monkeypatch.setattr(atomic, "_exchange", spy)
    path = tmp_path / "index"
    build_vector_index(vectors(10), str(path))
    (path / "stale-extra").write_text("from the old index")
    assert (path / MARKER).is_file()
    build_vector_index(vectors(25, seed=1), str(path))
    assert open_vector_index(str(path)).count == 25
    assert not (path / "stale-extra").exists() and (path / MARKER).is_file()
    assert os.listdir(tmp_path) == ["index"]  # the old one removed, no temporary left
    assert swaps == [exchange]  # the first build had nothing to swap with


def test_the_current_folder_is_never_an_index_dir_even_when_empty(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for path in (".", "", str(tmp_path)):
        assert "is the current folder or holds it" in error_of(build_vector_index, vectors(3), path)
    assert os.listdir(here) == [] and os.listdir(tmp_path) == ["here"]


def test_a_path_ending_with_a_slash_is_not_written_as_a_file(tmp_path):
    path = f"{tmp_path}/runs/"
    assert "ends with '/'" in error_of(write_run, run_frame(), path)
    assert os.listdir(tmp_path) == []


def test_an_empty_folder_and_a_symlinked_folder_take_an_index(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    build_vector_index(vectors(10), str(empty))
    assert open_vector_index(str(empty)).count == 10
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    build_vector_index(vectors(10), str(link))
    build_vector_index(vectors(12), str(link))  # replacing through the link: the link stays a link
    assert link.is_symlink() and open_vector_index(str(real)).count == 12


def test_a_failed_build_leaves_the_old_index(tmp_path):
    path = tmp_path / "index"
    build_vector_index(vectors(10), str(path))
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(str(path)) as tmp:
        Path(tmp, "half").write_text("x")
        raise RuntimeError("boom")
    assert open_vector_index(str(path)).count == 10 and os.listdir(tmp_path) == ["index"]


def test_a_full_disk_during_an_index_build_names_the_path_and_keeps_the_old_index(tmp_path):
    with mounted(tmp_path / "tiny", "size=256k") as tiny:
        path = tiny / "index"
        build_vector_index(vectors(10), str(path))
        message = error_of(build_vector_index, vectors(20_000, dim=16), str(path))  # ~1.3 MB into 256 KiB
        assert message.startswith(f"{path}: cannot write it (") and "no space left on device" in message
        assert open_vector_index(str(path)).count == 10 and os.listdir(tiny) == ["index"]


def test_a_full_scratch_disk_names_the_scratch_folder_and_the_fix(tmp_path, monkeypatch):
    with mounted(tmp_path / "tiny", "size=256k") as tiny:
        monkeypatch.setenv(SCRATCH, str(tiny / "scratch"))
        with pytest.raises(OutputError) as info, scratch_directory("daft-retrieval-index-") as tmp:
            build_vector_index(vectors(20_000, dim=16), os.path.join(tmp, "index"))
        message = str(info.value)
        assert message.startswith(os.path.join(tmp, "index")) and "no space left on device" in message
        assert "--scratch-dir" in message and os.listdir(tiny / "scratch") == []


def test_a_read_only_index_parent_is_refused(tmp_path):
    with mounted(tmp_path / "ro", "size=1m") as ro:
        remount_read_only(ro)
        message = error_of(build_vector_index, vectors(10), str(ro / "index"))
        assert "read-only file system" in message and str(ro / "index") in message


# --- reports ----------------------------------------------------------------------------------------------------


def test_compare_reports_replace_their_files_and_touch_nothing_else(tmp_path):
    from daft_retrieval.report.compare import compare

    run = run_frame(3)
    qrels = daft.from_pydict({S.QUERY_ID: ["q0"], S.DOC_ID: ["doc-1"], S.RELEVANCE: [1]})
    result = compare({"a": run, "b": run}, qrels, ["P@1"], trials=10)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "comparison.md").write_text("an older report")
    paths = result.write(str(folder))
    assert sorted(os.listdir(folder)) == sorted(
        ["notes.txt", "comparison.md", "comparison.json", "per_query.parquet", "comparison.png"]
    )
    assert (folder / "notes.txt").read_text() == "mine" and len(paths) == 4
    assert (folder / "comparison.md").read_text() == result.markdown()
    assert (folder / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert daft.read_parquet(str(folder / "per_query.parquet")).count_rows() == 2
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "cannot make its folder" in error_of(result.write, str(afile / "sub"))


# --- the command line -----------------------------------------------------------------------------------------


@pytest.fixture
def runs(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("q1 Q0 d1 1 2.0 a\nq1 Q0 d2 2 1.0 a\n")
    b.write_text("q1 Q0 d2 1 2.0 b\nq1 Q0 d3 2 1.0 b\n")
    return a, b


def one_line_exit_2(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_cli_output_run_to_dev_full_and_under_a_file_exit_2(tmp_path, runs):
    a, b = runs
    one_line_exit_2(cli("fuse", str(a), str(b), "--output-run", "/dev/full"), "/dev/full", "no space left on device")
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_line_exit_2(cli("fuse", str(a), str(b), "--output-run", str(afile / "f.txt")), "--output-run", str(afile))


def test_cli_output_run_to_dev_stdout(runs):
    a, b = runs
    out = cli("fuse", "--method", "rrf", str(a), str(b), "--output-run", "/dev/stdout")
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert [(q, d, r) for q, _, d, r, _, _ in lines] == [("q1", "d2", "1"), ("q1", "d1", "2"), ("q1", "d3", "3")]


def test_cli_refuses_a_foreign_index_dir_before_any_work(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "cat.jpg").write_bytes(b"\xff\xd8 not really")
    out = cli("eval", "--retriever", "dense", "--no-cache", "--index-dir", str(mine), "-m", "nDCG@10")
    one_line_exit_2(out, "--index-dir", str(mine), "not an index daft-retrieval wrote")
    assert os.listdir(mine) == ["cat.jpg"] and (mine / "cat.jpg").read_bytes() == b"\xff\xd8 not really"


def test_cli_read_only_output_dir_exits_2(tmp_path):
    with mounted(tmp_path / "ro", "size=1m") as ro:
        remount_read_only(ro)
        out = cli("compare", "--bm25", "--output-dir", str(ro / "reports"))
        one_line_exit_2(out, "--output-dir", str(ro / "reports"), "read-only file system")


def test_read_run_reads_what_write_run_wrote_through_a_link(tmp_path):
    target = tmp_path / "t.txt"
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    write_run(run_frame(5), str(link))
    assert read_run(str(link)).count_rows() == 5


# --- the model unpacked into the cache home ---------------------------------------------------------------------


def test_the_split_model_unpack_cleans_a_killed_one_and_names_an_unwritable_home(tmp_path, monkeypatch):
    import importlib.metadata as md
    import zipfile

    from daft_retrieval import resolve as models

    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("model/modules.json", "[]")
    data = whole.read_bytes()
    parts = []
    for i, piece in enumerate((data[: len(data) // 2], data[len(data) // 2 :]), 1):
        part = tmp_path / f"model.zip.{i:03d}"
        part.write_bytes(piece)
        parts.append(part)

    class Wheel:  # what an installed wheel's metadata lists: one part of the zip
        def __init__(self, part: Path) -> None:
            self.files = [type("File", (), {"name": part.name, "locate": lambda self, p=part: p})()]

    monkeypatch.setattr(md, "distribution", lambda name: Wheel(parts[int(name[-1]) - 1]))
    home = tmp_path / "home"
    monkeypatch.setenv("DAFT_RETRIEVAL_CACHE", str(home))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = temp_name().rsplit("@", 1)[1]
    killed = home / "models" / f"{TEMP_PREFIX}{int(dead.stdout)}-0123456789ab@{host}"
    killed.mkdir(parents=True)  # what an unpack killed half-way left
    folder = models._split_zip_model("m", ["part-1", "part-2"])
    assert Path(folder, "modules.json").read_text() == "[]"
    assert os.listdir(home / "models") == ["m"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("DAFT_RETRIEVAL_CACHE", str(afile))
    assert "cannot make its folder" in error_of(models._split_zip_model, "m", ["part-1", "part-2"])

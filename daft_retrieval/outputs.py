"""Writing what the user keeps without destroying anything: an output file is replaced atomically (a temporary
file beside it, renamed into place, keeping the old file's mode), written through a symbolic link into its
target, or streamed into a pipe or character device in place; temporary names say which process made them, so
the next write cleans up after a killed one; and a destination that cannot be written is an :class:`OutputError`
that names it, the reason and the fix.

Kept light (no Daft import): the CLI checks its destinations before any search.

    >>> with output_file("runs/bm25.txt") as fh:  # doctest: +SKIP
    ...     fh.write(b"q1 Q0 d1 1 2.5 bm25\\n")
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from daft_retrieval.errors import OutputError

__all__ = [
    "TEMP_PREFIX",
    "check_destination",
    "check_output_file",
    "check_output_folder",
    "full_disk_error",
    "make_folder",
    "output_error",
    "output_file",
    "remove_stale_temps",
    "temp_name",
    "write_bytes",
]

TEMP_PREFIX = ".daft-retrieval-tmp-"
# <prefix><pid>-<12 hex>@<host>: only names of exactly this form are ever removed, and only when the pid is dead
_TEMP = re.compile(r"\.?daft-retrieval-(?:[a-z]+-)+(\d+)-[0-9a-f]{12}@([A-Za-z0-9._-]+)")
_FULL_BELOW = 64 << 20  # a write that fails with less free space than this is reported as a full disk

_REASONS = {
    errno.EACCES: ("permission denied", "write it to a folder you can write, or change the permissions"),
    errno.EPERM: ("operation not permitted", "write it to a folder you can write, or change the permissions"),
    errno.EROFS: ("read-only file system", "write it to a writable file system"),
    errno.ENOSPC: ("no space left on device", "free some space or write it to another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write it to another disk"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "give a path whose folders are folders"),
    errno.EISDIR: ("it is a directory", "give a file path"),
    errno.ENOENT: ("its folder does not exist", "create the folder or give another path"),
    errno.ELOOP: ("too many levels of symbolic links", "give a path without a symbolic-link loop"),
    errno.ENAMETOOLONG: ("the name is too long", "give a shorter path"),
    errno.EBADF: ("the file descriptor is not open for writing", "give a file path"),
    errno.EPIPE: ("the reader of the pipe went away", "keep the reader open until everything is written"),
}


def output_error(exc: OSError, path: str, *, doing: str = "write it") -> OutputError:
    """An :class:`OutputError` for ``exc`` raised while writing ``path``: the path, the reason and the fix.

    >>> str(output_error(OSError(errno.EROFS, "Read-only file system"), "runs/a.txt"))
    'runs/a.txt: cannot write it (read-only file system); write it to a writable file system'
    """
    reason, fix = _REASONS.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__, "write it elsewhere"))
    return OutputError(f"{path}: cannot {doing} ({reason}); {fix}")


def full_disk_error(
    folder: str, path: str, exc: BaseException, *, fix: str = "free some space or write it to another disk"
) -> OutputError | None:
    """An :class:`OutputError` when a write under ``folder`` failed (``exc``, often Daft's "channel closed",
    which hides the system's reason) and the file system has almost no space left; else None (also for
    Ctrl-C and this project's own errors). Call it before removing what the failed write left behind."""
    from daft_retrieval.errors import DataError

    if not isinstance(exc, Exception) or isinstance(exc, DataError):
        return None
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return output_error(exc, path)
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    if free >= _FULL_BELOW:
        return None
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    said = f": {lines[0][:200]}" if lines else ""
    return OutputError(
        f"{path}: cannot write it (no space left on device: {free:,} bytes free on the file system of {folder} "
        f"when the write failed{said}); {fix}"
    )


def _host() -> str:
    """This host and process namespace: containers sharing a folder may share a host name, never a namespace."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "host"
    with contextlib.suppress(OSError):
        name += f".{os.stat('/proc/self/ns/pid').st_ino}"
    return name


def temp_name(prefix: str = TEMP_PREFIX) -> str:
    """A fresh temporary name, ``<prefix><pid>-<random>@<host>``, that :func:`remove_stale_temps` recognises.
    ``prefix`` is ``.daft-retrieval-tmp-`` or another ``daft-retrieval-<words>-``.

    >>> temp_name().startswith(".daft-retrieval-tmp-" + str(os.getpid()) + "-")
    True
    """
    name = f"{prefix}{os.getpid()}-{secrets.token_hex(6)}@{_host()}"
    if not _TEMP.fullmatch(name):
        raise ValueError(f"temporary prefix {prefix!r} must look like 'daft-retrieval-<words>-'")
    return name


def _dead(pid: int) -> bool:
    """Whether no process ``pid`` runs here (a zombie, killed and not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def remove_stale_temps(folder: str) -> list[str]:
    """Remove what killed writes left in ``folder``: entries named by :func:`temp_name` on this host whose
    process is gone (never anything else); returns the names removed.

    >>> remove_stale_temps("runs")  # doctest: +SKIP
    ['.daft-retrieval-tmp-4242-9f1c2a7b3d4e@host']
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    host = _host()
    for name in names:
        found = _TEMP.fullmatch(name)
        if not found or found.group(2) != host or not _dead(int(found.group(1))):
            continue
        path = os.path.join(folder, name)
        with contextlib.suppress(OSError):  # gone already (another cleaner), or not ours to remove
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
    return removed


def _own_fd(path: str) -> int | None:
    """The descriptor ``N`` when ``path`` names one of this process's open files (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``), following symbolic links; else None."""
    pattern = re.compile(rf"/proc/(?:self|thread-self|{os.getpid()}(?:/task/\d+)?)/fd/(\d+)")
    current = os.path.abspath(path)
    for _ in range(40):
        current = os.path.join(os.path.realpath(os.path.dirname(current)), os.path.basename(current))
        found = pattern.fullmatch(current)
        if found:
            return int(found.group(1))
        if not os.path.islink(current):
            return None
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return None


def _shown(path: str, target: str) -> str:
    return path if os.path.abspath(path) == target else f"{path} (-> {target})"


def make_folder(folder: str, path: str) -> None:
    """Create ``folder`` (and its parents) for writing ``path``, or an :class:`OutputError` naming both."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        reason = _REASONS.get(exc.errno, (exc.strerror or str(exc), ""))[0]
        raise OutputError(
            f"{path}: cannot make its folder {folder} ({reason}); give a path under a writable folder"
        ) from exc


def _existing_ancestor(folder: str) -> str:
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def check_output_folder(folder: str, path: str | None = None) -> None:
    """Refuse, without writing anything, a folder that cannot be made or written (``path``: what will be
    written there, named in the message)."""
    path = path or folder
    real = os.path.realpath(folder)
    near = _existing_ancestor(real)
    if not os.path.isdir(near):
        raise OutputError(
            f"{path}: cannot make its folder {folder} ({near} is a file, not a folder); give a path under a folder"
        )
    if not os.access(near, os.W_OK | os.X_OK):
        read_only = os.statvfs(near).f_flag & os.ST_RDONLY
        reason = "read-only file system" if read_only else "permission denied"
        raise OutputError(f"{path}: cannot write into {near} ({reason}); write it to a folder you can write")


def check_output_file(path: str) -> None:
    """Refuse, without writing anything, an output file :func:`output_file` could not write: a directory, a
    block device or socket, a read-only file, or a folder that cannot be made or written.

    >>> check_output_file("/")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.OutputError: /: is a directory; give a file path to write
    """
    if _own_fd(path) is not None:
        return
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):
        raise OutputError(f"{path}: ends with '/', so it names a folder; give a file path to write")
    target = os.path.realpath(path)
    shown = _shown(path, target)
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        check_output_folder(os.path.dirname(target), shown)
        return
    except OSError as exc:
        raise output_error(exc, shown) from exc
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{shown}: is a directory; give a file path to write")
    if stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        kind = "a block device" if stat.S_ISBLK(st.st_mode) else "a socket"
        raise OutputError(f"{shown}: is {kind}, not written; give a file, a FIFO or a character device")
    if not os.access(target, os.W_OK):
        raise OutputError(f"{shown}: is read-only; make it writable (chmod u+w) or write elsewhere")
    if stat.S_ISREG(st.st_mode):
        check_output_folder(os.path.dirname(target), shown)


@contextlib.contextmanager
def _stream(fd: int, shown: str, *, own: bool = False) -> Iterator[BinaryIO]:
    """Write into ``fd`` (a pipe, terminal, device, or a file at its offset) in place. ``own``: one of this
    process's descriptors (``/dev/stdout``), whose reader going away (``| head``) stays a BrokenPipeError."""
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
    except BrokenPipeError:
        if own:
            raise
        raise output_error(BrokenPipeError(errno.EPIPE, "Broken pipe"), shown) from None
    except OSError as exc:
        raise output_error(exc, shown) from exc


@contextlib.contextmanager
def _replace(target: str, shown: str, old: os.stat_result | None) -> Iterator[BinaryIO]:
    """Write a temporary file beside ``target`` and rename it over ``target`` once complete."""
    folder = os.path.dirname(target)
    remove_stale_temps(folder)
    tmp = os.path.join(folder, temp_name())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # open()'s mode less umask
    except OSError as exc:
        raise output_error(exc, shown) from exc
    try:
        if old is not None:  # replacing a file keeps its mode, and its owner where we may
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.fchown(fd, old.st_uid, old.st_gid)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise output_error(exc, shown) from exc
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def output_file(path: str) -> Iterator[BinaryIO]:
    """A binary file object whose content becomes ``path`` when the block ends without error.

    A new path or a regular file: written to a temporary file in the same folder and renamed into place (the
    old file, its mode and owner kept until then; nothing left behind on error). A symbolic link: its target is
    written so, the link stays. A FIFO or character device (``/dev/null``), or one of this process's open files
    (``/dev/stdout``): written in place, never renamed over. A directory, block device or socket: refused.
    Every failure is an :class:`OutputError` naming ``path``.

    >>> with output_file("/dev/null") as fh:
    ...     _ = fh.write(b"nothing kept")
    """
    fd = _own_fd(path)
    if fd is not None:
        if fd == 1:
            sys.stdout.flush()
        elif fd == 2:
            sys.stderr.flush()
        try:
            fd = os.dup(fd)
        except OSError as exc:
            raise output_error(exc, path) from exc
        with _stream(fd, path, own=True) as fh:
            yield fh
        return
    check_output_file(path)
    target = os.path.realpath(path)
    shown = _shown(path, target)
    try:
        old = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):  # a FIFO or character device: written in place
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise output_error(exc, shown) from exc
        with _stream(fd, shown) as fh:
            yield fh
        return
    make_folder(os.path.dirname(target), shown)
    with _replace(target, shown, old) as fh:
        yield fh


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` as the file ``path`` through :func:`output_file`."""
    with output_file(path) as fh:
        fh.write(data)


def check_destination(flag: str, path: str | None, *, check: Callable[[str], None] | None = None) -> str | None:
    """The one-line problem (``--flag PATH: reason; fix``) with the CLI destination ``path`` given as ``flag``
    (``--output-run``: a file; ``--output-dir``, ``--scratch-dir``: folders; ``check``: the destination's own
    check instead, raising :class:`OutputError`, such as :func:`daft_retrieval.index.atomic.check_index_dir` for
    ``--index-dir``), or None when it can be written (or was not given).

    >>> check_destination("--output-run", "/")
    '--output-run /: is a directory; give a file path to write'
    """
    if not path:
        return None
    try:
        if check is not None:
            check(path)
        elif flag == "--output-run":
            check_output_file(path)
        elif os.path.lexists(path) and not os.path.isdir(path):
            raise OutputError(f"{path}: is not a folder; give a folder path")
        else:
            check_output_folder(path)
    except OutputError as exc:
        return f"{flag} {exc}"
    return None

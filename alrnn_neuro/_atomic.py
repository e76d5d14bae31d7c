"""Write files under a temporary name and rename on success, so a failure leaves nothing.

Rules every output of the toolbox follows (:func:`atomic_path`):

* the destination must be absent, a regular file or a folder: a symbolic link, device node,
  fifo or socket is refused (``--out /dev/null`` as root must not replace ``/dev/null``);
* the content is written to ``.<name>.<host>-<pid>.<token>.part`` beside the destination,
  flushed to disk (``fsync``) and only then renamed onto it, so after a crash the destination
  holds the old or the new content, never part of one; a failure removes the temporary copy;
* temporary copies left by a killed process (same host, process gone) are removed by the next
  write into that folder;
* a full disk is reported as one :class:`~alrnn_neuro.errors.OutputError` ("no space left on
  DEVICE (need ~N MB)"), and an ``OSError`` names the destination, never the temporary name.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from alrnn_neuro.errors import OutputError

T = TypeVar("T")

PART_SUFFIX = ".part"
#: longest destination name kept in a temporary name (the rest is cut to stay under NAME_MAX)
_NAME_KEPT = 80
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32] or "host"
_PART = re.compile(r"^\..*\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[0-9a-f]{8}\.part$")
_SPECIAL = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a fifo (named pipe)",
    stat.S_IFSOCK: "a socket",
}
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: free bytes under which a failed write is taken for a full disk (torch reports no errno)
_NEARLY_FULL = 1 << 20


def check_output_path(path: str | os.PathLike) -> Path:
    """Refuse an output path that is a link, device, fifo or socket; return it as a Path.

    Raises
    ------
    OutputError
        If ``path`` exists and is neither a regular file nor a folder.

    Examples
    --------
    >>> check_output_path("/dev/null")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alrnn_neuro.errors.OutputError: /dev/null is a character device, not a regular file; ...
    """
    final = Path(path)
    try:
        mode = os.lstat(final).st_mode
    except FileNotFoundError:
        return final
    except NotADirectoryError:
        return final  # a parent is a file: the write itself reports it
    kind = _SPECIAL.get(stat.S_IFMT(mode))
    if kind is not None:
        raise OutputError(
            f"{final} is {kind}, not a regular file; alrnn-neuro never writes over special "
            "files or links; fix: give the path of a new or regular file"
        )
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it onto ``path`` only if the block succeeds.

    Parameters
    ----------
    path : str or PathLike
        Final destination (file or directory): absent, a regular file or a folder.
    size_hint : int, optional
        Bytes about to be written; refused up front when the disk has less free space.

    Yields
    ------
    Path
        Temporary path in the same directory (so the final rename is atomic). The caller
        writes a file or creates a directory there.

    Raises
    ------
    OutputError
        If ``path`` is a link/device/fifo/socket, or the disk is full (nothing is left).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    final = check_output_path(path)
    make_folder(final.parent)
    remove_stale_parts(final.parent)
    if size_hint is not None:
        _check_free_space(final, size_hint)
    name = final.name[:_NAME_KEPT]
    tmp = final.parent / f".{name}.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}"
    try:
        yield tmp
        _fsync_tree(tmp)  # the content is on disk before the name points to it
        check_output_path(final)  # it may have changed while we were writing
        os.replace(tmp, final)
    except BaseException as error:
        replacement = _output_error(error, final, tmp) if isinstance(error, Exception) else None
        _remove(tmp)
        if replacement is not None:
            raise replacement from error
        raise
    finally:
        _remove(tmp)


@contextlib.contextmanager
def staging_folder(parent: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder inside ``parent``, removed when the block ends.

    Named like :func:`atomic_path`'s temporary copies, so one left by a killed process is
    removed by the next write into ``parent``. Move finished files out of it with
    :func:`replace_path`.
    """
    folder = Path(parent)
    make_folder(folder)
    remove_stale_parts(folder)
    stage = folder / f".stage.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}"
    stage.mkdir()
    try:
        yield stage
    except Exception as error:
        replacement = _output_error(error, folder, stage)
        if replacement is not None:
            raise replacement from error
        raise
    finally:
        _remove(stage)


def replace_path(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move ``source`` (a file or folder) onto ``target``, replacing what is there.

    A folder already at ``target`` is first renamed to a temporary name (removed afterwards,
    or by the next write if this process dies in between), so ``target`` is never a mix of
    old and new content.
    """
    source, target = Path(source), check_output_path(target)
    _fsync_tree(source)
    if target.is_dir() and not target.is_symlink():
        old = target.parent / (
            f".{target.name[:_NAME_KEPT]}.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}"
        )
        os.replace(target, old)
        os.replace(source, target)
        _remove(old)
    else:
        os.replace(source, target)
    _fsync_dir(target.parent)


def write_entries(out: str | os.PathLike, fill: Callable[[Path], T]) -> T:
    """Put the files and folders that ``fill(folder)`` writes into the folder ``out``.

    A new ``out`` is made whole (renamed into place once ``fill`` returns). In an existing
    ``out`` each entry ``fill`` wrote replaces the entry of its name (:func:`replace_path`),
    and everything else there (a user's notes, a report written into it) is left alone. An
    error in ``fill`` leaves ``out`` as it was. Returns what ``fill`` returns.
    """
    out = Path(out)
    if not out.exists():
        with atomic_path(out) as tmp:
            tmp.mkdir()
            return fill(tmp)
    with staging_folder(out) as stage:
        result = fill(stage)
        for entry in sorted(stage.iterdir()):
            replace_path(entry, out / entry.name)
    return result


def make_folder(folder: str | os.PathLike) -> Path:
    """``mkdir -p folder``; a file in the way is an :class:`OutputError` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder
        )
        raise OutputError(
            f"cannot create the folder {folder}: {blocker} is a file, not a folder; fix: "
            "choose another --out"
        ) from error
    return folder


def write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically, after checking that the disk can hold it."""
    final = Path(path)
    with atomic_path(final, size_hint=len(data)) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return final


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary ``.part`` copies in ``folder`` left by dead processes of this host.

    Only names made by :func:`atomic_path` whose process no longer runs are removed, so
    writers working in the same folder at the same time are never disturbed.

    Returns
    -------
    list of Path
        The removed paths.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if match is None or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        _remove(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OverflowError:
        return False
    return True


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_tree(path: Path) -> None:
    """Flush a written file (or every file of a written folder) to disk."""
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root) / name)
            _fsync_dir(Path(root))
    elif path.exists():
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is still atomic
    finally:
        os.close(fd)


def _check_free_space(final: Path, size: int) -> None:
    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        return
    if size > free:
        raise OutputError(_no_space_message(final, size, free))


def _output_error(error: Exception, final: Path, tmp: Path) -> Exception | None:
    """The one-line error to raise instead of ``error`` (None: re-raise ``error`` itself)."""
    if isinstance(error, OutputError):  # from a nested write: name the real destination
        text = str(error)
        return OutputError(text.replace(str(tmp), str(final))) if str(tmp) in text else None
    chain = _chain(error)
    no_space = any(isinstance(e, OSError) and e.errno in _NO_SPACE for e in chain)
    no_space = no_space or any("No space left on device" in str(e) for e in chain)
    if not no_space and isinstance(error, RuntimeError):  # torch: "file write failed"
        no_space = _free_bytes(final) < _NEARLY_FULL
    if no_space:
        written = _size(tmp)
        return OutputError(_no_space_message(final, written, _free_bytes(final), at_least=True))
    for e in chain:
        if isinstance(e, OSError) and e.errno is not None and tmp.name in str(e.filename or ""):
            return OSError(e.errno, e.strerror or str(e), str(final))
    return None


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return seen


def _free_bytes(final: Path) -> int:
    try:
        return shutil.disk_usage(final.parent).free
    except OSError:
        return 1 << 62


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    try:
        device = path.stat().st_dev
        while path != path.parent and path.parent.stat().st_dev == device:
            path = path.parent
    except OSError:
        pass
    return path


def _no_space_message(final: Path, need: int, free: int, *, at_least: bool = False) -> str:
    need_text = f"more than {_megabytes(need)}" if at_least else f"~{_megabytes(need)}"
    return (
        f"cannot write {final}: no space left on {_mount_point(final.parent)} (need "
        f"{need_text}, {_megabytes(free)} free); fix: free some space, or write to another "
        "disk with --out"
    )


def _megabytes(n: int) -> str:
    if n < 1e6:
        return f"{max(n, 0) / 1e3:.0f} KB"
    return f"{n / 1e6:.1f} MB" if n < 10e6 else f"{n / 1e6:.0f} MB"

"""One-line messages for the errors the CLI shows: Click usage errors and ``OSError``."""

from __future__ import annotations

import contextlib
import errno
import warnings
from collections.abc import Iterator
from typing import Any

#: the fix for an ``OSError`` by errno (anything else: check the path)
OS_ERROR_FIXES = {
    errno.ENOSPC: "free some space, or write to another disk with --out",
    errno.EDQUOT: "free some of your quota, or write to another disk with --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "choose a path you may use, or change its permissions",
    errno.EPERM: "choose a path you may use, or change its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.ENAMETOOLONG: "use a shorter file or folder name",
    errno.ENOENT: "check the path (a parent folder or a link target may be missing)",
    errno.EISDIR: "give a file path, not a folder",
    errno.ELOOP: "the path runs through a loop of symbolic links; fix the path",
    errno.EEXIST: "choose another path, or remove the existing one",
    errno.EIO: "the disk reported an input/output error; check it or use another one",
    errno.ENXIO: "the path is a special file (fifo, socket, device); give a regular file",
    errno.EXDEV: "keep --out on one file system",
}


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (line breaks included) folded into one space.

    Examples
    --------
    >>> one_line("a\\n  b")
    'a b'
    """
    return " ".join(str(text).split())


def os_error_line(error: OSError) -> str:
    """``PATH: reason; fix: ...`` for an ``OSError`` (one line, no errno jargon).

    Examples
    --------
    >>> import errno
    >>> os_error_line(OSError(errno.EROFS, "Read-only file system", "/ro/x.h5"))
    '/ro/x.h5: Read-only file system; fix: the file system is read-only; choose another --out'
    """
    if error.errno is None and str(error):  # our own message (e.g. "...; fix: ...")
        return one_line(str(error))
    reason = error.strerror or str(error) or type(error).__name__
    where = ""
    if error.filename is not None:
        where = f"{error.filename}: "
        if getattr(error, "filename2", None) is not None:
            where = f"{error.filename} -> {error.filename2}: "
    fix = OS_ERROR_FIXES.get(error.errno, "check the path and try again")
    return one_line(f"{where}{reason}; fix: {fix}")


def usage_error_line(error: Any) -> str:
    """One line for a Click/Typer usage error, with Click's suggestions and a help hint."""
    message = one_line(error.format_message())
    ctx = getattr(error, "ctx", None)
    if ctx is None:
        return message
    return f"{ctx.command_path}: {message} (see `{ctx.command_path} --help`)"


def warning_line(message: Warning | str, category: type[Warning]) -> str:
    """One line for a Python warning shown on the console (no source path, no code line).

    Examples
    --------
    >>> class SilentUnitWarning(UserWarning): ...
    >>> warning_line(SilentUnitWarning("unit 'a' has no spikes\\nin any trial"), SilentUnitWarning)
    "warning: unit 'a' has no spikes in any trial (SilentUnitWarning)"
    """
    return f"warning: {one_line(str(message))} ({category.__name__})"


@contextlib.contextmanager
def warnings_after_success() -> Iterator[None]:
    """Hold the warnings of a block and show them only if it succeeds.

    A command that refuses its input shows one line, the error; a warning raised on the way
    there (e.g. an overridden attribute of a file that then fails to load) would be a second.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)

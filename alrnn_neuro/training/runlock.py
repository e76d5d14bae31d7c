"""An exclusive lock on a run directory, held by the one process that writes into it.

The lock is the file ``.<run-name>.lock`` beside the run directory, locked with ``flock`` and
holding the owner's pid, host, start time and command line. A second writer is refused at once
with a :class:`~alrnn_neuro.errors.RunDirError` naming the holder. A lock left by a killed
process is taken over: the kernel drops ``flock`` locks of dead processes, and where ``flock``
is unavailable (some network file systems) the recorded pid is checked instead. The lock file
is removed when the lock is released.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from alrnn_neuro.errors import RunDirError

__all__ = ["lock_path", "lock_run_dir", "lock_holder"]


def lock_path(run: str | os.PathLike) -> Path:
    """The lock file of run directory ``run``: ``.<name>.lock`` in its parent folder."""
    run = Path(run)
    return run.parent / f".{run.name}.lock"


@contextlib.contextmanager
def lock_run_dir(run: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive write lock of ``run`` for the duration of the block.

    Parameters
    ----------
    run : str or PathLike
        Run directory (need not exist yet; its parent folder is created).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    RunDirError
        If another live process holds the lock (the message names it).

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp()) / "run"
    >>> with lock_run_dir(run) as lock:
    ...     lock.exists()
    True
    >>> lock.exists()
    False
    """
    run = Path(run)
    run.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(run)
    fd = _acquire(lock, run)
    try:
        yield lock
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # before closing: a waiting process then locks a fresh file
        os.close(fd)


def lock_holder(run: str | os.PathLike) -> dict | None:
    """The record of the process holding the lock of ``run`` (None if it is not locked)."""
    lock = lock_path(run)
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_record(fd)
        except OSError:
            record = _read_record(fd)
            return record if record and _alive(record) else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(lock: Path, run: Path) -> int:
    for _ in range(100):  # retry only while holders keep releasing (unlinking) under us
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            raise RunDirError(_locked_message(run, lock, holder)) from None
        except OSError as error:  # no flock here (some network file systems): check the pid
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                os.close(fd)
                raise
            holder = _read_record(fd)
            if holder and _alive(holder):
                os.close(fd)
                raise RunDirError(_locked_message(run, lock, holder)) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed the file after we opened it: try again
            os.close(fd)
            continue
        _write_record(fd)
        return fd
    raise RunDirError(f"could not lock {run} (lock file {lock}); fix: try again")


def _write_record(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["alrnn-neuro", *sys.argv[1:]])[:200],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    os.fsync(fd)


def _read_record(fd: int) -> dict | None:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode() or "null")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _alive(record: dict) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # cannot tell: assume the other host's process runs
    try:
        pid = int(record.get("pid", 0))
        if pid <= 0:
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _locked_message(run: Path, lock: Path, holder: dict | None) -> str:
    if holder:
        who = (
            f"process {holder.get('pid')} on {holder.get('host')} (started "
            f"{holder.get('started')}: {holder.get('command')})"
        )
    else:
        who = "another process"
    return (
        f"{run} is locked by {who}, which is writing into it (lock file {lock}); fix: wait for "
        "it to finish, or choose another --out"
    )

"""Helpers to run the installed ``alrnn-neuro`` as a user would, and to interrupt it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT = 300


def entry_point() -> str:
    """The ``alrnn-neuro`` console script of this environment."""
    beside = Path(sys.executable).with_name("alrnn-neuro")
    found = str(beside) if beside.is_file() else shutil.which("alrnn-neuro")
    assert found, "the alrnn-neuro console script is not installed (pip install -e .)"
    return found


def _default_sigint() -> None:
    # a shell starts background jobs with SIGINT ignored and children inherit that: restore
    # the default so the child turns SIGINT into KeyboardInterrupt, as under Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """Start ``alrnn-neuro ARGS`` in its own process group (like a job in a terminal)."""
    return subprocess.Popen(
        [entry_point(), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``alrnn-neuro ARGS`` to the end."""
    return subprocess.run(
        [entry_point(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of_run(args: list[str], cwd: Path) -> float:
    """CPU seconds a complete (small) run of ``alrnn-neuro ARGS`` takes; it must succeed."""
    process = start(args, cwd)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    _, err = process.communicate()
    assert process.returncode == 0, err
    return usage.ru_utime + usage.ru_stime


def ctrl_c(process: subprocess.Popen) -> tuple[int, str]:
    """Send SIGINT to the process group (what Ctrl-C does); return (exit code, stderr)."""
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, err


def interrupt_when_busy(args: list[str], cwd: Path, cpu: float) -> tuple[int, str]:
    """Start ``alrnn-neuro ARGS``, press Ctrl-C once it has used ``cpu`` seconds of CPU."""
    process = start(args, cwd)
    deadline = time.monotonic() + TIMEOUT
    while cpu_seconds(process.pid) < cpu:
        if process.poll() is not None or time.monotonic() > deadline:
            _, err = process.communicate()
            raise AssertionError(f"the command ended before Ctrl-C ({process.returncode}): {err}")
        time.sleep(0.02)
    return ctrl_c(process)


def wait_for(condition, process: subprocess.Popen, what: str) -> None:
    """Poll ``condition()`` while ``process`` runs; fail if it ends first."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            _, err = process.communicate()
            raise AssertionError(f"{what} never happened ({process.returncode}): {err}")
        time.sleep(0.05)


def debris(folder: Path) -> list[Path]:
    """Temporary files and locks left under ``folder``."""
    return [p for p in folder.rglob("*") if p.name.endswith((".part", ".lock"))]

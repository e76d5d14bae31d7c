"""Shared steps of every reproduction: the output folder, ``reproduce.json``, the report.

A reproduction first writes ``DIR/.reproduce-start.json`` (target and settings), so a rerun
into the same folder can tell whether it holds the same reproduction (``--resume`` continues
it, reusing finished sweep cells) or another one (refused). ``reproduce.json`` is written at
the end, when every step and the claims are done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro._json import dumps
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.report import write_report as render
from alrnn_neuro.sweep import run_sweep
from alrnn_neuro.sweep.cluster import close, connect, local_workers
from alrnn_neuro.training import rundir as rd

logger = logging.getLogger(__name__)

START, RECORD = ".reproduce-start.json", "reproduce.json"


def prepare_out(out: str | os.PathLike, identity: dict[str, Any], *, resume: bool) -> Path:
    """Check that ``out`` may receive this reproduction and mark it as started.

    Parameters
    ----------
    out : str or PathLike
        Output folder (created if needed).
    identity : dict
        What makes two reproductions the same (target, setting, dataset, seed); JSON-ready.
    resume : bool
        Continue a reproduction with the same identity found in ``out``.

    Raises
    ------
    RunDirError
        ``out`` is a file, holds other files, another reproduction, or this one without
        ``resume``. Nothing is written then.
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise RunDirError(f"--out {root} is a file; fix: give a folder path")
    old = _previous(root)
    if old is not None:
        if _comparable(old) != _comparable(identity):
            diff = {k: (old.get(k), v) for k, v in identity.items() if old.get(k) != v}
            what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise RunDirError(
                f"--out {root} holds another reproduction ({what or 'other settings'}); fix: "
                "choose another --out"
            )
        if not resume:
            raise RunDirError(
                f"--out {root} already holds this reproduction; fix: add --resume to continue "
                "it (finished sweep cells are kept) or choose another --out"
            )
        logger.info("resuming the reproduction in %s", root)
    elif root.is_dir() and any(root.iterdir()):
        raise RunDirError(
            f"--out {root} is not empty and holds no reproduction; fix: another --out"
        )
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / START, identity)
    return root


def _previous(root: Path) -> dict[str, Any] | None:
    for name in (START, RECORD):
        if (root / name).is_file():
            record = rd.read_json(root / name)
            return record.get("identity", record) if name == RECORD else record
    return None


def _comparable(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k != "command"}


@contextlib.contextmanager
def sweep_client(workers: int) -> Iterator[Any]:
    """One local dask cluster of ``workers`` processes for all of a reproduction's sweeps
    (None: cells run in this process, with ``workers`` <= 1 or without dask.distributed).

    Starting and closing a cluster takes about 6 s, and fresh workers import the toolbox
    again: the task reproduction sweeps five datasets.
    """
    if workers <= 1:
        yield None
        return
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        logger.info("dask.distributed is not installed: cells run one after another")
        yield None
        return
    client, cluster = connect(None, local_workers(workers, 1))
    try:
        yield client
    except BaseException:
        close(client, cluster, quiet=True)
        raise
    close(client, cluster)


def sweep(data: Path, grid, base, out: Path, client: Any = None, progress=None):
    """``run_sweep`` on ``client`` (:func:`sweep_client`; None: one cell after another here);
    ``progress`` is ``run_sweep``'s progress callback."""
    executor = "local" if client is None else "dask"
    logger.info("sweep of %d cells into %s (%s)", len(grid.cells()), out, executor)
    return run_sweep(
        data,
        grid,
        base,
        out=out,
        executor=executor,
        client=client,
        resume=True,
        progress=progress,
    )


def versions() -> dict[str, str]:
    """Versions of Python and the packages a reproduction depends on, and the CPU it ran on.

    The CPU is recorded because the same code, seeds and packages train slightly different
    networks on another CPU family (other BLAS and vector kernels round differently), which
    can move a verdict that sits at its test's floor.
    """
    import numpy
    import torch
    import xarray

    import alrnn_neuro

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "xarray": xarray.__version__,
        "alrnn_neuro": alrnn_neuro.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    r"""The CPU's model name (Linux: ``/proc/cpuinfo``; elsewhere ``platform.processor()``).

    Examples
    --------
    >>> import tempfile
    >>> info = Path(tempfile.mkdtemp()) / "cpuinfo"
    >>> _ = info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n")
    >>> cpu_model(info)
    'AMD EPYC'
    """
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(value))


def write_record(root: Path, record: dict[str, Any]) -> Path:
    """Write ``DIR/reproduce.json`` (adds ``versions``)."""
    path = root / RECORD
    write_json(path, {**record, "versions": versions()})
    return path


def write_report(root: Path) -> Path | None:
    """Render ``DIR/report.html`` with :func:`alrnn_neuro.report.write_report`."""
    path = render(root)
    logger.info("report written to %s", path)
    return Path(path)

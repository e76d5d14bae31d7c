"""Read the Roitman & Shadlen (2002) LIP files: one ``.mat`` per unit, in a folder or archive.

:func:`read_roitman` returns the per-unit trial tables and spike times that
:func:`alrnn_neuro.data.roitman.convert_roitman` bins into a canonical pseudo-population.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alrnn_neuro.data import limits
from alrnn_neuro.data.matlab import load_mat
from alrnn_neuro.errors import ConfigError, FileFormatError

logger = logging.getLogger(__name__)

EVENTS = ("fpon", "fix", "trgon", "trgoff", "ston", "stoff", "fpoff", "sac", "trgac", "rew")
"""Event columns (ms, trial clock) usable as ``align``; each becomes coord ``event_<name>``."""
PARADIGMS = {502: "fixed-duration", 602: "reaction-time"}
"""Header ``paradigm`` code -> task name."""
TRIAL_COLUMNS = ("trial#", "coh", "dir", "t1x", "t1y", "t2x", "t2y", "trgchoice", "correct")
"""Trial-matrix columns every file must have (besides the event times)."""


def read_roitman(
    source: str | os.PathLike, *, files: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[np.ndarray], np.ndarray]:
    """Read the trial tables and spike rasters of all (or some) recordings.

    Parameters
    ----------
    source : str or PathLike
        ``all_b_fd.tar.gz``, a folder of ``.mat`` files, or one ``.mat`` file.
    files : sequence of str, optional
        File stems to read; default all, in file-name order.

    Returns
    -------
    table : pandas.DataFrame, one row per trial
        The 41 trial-matrix columns (event times in ms) plus ``session`` (file stem) and
        ``paradigm`` (header code, 502 or 602).
    rasters : list of ndarray of float64
        Spike times (ms, trial clock) of each trial.
    t_min : ndarray of float64, shape (trial,)
        Start of spike recording (``tminmax[0]``, ms) of each trial's file.
    """
    tables, rasters, t_min = [], [], []
    with _mat_files(source) as paths:
        paths = _select(paths, files, source)
        for path in paths:
            table, trial_rasters, start = _read_file(path)
            tables.append(table)
            rasters += trial_rasters
            t_min.append(np.full(len(table), start))
    return pd.concat(tables, ignore_index=True), rasters, np.concatenate(t_min)


read_roitman_fd = read_roitman
"""The former name of :func:`read_roitman`."""


@contextlib.contextmanager
def _mat_files(source: str | os.PathLike) -> Iterator[list[Path]]:
    """Yield the ``.mat`` files of a folder, a tarball (extracted to a temp dir) or a file."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder; fix: give all_b_fd.tar.gz")
    if path.is_dir():
        yield _require_mat(sorted(path.rglob("*.mat")), path)
    elif path.suffix.lower() == ".mat":
        yield [path]
    elif tarfile.is_tarfile(path):
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(path, "r:*") as tar:
            out, total = [], 0
            for member in tar:  # streamed: a refused member stops the reading at once
                if member.isfile() and member.name.lower().endswith(".mat"):
                    total += member.size
                    _check_member(path, member, total)
                    target = Path(tmp) / Path(member.name).name
                    target.write_bytes(tar.extractfile(member).read())
                    out.append(target)
            yield _require_mat(sorted(out), path)
    else:
        raise FileFormatError(
            f"{path}: neither a folder, a .mat file nor a tar archive; expected all_b_fd.tar.gz "
            "or a folder of its .mat files"
        )


def _check_member(archive: Path, member: tarfile.TarInfo, total: int) -> None:
    """Refuse archive members (or a sum of them) beyond the limits of ``data.limits``."""
    if member.size > limits.MAX_MEMBER_BYTES or total > limits.MAX_ARCHIVE_BYTES:
        raise FileFormatError(
            f"{archive}: member {member.name!r} declares {member.size} bytes ({total} in all so "
            f"far), beyond the limits of {limits.MAX_MEMBER_BYTES} bytes per file and "
            f"{limits.MAX_ARCHIVE_BYTES} in all; fix: give the original all_b_fd.tar.gz or a "
            "folder of its .mat files"
        )


def _require_mat(paths: list[Path], source: Path) -> list[Path]:
    if not paths:
        raise FileFormatError(
            f"{source}: holds no .mat files; expected the 33 b*.mat files of all_b_fd.tar.gz"
        )
    return paths


def _select(paths: list[Path], files: Sequence[str] | None, source: object) -> list[Path]:
    if files is None:
        return paths
    by_stem = {p.stem: p for p in paths}
    wanted = [Path(str(f)).stem for f in ([files] if isinstance(files, str) else files)]
    unknown = [f for f in wanted if f not in by_stem]
    if unknown or not wanted:
        raise ConfigError(
            f"files={list(wanted)!r}: {unknown or 'empty'} not in {source}; fix: choose from "
            f"{sorted(by_stem)}"
        )
    return [by_stem[stem] for stem in sorted(set(wanted))]


def _read_file(path: Path) -> tuple[pd.DataFrame, list[np.ndarray], float]:
    """One recording: trial table (ms), rasters (ms, float64), recording start (ms)."""
    data = load_mat(path).get("data")
    try:
        header, matrix, cells = data
        names = [str(name) for name in header["trialfields"][0]]
        matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
        cells = np.asarray(cells, dtype=object).reshape(matrix.shape[0], -1)
        table = pd.DataFrame(matrix, columns=names)
        raster_col = list(header["trialcells"][0]).index("raster")
        t_min = float(np.atleast_1d(header["tminmax"])[0])
        paradigm = header["paradigm"]
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise FileFormatError(
            f"{path}: not in the Roitman-Shadlen layout ({type(error).__name__}: {error}); "
            "expected variable 'data' = {header with trialfields/trialcells, trial matrix, "
            "per-trial cells with 'raster'}"
        ) from error
    missing = [c for c in (*TRIAL_COLUMNS, *EVENTS) if c not in table.columns]
    if missing:
        raise FileFormatError(f"{path}: trial matrix lacks columns {missing}")
    table["session"] = path.stem
    table["paradigm"] = _paradigm_of(paradigm, table, path)
    numbers = table["trial#"].to_numpy(float)
    rasters = [_raster(r, path, n) for r, n in zip(cells[:, raster_col], numbers, strict=True)]
    return table, rasters, t_min


def _raster(value: object, path: Path, trial: float) -> np.ndarray:
    """One trial's spike times (ms) as a float64 vector; text, matrices, NaN/inf refused."""
    where = f"{path}: spike raster of trial {trial:g} (unit {path.stem})"
    fix = "fix: finite spike times (ms, trial clock) in a vector, or leave the file out (files=)"
    try:
        times = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FileFormatError(
            f"{where} holds {str(value)[:40]!r}, not spike times; {fix}"
        ) from None
    if times.ndim > 1:
        raise FileFormatError(f"{where} is a {times.shape} matrix, not a vector; {fix}")
    times = np.atleast_1d(times)
    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise FileFormatError(
            f"{where} holds {times[bad[0]]} at position {bad[0]} of {times.size} ({bad.size} "
            f"non-finite in all); {fix}"
        )
    return times


def _paradigm_of(code: object, table: pd.DataFrame, path: Path) -> float:
    """The header's paradigm code; inferred from the trials where the header leaves it empty.

    Two files of monkey B's fixed-duration release have an empty ``paradigm``. There, dots
    trials with a go cue (``fpoff``) mean fixed-duration, dots trials without one mean
    reaction-time; a file without dots trials gets NaN (it takes the other files' paradigm).
    """
    if np.size(code) == 0:
        dots = table["coh"].notna() & table["ston"].notna()
        if not dots.any():
            return np.nan
        inferred = 502 if table.loc[dots, "fpoff"].notna().any() else 602
        logger.info("%s: header paradigm is empty; %d inferred from the trials", path, inferred)
        return float(inferred)
    if not (np.ndim(code) == 0 and np.isfinite(code) and int(code) in PARADIGMS):  # type: ignore[arg-type]
        raise FileFormatError(
            f"{path}: header paradigm={code!r} is neither 502 (fixed-duration) nor 602 "
            "(reaction-time), the two Roitman & Shadlen paradigms this converter knows; fix: "
            "leave this file out (files=[...]) or write its own converter"
        )
    return float(code)  # type: ignore[arg-type]

"""Roitman & Shadlen (2002) fixed-duration LIP recordings -> canonical pseudo-population.

Input: ``all_b_fd.tar.gz`` (monkey B, fixed-duration task; 33 MATLAB v5 files, one LIP unit
each) or a folder of its ``.mat`` files. Each file holds ``data`` = {header, trial matrix,
per-trial cells}: the header's ``trialfields`` names the 41 trial-matrix columns, the first
per-trial cell is the spike raster. All times are integer ms on one trial clock (fixation
point on = 0); rasters start at ``header.tminmax[0]`` = -1000 ms.

Conversion rules (see ``datasets/roitman2002_fd_monkeyB.md`` for the data card):

* **Trials** of all files are concatenated in file-name order: a pseudo-population with one
  unit per file (unit id = file stem); ``observed[trial, unit]`` is True only for the file's
  own unit. Trial coord ``session`` = file stem of the trial's recording.
* **Trial types** (coord ``task``): ``"dots"`` (random-dot motion, 1163 trials); files also
  hold saccade trials without dots (``coh`` NaN, 382 trials; 4 files hold only these):
  ``"memory_saccade"`` (target extinguished, ``trgoff`` present) or ``"visual_saccade"``.
* **Dropped trials** (counts logged at INFO): the ``align`` event did not happen (e.g. no
  ``ston`` on saccade trials, no ``rew`` on error trials); ``fix`` or ``sac`` missing; task
  events out of order; no valid bin inside ``window``. Units left without trials are dropped.
* **Valid bins** lie fully inside ``[max(fix, tminmax[0]), sac]``: from fixation acquired to
  saccade onset. Binning follows :mod:`alrnn_neuro.data.binning` (half-open bins; a spike on
  an edge counts in the bin that starts there).
* **Epochs** (label of the last event at or before the bin centre): ``fixation`` (fix),
  ``targets`` (trgon), ``memory`` (trgoff), ``motion`` (ston), ``delay`` (stoff), ``go``
  (fpoff, until the saccade ends the valid range).
* **Inputs**: ``motion`` = signed coherence as a fraction on ``motion`` bins; ``targets`` = 1
  while the choice targets are visible (trgon to trgoff, or to the end of the trial);
  ``go`` = 1 on ``go`` bins (fixation point off). All 0 on padded steps.
* **Signed coherence** (percent) is ``+coh`` when the motion direction points toward
  target 1 (the target in the unit's response field; ``cos(dir - angle(t1x, t1y)) > 0``),
  ``-coh`` otherwise. On every non-zero-coherence trial, ``correct == (choice == 1)``
  exactly when the sign is positive.
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
import xarray as xr

from alrnn_neuro.data import binning, limits
from alrnn_neuro.data.epochs import label_epochs
from alrnn_neuro.data.matlab import load_mat
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, FileFormatError

logger = logging.getLogger(__name__)

EVENTS = ("fpon", "fix", "trgon", "trgoff", "ston", "stoff", "fpoff", "sac", "trgac", "rew")
"""Event columns (ms, trial clock) usable as ``align``; each becomes coord ``event_<name>``."""
EPOCHS = {
    "fix": "fixation",
    "trgon": "targets",
    "trgoff": "memory",
    "ston": "motion",
    "stoff": "delay",
    "fpoff": "go",
}
"""Event that starts each epoch -> epoch label, in task order."""
TASK_ORDER = ("fix", "trgon", "trgoff", "ston", "stoff", "fpoff", "sac")
INPUT_NAMES = ("motion", "targets", "go")
_COLUMNS = ("trial#", "coh", "dir", "t1x", "t1y", "t2x", "t2y", "trgchoice", "correct")


def convert_roitman_fd(
    source: str | os.PathLike,
    *,
    bin_size: float = 0.05,
    align: str = "ston",
    window: tuple[float, float] = (-0.5, 1.5),
    files: Sequence[str] | None = None,
) -> xr.Dataset:
    """Convert the Roitman & Shadlen (2002) fixed-duration recordings to a canonical dataset.

    Parameters
    ----------
    source : str or PathLike
        ``all_b_fd.tar.gz``, a folder holding its ``.mat`` files, or one ``.mat`` file.
    bin_size : float
        Bin width in seconds (> 0).
    align : str
        Event that defines time zero, one of :data:`EVENTS` (``"ston"`` = dots on).
    window : (float, float)
        ``(t0, t1)`` in seconds relative to ``align``; bins cover ``[t0, t1)``.
    files : sequence of str, optional
        File stems to convert (e.g. ``["b107d", "b108d"]``); default all.

    Returns
    -------
    xr.Dataset
        Canonical dataset: ``spikes`` (trial, time, unit) uint8 counts (wider if needed),
        ``inputs`` (trial, time, input) with inputs ``motion``, ``targets``, ``go``,
        ``valid``, ``observed``, ``epoch``; trial coords ``session``, ``trial_number``,
        ``task``, ``coherence`` (%), ``signed_coherence`` (%), ``direction`` (deg),
        ``choice`` (1 or 2), ``correct``, ``dots_duration`` (s), ``rt`` (s, saccade latency
        after the go cue), ``target1_x`` ... ``target2_y``, ``event_<name>`` (s relative to
        ``align``); unit coords ``file``, ``area``, ``n_trials``. Rules: module docstring.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    FileFormatError
        If ``source`` holds no ``.mat`` files or a file lacks the expected layout.
    ConfigError
        For an unknown ``align`` event or file stem, ``bin_size <= 0``, a bad ``window``,
        or options that leave no trial.
    """
    t0, t1 = _check_options(bin_size, align, window)
    n_bins = binning.n_bins_for((t0, t1), bin_size)
    table, rasters, t_min = read_roitman_fd(source, files=files)
    stems = list(dict.fromkeys(table["session"]))
    align_ms = table[align].to_numpy(float)
    start_rel = (np.fmax(table["fix"].to_numpy(float), t_min) - align_ms) / 1000.0
    stop_rel = (table["sac"].to_numpy(float) - align_ms) / 1000.0
    known = np.isfinite(start_rel) & np.isfinite(stop_rel)  # others are dropped below
    first, last = binning.valid_bin_range(
        np.where(known, start_rel, 0.0), np.where(known, stop_rel, 0.0), t0, bin_size, n_bins
    )
    keep = _usable_trials(table, align, first < last)
    if not keep.any():
        raise ConfigError(
            f"no trial left with align={align!r}, window={window!r}: the event is missing or "
            "no bin lies between fix and sac; fix: align='ston' with window=(-0.5, 1.5)"
        )
    table = table[keep].reset_index(drop=True)
    rasters = [rasters[i] for i in np.flatnonzero(keep)]
    first, last = first[keep], last[keep]
    units = [stem for stem in stems if (table["session"] == stem).any()]
    if len(units) < len(stems):
        logger.info("dropped units without usable trials: %s", sorted(set(stems) - set(units)))
    unit_of = pd.Index(units).get_indexer(table["session"])
    valid = binning.range_mask(first, last, n_bins)
    counts = _count(rasters, table[align].to_numpy(float), t0, bin_size, n_bins) * valid
    spikes = np.zeros((len(table), n_bins, len(units)), dtype=_count_dtype(counts.max()))
    spikes[np.arange(len(table)), :, unit_of] = counts
    observed = np.zeros((len(table), len(units)), bool)
    observed[np.arange(len(table)), unit_of] = True
    events_rel = {name: (table[name].to_numpy(float) - align_ms[keep]) / 1000.0 for name in EVENTS}
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_size
    epoch = _epochs(events_rel, centres, valid)
    return make_dataset(
        spikes,
        inputs=_inputs(table, events_rel, centres, epoch, valid),
        input_names=list(INPUT_NAMES),
        valid=valid,
        observed=observed,
        epoch=epoch,
        time=centres,
        bin_size=bin_size,
        align_event=align,
        trial_coords=_trial_coords(table, events_rel),
        unit_ids=units,
        unit_coords={
            "file": np.array([f"{u}.mat" for u in units]),
            "area": np.full(len(units), "LIP"),
            "n_trials": np.bincount(unit_of, minlength=len(units)),
        },
        source=(
            f"Roitman & Shadlen (2002) J Neurosci 22:9475, fixed-duration task, monkey B: "
            f"{Path(source).name} ({len(units)} units)"
        ),
    )


def read_roitman_fd(
    source: str | os.PathLike, *, files: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[np.ndarray], np.ndarray]:
    """Read the trial tables and spike rasters of all (or some) recordings.

    Parameters
    ----------
    source : str or PathLike
        ``all_b_fd.tar.gz``, a folder of its ``.mat`` files, or one ``.mat`` file.
    files : sequence of str, optional
        File stems to read; default all, in file-name order.

    Returns
    -------
    table : pandas.DataFrame, one row per trial
        The 41 trial-matrix columns (event times in ms) plus ``session`` (file stem).
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
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise FileFormatError(
            f"{path}: not in the Roitman-Shadlen layout ({type(error).__name__}: {error}); "
            "expected variable 'data' = {header with trialfields/trialcells, trial matrix, "
            "per-trial cells with 'raster'}"
        ) from error
    missing = [c for c in (*_COLUMNS, *EVENTS) if c not in table.columns]
    if missing:
        raise FileFormatError(f"{path}: trial matrix lacks columns {missing}")
    table["session"] = path.stem
    rasters = [np.atleast_1d(np.asarray(r, dtype=np.float64)) for r in cells[:, raster_col]]
    return table, rasters, t_min


def _check_options(bin_size: float, align: str, window: tuple[float, float]) -> tuple[float, float]:
    if not (np.isscalar(bin_size) and np.isfinite(bin_size) and bin_size > 0):
        raise ConfigError(f"bin_size={bin_size!r} s; fix: a positive width, e.g. 0.05")
    if align not in EVENTS:
        raise ConfigError(f"align={align!r} is not a Roitman event; fix: one of {list(EVENTS)}")
    try:
        t0, t1 = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ConfigError(f"window={window!r}; fix: (start, stop) in seconds") from None
    if not (np.isfinite(t0) and np.isfinite(t1) and t1 > t0):
        raise ConfigError(f"window={window!r}: stop must follow start; fix: e.g. (-0.5, 1.5)")
    return t0, t1


def _usable_trials(table: pd.DataFrame, align: str, has_bins: np.ndarray) -> np.ndarray:
    """Keep mask; logs how many trials each rule drops."""
    times = table[list(TASK_ORDER)].to_numpy(float)
    latest = np.fmax.accumulate(times, axis=1)
    ordered = ~(np.isfinite(times[:, 1:]) & (times[:, 1:] <= latest[:, :-1])).any(axis=1)
    rules = {
        f"no '{align}' event": table[align].notna().to_numpy(),
        "no 'fix' or 'sac' event": table[["fix", "sac"]].notna().all(axis=1).to_numpy(),
        "task events out of order": ordered,
        "no valid bin inside the window": has_bins,
    }
    keep = np.ones(len(table), bool)
    for reason, ok in rules.items():
        if (keep & ~ok).any():
            logger.info("dropped %d of %d trials: %s", (keep & ~ok).sum(), len(table), reason)
        keep &= ok
    return keep


def _count(
    rasters: list[np.ndarray], align_ms: np.ndarray, t0: float, bin_size: float, n_bins: int
) -> np.ndarray:
    """Spike counts (trial, time) of each trial's own unit, vectorised over all spikes."""
    sizes = np.array([r.size for r in rasters])
    trial_of = np.repeat(np.arange(len(rasters)), sizes)
    times = np.concatenate(rasters) if rasters else np.zeros(0)
    rel = ((times - np.repeat(align_ms, sizes)) / 1000.0 - t0) / bin_size
    bins = np.floor(rel + binning.EDGE_TOL).astype(np.int64)
    inside = (bins >= 0) & (bins < n_bins)
    flat = trial_of[inside] * n_bins + bins[inside]
    return np.bincount(flat, minlength=len(rasters) * n_bins).reshape(len(rasters), n_bins)


def _count_dtype(max_count: int) -> type:
    return next(t for t in (np.uint8, np.uint16, np.int32) if max_count <= np.iinfo(t).max)


def _epochs(events_rel: dict, centres: np.ndarray, valid: np.ndarray) -> np.ndarray:
    by_event = label_epochs(list(EPOCHS), events_rel, centres, valid)
    width = max(len(label) for label in EPOCHS.values())
    epoch = np.full(valid.shape, "", dtype=f"<U{width}")
    for event, label in EPOCHS.items():
        epoch[by_event == event] = label
    return epoch


def _signed_coherence(table: pd.DataFrame) -> np.ndarray:
    angle_t1 = np.arctan2(table["t1y"].to_numpy(float), table["t1x"].to_numpy(float))
    toward_t1 = np.cos(np.deg2rad(table["dir"].to_numpy(float)) - angle_t1) > 0
    return np.where(toward_t1, 1.0, -1.0) * table["coh"].to_numpy(float) / 10.0


def _inputs(
    table: pd.DataFrame, events_rel: dict, centres: np.ndarray, epoch: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    motion = np.nan_to_num(_signed_coherence(table) / 100.0)[:, None] * (epoch == "motion")
    targets_off = np.where(np.isnan(events_rel["trgoff"]), np.inf, events_rel["trgoff"])
    shown = (centres[None, :] >= events_rel["trgon"][:, None] - binning.EDGE_TOL) & (
        centres[None, :] < targets_off[:, None]
    )
    inputs = np.stack([motion, shown & valid, epoch == "go"], axis=-1)
    return inputs.astype(np.float32)


def _trial_coords(table: pd.DataFrame, events_rel: dict) -> dict[str, np.ndarray]:
    has_dots = table["ston"].notna().to_numpy()
    task = np.where(
        has_dots, "dots", np.where(table["trgoff"].notna(), "memory_saccade", "visual_saccade")
    )
    coords = {
        "session": table["session"].to_numpy(str),
        "trial_number": table["trial#"].to_numpy(np.int64),
        "task": task,
        "coherence": table["coh"].to_numpy(float) / 10.0,
        "signed_coherence": _signed_coherence(table),
        "direction": table["dir"].to_numpy(float),
        "choice": table["trgchoice"].to_numpy(np.int64),
        "correct": table["correct"].to_numpy(float) == 1,
        "dots_duration": (table["stoff"] - table["ston"]).to_numpy(float) / 1000.0,
        "rt": (table["sac"] - table["fpoff"]).to_numpy(float) / 1000.0,
    }
    for i in (1, 2):
        coords[f"target{i}_x"] = table[f"t{i}x"].to_numpy(float)
        coords[f"target{i}_y"] = table[f"t{i}y"].to_numpy(float)
    coords.update({f"event_{name}": values for name, values in events_rel.items()})
    return coords

"""Roitman & Shadlen (2002) LIP recordings -> canonical pseudo-population.

Input: ``all_b_fd.tar.gz`` (monkey B, fixed-duration task; 33 MATLAB v5 files, one LIP unit
each), the reaction-time files of the same release, or a folder of their ``.mat`` files. Each
file holds ``data`` = {header, trial matrix, per-trial cells}: the header's ``trialfields``
names the 41 trial-matrix columns, the first per-trial cell is the spike raster. All times are
integer ms on one trial clock (fixation point on = 0); rasters start at ``header.tminmax[0]``
= -1000 ms.

* **Paradigm** (header field ``paradigm``): 502 = fixed-duration (dots for a set time, a
  delay, then the go cue ``fpoff``), 602 = reaction-time (the monkey answers whenever it is
  ready; the saccade ends the dots). Any other code, or files of both paradigms in one
  conversion, is an error. ``attrs["task"]`` names the paradigm, ``attrs["monkey"]`` the
  monkey (the first letter of the file names, upper case: ``b107d.mat`` -> ``B``).

Conversion rules (see ``datasets/roitman2002_fd_monkeyB.md`` for the data card):

* **Trials** of all files are concatenated in file-name order: a pseudo-population with one
  unit per file (unit id = file stem); ``observed[trial, unit]`` is True only for the file's
  own unit. Trial coord ``session`` = file stem of the trial's recording.
* **Trial types** (coord ``task``): ``"dots"`` (random-dot motion shown: ``coh`` and ``ston``
  present; 1163 trials of monkey B's fixed-duration files); files also hold saccade trials
  without dots (``coh`` NaN, 382 trials; 4 files hold only these): ``"memory_saccade"``
  (target extinguished, ``trgoff`` present) or ``"visual_saccade"``; a trial with a coherence
  but no dots onset is ``"dots_aborted"``.
* **Dropped trials** (counts logged at INFO): the ``align`` event did not happen (e.g. no
  ``ston`` on saccade trials, no ``rew`` on error trials); ``fix`` or ``sac`` missing; task
  events out of order; no valid bin inside ``window``. Units left without trials are dropped.
* **Valid bins** lie fully inside ``[max(fix, tminmax[0]), sac]``: from fixation acquired to
  saccade onset. Binning follows :mod:`alrnn_neuro.data.binning` (half-open bins; a spike on
  an edge counts in the bin that starts there).
* **Epochs** (label of the last event at or before the bin centre): ``fixation`` (fix),
  ``targets`` (trgon), ``memory`` (trgoff), ``motion`` (ston), then fixed-duration only:
  ``delay`` (stoff), ``go`` (fpoff, until the saccade ends the valid range). Reaction-time:
  ``motion`` lasts until the saccade.
* **Inputs**: ``motion`` = signed coherence as a fraction on ``motion`` bins; ``targets`` = 1
  while the choice targets are visible (trgon to trgoff, or to the end of the trial);
  fixed-duration only: ``go`` = 1 on ``go`` bins (fixation point off). All 0 on padded steps.
* **rt**: fixed-duration: saccade latency after the go cue (``sac - fpoff``); reaction-time:
  decision time from dots on (``sac - ston``).
* **Signed coherence** (percent) is ``+coh`` when the motion direction points toward
  target 1 (the target in the unit's response field; ``cos(dir - angle(t1x, t1y)) > 0``),
  ``-coh`` otherwise; 0 % coherence is 0 (one level, never -0). On every
  non-zero-coherence trial, ``correct == (choice == 1)`` exactly when the sign is positive.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.data import binning
from alrnn_neuro.data.epochs import label_epochs
from alrnn_neuro.data.roitman_files import EVENTS, PARADIGMS, read_roitman
from alrnn_neuro.data.roitman_files import read_roitman_fd as read_roitman_fd
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError

logger = logging.getLogger(__name__)

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
SPECIES = "Macaca mulatta"
"""The monkeys' species (Roitman & Shadlen 2002: two adult rhesus monkeys)."""
RT_ONLY = ("stoff", "fpoff")
"""Events that do not shape a reaction-time trial (no delay, no go cue)."""


def convert_roitman(
    source: str | os.PathLike,
    *,
    bin_size: float = 0.05,
    align: str = "ston",
    window: tuple[float, float] = (-0.5, 1.5),
    files: Sequence[str] | None = None,
) -> xr.Dataset:
    """Convert Roitman & Shadlen (2002) recordings (either paradigm) to a canonical dataset.

    Parameters
    ----------
    source : str or PathLike
        ``all_b_fd.tar.gz`` (or the reaction-time tarball), a folder holding ``.mat`` files,
        or one ``.mat`` file; all of one paradigm.
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
        ``inputs`` (trial, time, input) with inputs ``motion``, ``targets`` and (fixed
        duration) ``go``, ``valid``, ``observed``, ``epoch``; trial coords ``session``,
        ``trial_number``, ``task``, ``coherence`` (%), ``signed_coherence`` (%),
        ``direction`` (deg), ``choice`` (1 or 2), ``correct``, ``dots_duration`` (s), ``rt``
        (s: after the go cue, or after dots on for reaction-time files), ``target1_x`` ...
        ``target2_y``, ``event_<name>`` (s relative to ``align``); unit coords ``file``,
        ``area``, ``n_trials``; attrs ``task``, ``paradigm``, ``monkey``, ``species``. Rules:
        module
        docstring.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    FileFormatError
        If ``source`` holds no ``.mat`` files, a file lacks the expected layout, or its header
        names another paradigm than 502 / 602.
    ConfigError
        For an unknown ``align`` event or file stem, ``bin_size <= 0``, a bad ``window``,
        or options that leave no trial, or files of both paradigms.
    """
    t0, t1 = _check_options(bin_size, align, window)
    n_bins = binning.n_bins_for((t0, t1), bin_size)
    table, rasters, t_min = read_roitman(source, files=files)
    paradigm = _one_paradigm(table)
    reaction_time = PARADIGMS[paradigm] == "reaction-time"
    if reaction_time:
        table[list(RT_ONLY)] = np.nan  # no delay or go cue shapes these trials
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
    input_names = list(INPUT_NAMES[:2] if reaction_time else INPUT_NAMES)
    inputs = _inputs(table, events_rel, centres, epoch, valid)[:, :, : len(input_names)]
    task, monkey = PARADIGMS[paradigm], _monkeys(units)
    ds = make_dataset(
        spikes,
        inputs=inputs,
        input_names=input_names,
        valid=valid,
        observed=observed,
        epoch=epoch,
        time=centres,
        bin_size=bin_size,
        align_event=align,
        trial_coords=_trial_coords(table, events_rel, reaction_time),
        unit_ids=units,
        unit_coords={
            "file": np.array([f"{u}.mat" for u in units]),
            "area": np.full(len(units), "LIP"),
            "n_trials": np.bincount(unit_of, minlength=len(units)),
        },
        source=(
            f"Roitman & Shadlen (2002) J Neurosci 22:9475, {task} task, monkey {monkey}: "
            f"{Path(source).name} ({len(units)} units)"
        ),
    )
    ds.attrs.update(task=task, paradigm=paradigm, monkey=monkey, species=SPECIES)
    return ds


convert_roitman_fd = convert_roitman
"""The former name of :func:`convert_roitman` (it converts both paradigms)."""


def _one_paradigm(table: pd.DataFrame) -> int:
    """The single paradigm code of all files, or a ConfigError listing the files of each."""
    by_code = table.groupby("paradigm")["session"].unique()  # NaN (unknown) rows left out
    if by_code.empty:
        raise ConfigError(
            "no file names its paradigm and none holds dots trials to infer it from; fix: "
            "add files with dots trials (fixed-duration or reaction-time)"
        )
    if len(by_code) > 1:
        listed = "; ".join(
            f"{PARADIGMS[int(code)]} ({int(code)}): {sorted(stems)[:5]}"
            for code, stems in by_code.items()
        )
        raise ConfigError(
            f"the files mix paradigms ({listed}); fix: convert each paradigm separately, "
            "e.g. with files=[...] or one folder per paradigm"
        )
    return int(by_code.index[0])


def _monkeys(units: list[str]) -> str:
    """Monkey label(s) from the file stems' first letters (``b107d`` -> ``B``)."""
    return ", ".join(sorted({unit[0].upper() for unit in units}))


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
    # + 0.0 turns -0.0 into 0.0: 0 % coherence is one level, whatever the direction
    return np.where(toward_t1, 1.0, -1.0) * table["coh"].to_numpy(float) / 10.0 + 0.0


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


def _rt(table: pd.DataFrame, start: str, dots: np.ndarray | None) -> np.ndarray:
    """Saccade time after ``start`` (s); NaN outside ``dots`` trials when given."""
    rt = (table["sac"] - table[start]).to_numpy(float) / 1000.0
    return rt if dots is None else np.where(dots, rt, np.nan)


def _trial_coords(
    table: pd.DataFrame, events_rel: dict, reaction_time: bool
) -> dict[str, np.ndarray]:
    has_coh = table["coh"].notna().to_numpy()
    has_dots = has_coh & table["ston"].notna().to_numpy()
    saccade_only = np.where(table["trgoff"].notna(), "memory_saccade", "visual_saccade")
    task = np.where(has_dots, "dots", np.where(has_coh, "dots_aborted", saccade_only))
    rt_start = "ston" if reaction_time else "fpoff"
    dots_end = "sac" if reaction_time else "stoff"  # reaction time: dots until the saccade
    coords = {
        "session": table["session"].to_numpy(str),
        "trial_number": table["trial#"].to_numpy(np.int64),
        "task": task,
        "coherence": table["coh"].to_numpy(float) / 10.0,
        "signed_coherence": _signed_coherence(table),
        "direction": table["dir"].to_numpy(float),
        "choice": table["trgchoice"].to_numpy(np.int64),
        "correct": table["correct"].to_numpy(float) == 1,
        "dots_duration": (table[dots_end] - table["ston"]).to_numpy(float) / 1000.0,
        "rt": _rt(table, rt_start, has_dots if reaction_time else None),
    }
    for i in (1, 2):
        coords[f"target{i}_x"] = table[f"t{i}x"].to_numpy(float)
        coords[f"target{i}_y"] = table[f"t{i}y"].to_numpy(float)
    coords.update({f"event_{name}": values for name, values in events_rel.items()})
    return coords

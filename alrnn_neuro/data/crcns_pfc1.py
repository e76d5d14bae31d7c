"""One raw CRCNS pfc-1 session (Rodgers & DeWeese 2014) -> canonical dataset.

Reads the files described in :mod:`alrnn_neuro.data.crcns_pfc1_files` and applies these
rules (docs/pfc1.md; facts from ``shared/design/pfc1-format.md`` §c, marked there):

* **Trials**: every row of ``trials_info`` except munged trials (``is_munged``), trials marked
  ``future_trial`` (or any outcome other than hit / error / wrong_port) and trials without
  ``stim_onset``. ``trial_filter="authors"`` keeps the
  authors' usual subset instead: hits, ``nonrandom == 0``, mixed (two-sound) stimuli.
* **Bins**: ``bin_size`` (default 50 ms) in ``window`` around ``stim_onset`` (default
  (-0.25, 0.3) s, the authors' standard fold; their timecourses use (-3, 3)). Each trial's
  valid bins lie fully inside the window *and* inside ``[previous trial's choice_made, next
  trial's cpoke_start]``, so no bin belongs to two trials.
* **Epochs** (label of the interval containing the bin centre): ``iti`` before
  ``cpoke_start``, ``hold`` [cpoke_start, stim_onset), ``stimulus`` [stim_onset,
  cpoke_stop), ``response`` [cpoke_stop, choice_made), ``outcome`` from ``choice_made``.
* **Inputs** (0/1, the simulator's channels): ``left_noise`` / ``right_noise`` /
  ``high_pitch`` / ``low_pitch`` on stimulus bins when that sound plays (parsed from
  ``stim_name``), ``cue_local`` / ``cue_pitch`` on stimulus bins of single-sound cue trials of
  a localization / pitch block, ``hold`` on hold bins, ``reward`` on outcome bins of hits on
  GO trials. The end of the sound at ``cpoke_stop`` is INFERRED, not documented.
* **Trial labels**: ``trial_number``, ``stim_name``, ``rule`` (``local`` = LB, ``pitch`` = PB),
  ``location``, ``pitch`` (``""`` when the sound is absent), ``cue_trial``, ``go_or_nogo``,
  ``outcome``, ``correct_side``, ``choice`` (``left`` / ``right`` / ``withhold``, from the
  spec's table: hit-GO and error-NOGO poke ``correct_side``, hit-NOGO and error-GO withhold,
  ``wrong_port`` pokes the other side), ``correct`` (hit), ``rt`` (cpoke_stop - stim_onset,
  s), ``block`` / ``stim_number`` / ``nonrandom`` when present, ``event_<name>``.
* **Units**: with ``unit_db``: the session's units with ``include`` True (all listed units
  with ``all_units=True``), ids = ``ulabel``, ``area`` = ``region``; units listed but without
  spikes are kept all-zero (warned). Without ``unit_db``: every cluster of the spike file
  (including multi-unit and noise clusters) and ``area`` by the metadata rule
  (``kkrs.is_auditory``: CR12B, CR17B all A1; other rats A1 when group >= 5, else PFC).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.data import binning
from alrnn_neuro.data import crcns_pfc1_files as files_mod
from alrnn_neuro.data.epochs import label_epochs
from alrnn_neuro.data.events import bin_spike_times, check_binning
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.data.study_pfc1 import A1_RATS, MIXED_RATS, sha256
from alrnn_neuro.errors import ConfigError, FileFormatError

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = (-0.25, 0.3)
INPUT_NAMES = (
    "left_noise",
    "right_noise",
    "high_pitch",
    "low_pitch",
    "cue_local",
    "cue_pitch",
    "hold",
    "reward",
)
EPOCHS = [
    ("hold", "cpoke_start", "stim_onset"),
    ("stimulus", "stim_onset", "cpoke_stop"),
    ("response", "cpoke_stop", "choice_made"),
    ("outcome", "choice_made", "trial_end"),
]
TRIAL_FILTERS = ("all", "authors")
OUTCOMES = ("hit", "error", "wrong_port")
_SIDES = {"le": "left", "ri": "right"}
_PITCHES = {"hi": "high", "lo": "low"}
_RULES = {"lc": "local", "pc": "pitch"}
GO_STIMULI = ("lo_pc_go", "le_lc_go", "le_hi_lc", "le_lo_lc", "le_lo_pc", "ri_lo_pc")
SOURCE = "CRCNS pfc-1 (Rodgers & DeWeese 2014, Neuron 82:1157; doi:10.6080/K0N877T0 data set)"


def read_crcns_pfc1(
    session_dir: str | os.PathLike,
    *,
    unit_db: str | os.PathLike | None = None,
    window: tuple[float, float] = DEFAULT_WINDOW,
    bin_size: float = 0.05,
    trial_filter: str = "all",
    all_units: bool = False,
    sample_rate: float = files_mod.SAMPLE_RATE,
) -> xr.Dataset:
    """Convert one raw pfc-1 session into a canonical dataset aligned to ``stim_onset``.

    Parameters
    ----------
    session_dir : str or PathLike
        The session folder ``data/<rat>/<session>/`` (or its ``klusters0/``).
    unit_db : str or PathLike, optional
        ``metadata/unit_db.csv`` of the authors' repository: unit selection and ``area``.
    window : (float, float)
        Seconds around ``stim_onset``; bins cover ``[t0, t1)``.
    bin_size : float
        Bin width in seconds.
    trial_filter : {"all", "authors"}
        ``"all"`` usable trials, or the authors' hits / nonrandom == 0 / mixed-stimulus subset.
    all_units : bool
        With ``unit_db``: keep every listed unit, not only ``include`` ones.
    sample_rate : float
        Sampling rate (Hz) of KlustaKwik ``.res`` files (fallback spike format only).

    Returns
    -------
    xr.Dataset
        Canonical dataset; the rules are in the module docstring. attrs ``session``, ``rat``,
        ``source_files`` (JSON: name -> sha256), ``unit_selection``, ``trial_filter``.

    Raises
    ------
    FileFormatError
        Missing or malformed session files (message names file, field, value and fix).
    UnsafePickleError
        The spike-table pickle asks for anything but its arrays (nothing ran).
    ConfigError
        Bad ``window``, ``bin_size`` or ``trial_filter``, or no trial left.
    """
    bin_size, window = check_binning(bin_size, window)
    if all_units and unit_db is None:
        raise ConfigError(
            "all_units=True selects among the units of unit_db, and no unit_db was given "
            "(without it every cluster of the spike file is kept already); fix: pass "
            "--unit-db FILE or drop --all-units"
        )
    if trial_filter not in TRIAL_FILTERS:
        raise ConfigError(f"trial_filter={trial_filter!r}; fix: one of {list(TRIAL_FILTERS)}")
    folder = files_mod.session_folder(session_dir)
    session, rat = folder.name, folder.name.split("_")[0]
    spikes, used = files_mod.read_spike_table(folder, sample_rate=sample_rate)
    trials, trial_files = files_mod.read_trials(folder)
    used += trial_files
    trials = _select_trials(_with_neighbours(trials), trial_filter, trial_files[0])
    trials = _trials_with_bins(trials, window, bin_size)
    labels = trial_labels(trials, trial_files[0])
    unit_ids, unit_coords, selection = _units(spikes, session, rat, unit_db, all_units)
    if unit_db is not None:
        used.append(Path(unit_db))
    spikes = spikes.assign(unit=[f"{session}-{u}" for u in spikes["unit"]])
    spikes = spikes[spikes["unit"].isin(unit_ids)]
    stim, start, stop = _bounds_in_window(trials, window)
    # [start, stop] stretched to hold stim onset (the align event) where the window does not:
    # the stretch lies outside the window, so it adds no bin
    table = pd.DataFrame(
        {
            "trial": trials.index.to_numpy(np.int64),
            "start": np.fmin(start, stim),
            "stop": np.fmax(stop, stim),
            "stim_onset": stim,
        }
    )
    inputs, epoch = _inputs_and_epochs(trials, labels, table, window, bin_size)
    ds = bin_spike_times(
        spikes[["unit", "time"]],
        table,
        bin_size=bin_size,
        align="stim_onset",
        window=window,
        unit_ids=unit_ids,
        unit_coords=unit_coords,
        inputs=inputs,
        events=[],
        source=f"{SOURCE}, session {session}: {folder.resolve()}",
    )
    events = {
        f"event_{name}": (trials[name].to_numpy(float) - stim)
        for name in (*files_mod.TIMING_COLUMNS, "trial_end")
    }
    ds = ds.assign(epoch=(("trial", "time"), np.where(ds["valid"].values, epoch, "")))
    ds = ds.assign_coords(
        {name: ("trial", values) for name, values in {**labels, **events}.items()}
    )
    ds.attrs.update(
        session=session,
        rat=rat,
        source_files=_file_hashes(used, folder),
        unit_selection=selection,
        trial_filter=trial_filter,
    )
    return validate_dataset(ds)


def _with_neighbours(trials: pd.DataFrame) -> pd.DataFrame:
    """Add ``trial_end`` (next trial's cpoke_start) and ``previous_end`` (last choice_made)."""
    ordered = trials.sort_values("stim_onset", kind="stable")
    nxt = ordered["cpoke_start"].fillna(ordered["stim_onset"]).shift(-1)
    prev = ordered["choice_made"].fillna(ordered["stim_onset"]).shift(1)
    trials = trials.assign(
        trial_end=nxt.reindex(trials.index).fillna(np.inf),
        previous_end=prev.reindex(trials.index).fillna(-np.inf),
    )
    return trials


def _bounds_in_window(
    trials: pd.DataFrame, window: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stim onset and the part of ``window`` around it inside the trial's own time (after
    the previous trial's choice, before the next trial's centre poke), session clock, s."""
    stim = trials["stim_onset"].to_numpy(float)
    start = np.fmax(stim + float(window[0]), trials["previous_end"].to_numpy(float))
    stop = np.fmin(stim + float(window[1]), trials["trial_end"].to_numpy(float))
    return stim, start, stop


def _trials_with_bins(
    trials: pd.DataFrame, window: tuple[float, float], bin_size: float
) -> pd.DataFrame:
    """The trials with at least one whole bin of ``window`` inside their own time (a window
    far from stim onset reaches into the neighbouring trials of some); the others dropped,
    with a warning."""
    stim, start, stop = _bounds_in_window(trials, window)
    n_bins = binning.n_bins_for(window, bin_size)
    first, last = binning.valid_bin_range(
        start - stim, stop - stim, float(window[0]), bin_size, n_bins
    )
    keep = last > first
    if not keep.any():
        raise ConfigError(
            f"window={tuple(window)} s around stim onset holds no whole {bin_size:g} s bin "
            f"between the previous trial's choice and the next trial's centre poke in any of "
            f"the {len(trials)} trials; fix: a window nearer stim onset, e.g. "
            f"{DEFAULT_WINDOW}"
        )
    if not keep.all():
        logger.warning(
            "dropped %d of %d trials: no whole bin of window=%s s lies inside their own time "
            "(it reaches into the neighbouring trials)",
            (~keep).sum(),
            len(trials),
            tuple(window),
        )
    return trials[keep]


def _select_trials(trials: pd.DataFrame, trial_filter: str, path: Path) -> pd.DataFrame:
    outcome = trials["outcome"].astype(str)
    rules = {
        "munged (is_munged)": ~trials["is_munged"].to_numpy(bool),
        "future_trial": (outcome != "future_trial").to_numpy(),
        "outcome not hit / error / wrong_port": outcome.isin(OUTCOMES).to_numpy(),
        "no stim_onset": np.isfinite(trials["stim_onset"].to_numpy(float)),
    }
    if trial_filter == "authors":
        nonrandom = trials.get("nonrandom", pd.Series(0, index=trials.index))
        rules["not a hit"] = (outcome == "hit").to_numpy()
        rules["nonrandom != 0"] = (pd.to_numeric(nonrandom, errors="coerce") == 0).to_numpy()
        cue = trials["stim_name"].astype(str).str.endswith(("_go", "_no"))
        rules["cue (single-sound) stimulus"] = ~cue.to_numpy()
    keep = np.ones(len(trials), bool)
    for reason, ok in rules.items():
        if (keep & ~ok).any():
            logger.info("dropped %d of %d trials: %s", (keep & ~ok).sum(), len(trials), reason)
        keep &= ok
    if not keep.any():
        raise ConfigError(
            f"{path}: no trial left with trial_filter={trial_filter!r} (of {len(trials)} rows); "
            "fix: check the outcome / is_munged / stim_onset columns or use trial_filter='all'"
        )
    return trials[keep]


def parse_stim_name(name: str) -> tuple[str, str, str, bool]:
    """``(location, pitch, rule, cue_trial)`` of a pfc-1 stimulus name.

    Examples
    --------
    >>> parse_stim_name("le_hi_pc"), parse_stim_name("lo_pc_go")
    (('left', 'high', 'pitch', False), ('', 'low', 'pitch', True))
    """
    parts = str(name).split("_")
    if len(parts) != 3:
        raise ValueError(name)
    if parts[2] in ("go", "no"):  # cue: <sound>_<block>_<action>
        sound, rule = parts[0], _RULES[parts[1]]
        return _SIDES.get(sound, ""), _PITCHES.get(sound, ""), rule, True
    return _SIDES[parts[0]], _PITCHES[parts[1]], _RULES[parts[2]], False


def trial_labels(trials: pd.DataFrame, path: Path) -> dict[str, np.ndarray]:
    """Trial coords (see the module docstring) of the selected trials."""
    parsed = []
    for number, name in trials["stim_name"].items():
        try:
            parsed.append(parse_stim_name(name))
        except (ValueError, KeyError):
            raise FileFormatError(
                f"{path}: stim_name of trial {number} is {name!r}; fix: one of the 12 pfc-1 "
                "names, e.g. le_hi_pc (mixed) or lo_pc_go (cue)"
            ) from None
    location, pitch, rule, cue = (np.array(v) for v in zip(*parsed, strict=True))
    names = trials["stim_name"].astype(str).to_numpy()
    if "go_or_nogo" in trials:
        go = trials["go_or_nogo"].astype(str).str.lower().to_numpy()
    else:
        go = np.where(np.isin(names, GO_STIMULI), "go", "nogo")
    outcome = trials["outcome"].astype(str).to_numpy()
    side = trials["correct_side"].astype(str).to_numpy()
    for field, values, allowed in (
        ("outcome", outcome, OUTCOMES),
        ("correct_side", side, ("left", "right")),
        ("go_or_nogo", go, ("go", "nogo")),
    ):
        bad = ~np.isin(values, allowed)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FileFormatError(
                f"{path}: {field} of trial {trials.index[i]} is {values[i]!r}; fix: one of "
                f"{list(allowed)}"
            )
    other = np.where(side == "left", "right", "left")
    pokes = (outcome == "hit") == (go == "go")
    choice = np.where(outcome == "wrong_port", other, np.where(pokes, side, "withhold"))
    labels = {
        "trial_number": trials.index.to_numpy(np.int64),
        "stim_name": names,
        "rule": rule,
        "location": location,
        "pitch": pitch,
        "cue_trial": cue.astype(bool),
        "go_or_nogo": go,
        "outcome": outcome,
        "correct_side": side,
        "choice": choice,
        "correct": outcome == "hit",
        "rt": (trials["cpoke_stop"] - trials["stim_onset"]).to_numpy(float),
    }
    for name in ("block", "stim_number", "nonrandom"):
        if name in trials:
            labels[name] = pd.to_numeric(trials[name], errors="coerce").to_numpy()
    return labels


def _inputs_and_epochs(
    trials: pd.DataFrame,
    labels: dict[str, np.ndarray],
    table: pd.DataFrame,
    window: tuple[float, float],
    bin_size: float,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Input channels (trial, time) and epoch labels on the output bins."""
    t0 = float(window[0])
    n_bins = binning.n_bins_for(window, bin_size)
    stim = table["stim_onset"].to_numpy(float)
    start = table["start"].to_numpy(float) - stim
    stop = table["stop"].to_numpy(float) - stim
    first, last = binning.valid_bin_range(start, stop, t0, bin_size, n_bins)
    valid = binning.range_mask(first, last, n_bins)
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_size
    rel = {
        name: trials[name].to_numpy(float) - stim
        for name in (*files_mod.TIMING_COLUMNS, "trial_end")
    }
    rel["trial_end"] = np.where(np.isfinite(rel["trial_end"]), rel["trial_end"], np.inf)
    epoch = label_epochs(EPOCHS, rel, centres, valid).astype(object)
    epoch[(epoch == "pre") & valid] = "iti"
    epoch = epoch.astype(str)
    stimulus = epoch == "stimulus"
    col = {k: np.asarray(v)[:, None] for k, v in labels.items()}
    inputs = {
        "left_noise": stimulus & (col["location"] == "left"),
        "right_noise": stimulus & (col["location"] == "right"),
        "high_pitch": stimulus & (col["pitch"] == "high"),
        "low_pitch": stimulus & (col["pitch"] == "low"),
        "cue_local": stimulus & col["cue_trial"] & (col["rule"] == "local"),
        "cue_pitch": stimulus & col["cue_trial"] & (col["rule"] == "pitch"),
        "hold": epoch == "hold",
        "reward": (epoch == "outcome") & col["correct"] & (col["go_or_nogo"] == "go"),
    }
    return {name: inputs[name].astype(np.float32) for name in INPUT_NAMES}, epoch


def _units(
    spikes: pd.DataFrame, session: str, rat: str, unit_db: object, all_units: bool
) -> tuple[list[str], dict[str, np.ndarray], str]:
    """Unit ids (``<session>-<unum>``), unit coords and a description of the selection."""
    if unit_db is None:
        table = spikes.groupby("unit", sort=True)["group"].first()
        unums = table.index.to_numpy(np.int64)
        groups = table.to_numpy(np.int64)
        coords = {
            "unum": unums,
            "group": groups,
            "area": np.array([rule_area(rat, g) for g in groups], dtype=str),
        }
        note = (
            "every cluster of the spike file (no unit_db, so multi-unit and noise clusters are "
            "included); area by the metadata rule kkrs.is_auditory"
        )
        return [f"{session}-{u}" for u in unums], coords, note
    rows = files_mod.read_unit_db(unit_db, session)
    if not all_units:
        rows = rows[rows["include"]]
        if rows.empty:
            raise FileFormatError(
                f"{unit_db}: no unit of session {session!r} has include == True; fix: pass "
                "--all-units to keep the listed (not well-sorted) units"
            )
    rows = rows.sort_values("unum", kind="stable")
    unums = rows["unum"].to_numpy(np.int64)
    coords = {
        "unum": unums,
        "area": rows["region"].astype(str).to_numpy(),
        "include": rows["include"].to_numpy(bool),
    }
    for name in ("group", "sortqual", "ulabel"):
        if name in rows:
            coords[name] = rows[name].to_numpy()
    note = "unit_db units of the session" + ("" if all_units else " with include == True")
    return [f"{session}-{u}" for u in unums], coords, note


def rule_area(rat: str, group: int) -> str:
    """Area of a unit by the pfc-1 metadata rule (``kkrs.is_auditory``).

    Examples
    --------
    >>> rule_area("CR12B", 2), rule_area("CR21A", 6), rule_area("CR21A", 2)
    ('A1', 'A1', 'PFC')
    """
    if rat in A1_RATS:
        return "A1"
    if rat in MIXED_RATS:
        return "A1" if group >= 5 else "PFC"
    return "unknown"


def _file_hashes(paths: list[Path], folder: Path) -> str:
    """JSON name -> sha256 of the files read (names relative to the session folder)."""
    names = {}
    for path in paths:
        path = Path(path)
        name = str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name
        names[name] = sha256(path)
    return json.dumps(names)

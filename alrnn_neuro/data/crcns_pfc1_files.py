"""Raw files of one CRCNS pfc-1 session (Rodgers & DeWeese 2014): spike table, trials, units.

Layout (``shared/design/pfc1-format.md`` §c, from the authors' public analysis code; none of
these readers has met a real file yet). A session folder ``data/<rat>/<session>/`` holds

* the **spike table**: ``klusters0/*.kkp``, a pickled pandas DataFrame with columns ``unit``
  (= cluster + 100 * group), ``time`` (s, neural clock) and optionally ``group`` (Python 2,
  pandas 0.10; read by :mod:`alrnn_neuro.data.safe_pickle`, never by pandas); or, as a
  fallback, KlustaKwik text files ``*.res.N`` (spike sample per line) + ``*.clu.N`` (number
  of clusters, then one cluster id per spike) for electrode group ``N``;
* ``trials_info``: CSV, index = behavioural trial number, columns ``stim_name``, ``outcome``,
  ``correct_side`` and optionally ``stim_number``, ``block``, ``go_or_nogo``, ``nonrandom``;
* ``trial_timings`` (optional): CSV with the same index and ``is_munged``, ``cpoke_start``,
  ``stim_onset``, ``cpoke_stop``, ``choice_made`` (s, neural clock);
* ``events`` (optional): tab-separated ``event<TAB>time`` lines without a header.

Which file holds the timings is open (§d.8), so both readings are accepted: timing columns
are taken from ``trial_timings`` when present, else from ``trials_info`` itself, else
derived from ``events`` (see :func:`timings_from_events`). Files are looked up in the session
folder and in its ``klusters0/`` subfolder, with or without a ``.csv`` / ``.tsv`` suffix.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from alrnn_neuro.data.pickled_frames import frame_columns
from alrnn_neuro.data.safe_pickle import load_pickle
from alrnn_neuro.errors import FileFormatError

logger = logging.getLogger(__name__)

TIMING_COLUMNS = ("cpoke_start", "stim_onset", "cpoke_stop", "choice_made")
TRIAL_COLUMNS = ("stim_name", "outcome", "correct_side")
SAMPLE_RATE = 30000.0
"""Neural sampling rate (Hz) of the KlustaKwik ``.res`` files (``kk_kwargs['fs']``)."""
GROUP_MULTIPLIER = 100
"""unit number = cluster id + GROUP_MULTIPLIER * electrode group (``kk_kwargs``)."""


def session_folder(path: str | os.PathLike) -> Path:
    """The session folder (``klusters0/`` given directly is taken as its parent)."""
    folder = Path(path)
    if folder.is_file():
        raise FileFormatError(
            f"{folder}: is a file, not a folder; fix: give the pfc-1 session folder "
            f"data/<rat>/<session>/ that holds trials_info and klusters0/ (e.g. {folder.parent})"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; fix: give a pfc-1 session folder")
    return folder.parent if folder.name == "klusters0" else folder


def find_file(folder: Path, name: str, suffixes: tuple[str, ...] = ("", ".csv")) -> Path | None:
    """``folder/name[suffix]`` or ``folder/klusters0/name[suffix]``, whichever exists first."""
    for base in (folder, folder / "klusters0"):
        for suffix in suffixes:
            if (base / f"{name}{suffix}").is_file():
                return base / f"{name}{suffix}"
    return None


def read_spike_table(
    folder: Path, *, sample_rate: float = SAMPLE_RATE, group_multiplier: int = GROUP_MULTIPLIER
) -> tuple[pd.DataFrame, list[Path]]:
    """Spike table (``unit`` int, ``time`` s, ``group`` int) and the files it came from.

    Raises
    ------
    FileFormatError
        No ``.kkp`` and no ``.res.N``/``.clu.N`` pair, or a table without ``unit``/``time``.
    UnsafePickleError
        The ``.kkp`` pickle asks for anything but the data frame's arrays.
    """
    pickles = sorted(folder.glob("klusters0/*.kkp")) + sorted(folder.glob("*.kkp"))
    if pickles:
        path = pickles[0]
        columns = frame_columns(load_pickle(path), path)
        missing = {"unit", "time"} - set(columns)
        if missing:
            raise FileFormatError(
                f"{path}: spike table has columns {sorted(columns)}, lacks {sorted(missing)}; "
                "fix: the pfc-1 spike file has columns unit, time (s) and group"
            )
        table = pd.DataFrame({"unit": _integers(columns["unit"], path, "unit")})
        table["time"] = np.asarray(columns["time"], dtype=np.float64)
        group = columns.get("group", table["unit"].to_numpy() // group_multiplier)
        table["group"] = _integers(group, path, "group")
        return _checked(table, path), [path]
    return _klustakwik(folder, sample_rate, group_multiplier)


def _integers(values: np.ndarray, path: Path, field: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind not in "iuf" or not np.all(np.mod(values, 1) == 0):
        raise FileFormatError(
            f"{path}: spike-table column '{field}' is not integer ({values.dtype}, e.g. "
            f"{values[:1]}); fix: unit and group numbers are integers"
        )
    return values.astype(np.int64)


def _checked(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    if not np.isfinite(table["time"]).all():
        raise FileFormatError(f"{path}: spike times hold NaN/inf; fix: finite times in seconds")
    return table


def _klustakwik(folder: Path, sample_rate: float, multiplier: int) -> tuple[pd.DataFrame, list]:
    base = folder / "klusters0" if (folder / "klusters0").is_dir() else folder
    res_files = sorted(base.glob("*.res.*"), key=lambda p: p.name)
    if not res_files:
        raise FileFormatError(
            f"{folder}: no spike file: expected klusters0/*.kkp (pickled table unit/time/group) "
            "or KlustaKwik klusters0/*.res.N + *.clu.N; fix: unzip the session's klusters0/"
        )
    parts, used = [], []
    for res in res_files:
        group_text = res.name.rsplit(".", 1)[-1]
        clu = res.with_name(res.name[: -len(f".res.{group_text}")] + f".clu.{group_text}")
        if not group_text.isdigit() or not clu.is_file():
            raise FileFormatError(f"{res}: no matching {clu.name}; fix: keep .res.N with .clu.N")
        samples = _integer_lines(res, "spike sample")
        clusters = _integer_lines(clu, "cluster id")
        if clusters.size != samples.size + 1 or clusters[0] < clusters[1:].max(initial=0):
            raise FileFormatError(
                f"{clu}: {clusters.size - 1} cluster ids (after the count line {clusters[:1]}) "
                f"for {samples.size} spikes in {res.name}; fix: the .clu file starts with the "
                "number of clusters, then one id per spike"
            )
        group = int(group_text)
        units = clusters[1:] + multiplier * group
        parts.append(pd.DataFrame({"unit": units, "time": samples / sample_rate, "group": group}))
        used += [res, clu]
    return _checked(pd.concat(parts, ignore_index=True), res_files[0]), used


def _integer_lines(path: Path, what: str) -> np.ndarray:
    """One integer per line of a KlustaKwik text file (``.res.N`` / ``.clu.N``)."""
    try:
        return np.loadtxt(path, dtype=np.int64, ndmin=1)
    except (ValueError, UnicodeDecodeError) as error:
        raise FileFormatError(
            f"{path}: not one integer {what} per line ({error}); fix: KlustaKwik text files "
            "hold one integer per line"
        ) from error


def read_trials(folder: Path) -> tuple[pd.DataFrame, list[Path]]:
    """``trials_info`` joined with the timings, indexed by behavioural trial number.

    Returns
    -------
    table : DataFrame
        One row per trial of ``trials_info`` with the :data:`TRIAL_COLUMNS`, the
        :data:`TIMING_COLUMNS` (NaN where unknown) and ``is_munged`` (False when absent).
    files : list of Path
        The files read.

    Trials without a timing row (or without a trial marker in ``events``) are dropped with
    one warning that counts them. Repeated trial numbers and timing cells that are not
    numbers raise :class:`FileFormatError`.
    """
    info_path = find_file(folder, "trials_info")
    if info_path is None:
        raise FileFormatError(
            f"{folder}: no trials_info file; fix: the session folder needs trials_info (CSV, "
            "index = trial number, columns stim_name, outcome, correct_side, ...)"
        )
    info = _read_csv(info_path)
    missing = [c for c in TRIAL_COLUMNS if c not in info.columns]
    if missing:
        raise FileFormatError(
            f"{info_path}: lacks columns {missing} (has {list(info.columns)}); fix: trials_info "
            "needs stim_name, outcome and correct_side"
        )
    files = [info_path]
    source = dict.fromkeys(TIMING_COLUMNS, info_path)
    timings_path = find_file(folder, "trial_timings")
    if timings_path is not None:
        timings = _read_csv(timings_path)
        _log_missing(info, timings.index, timings_path)
        extra = len(timings.index.difference(info.index))
        if extra:
            logger.info("%d trial_timings rows have no trials_info row", extra)
        info = timings.join(
            info.drop(columns=[c for c in timings.columns if c in info]), how="inner"
        )
        source.update(dict.fromkeys(set(TIMING_COLUMNS) & set(timings.columns), timings_path))
        files.append(timings_path)
    elif "stim_onset" not in info.columns:
        events_path = find_file(folder, "events", ("", ".tsv", ".txt"))
        if events_path is None:
            raise FileFormatError(
                f"{folder}: no trial timings: trial_timings is missing, trials_info has no "
                "stim_onset column and there is no events file; fix: add trial_timings (CSV "
                "with cpoke_start, stim_onset, cpoke_stop, choice_made)"
            )
        timings = timings_from_events(read_events(events_path), info.index, events_path)
        _log_missing(info, timings.index, events_path)
        info = info.join(timings, how="inner")
        files.append(events_path)
    for column in TIMING_COLUMNS:
        info[column] = _numbers(info[column], source[column], column) if column in info else np.nan
    munged = info["is_munged"] if "is_munged" in info else pd.Series(False, index=info.index)
    info["is_munged"] = munged.astype(str).str.lower().isin(("true", "1", "1.0"))
    return info, files


def _log_missing(info: pd.DataFrame, timed: pd.Index, path: Path) -> None:
    """Warn (one line, with counts) about trials_info trials without timings: dropped."""
    missing = info.index.difference(timed, sort=False)
    if len(missing):
        logger.warning(
            "%s: no timings for %d of %d trials_info trials (trial numbers %s); they are dropped",
            path,
            len(missing),
            len(info),
            _listed(missing),
        )


def _listed(values: pd.Index, n: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:n])
    return f"{shown}, ... ({len(values)} in all)" if len(values) > n else shown


def _numbers(values: pd.Series, path: Path, column: str) -> pd.Series:
    """A timing column as floats (empty cells NaN); text that is not a number is refused."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        trial = bad.index[bad.to_numpy()][0]
        raise FileFormatError(
            f"{path}: {column} of trial {trial} is {values[trial]!r}, not a number; fix: times "
            "in seconds on the neural clock (leave the cell empty when unknown)"
        )
    return numbers


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{path}: not a readable CSV table ({error})") from error
    if not pd.api.types.is_integer_dtype(table.index):
        raise FileFormatError(
            f"{path}: the first column (trial number) is not integer (e.g. "
            f"{table.index[:1].tolist()}); fix: the index column holds behavioural trial numbers"
        )
    repeated = table.index[table.index.duplicated()].unique()
    if len(repeated):
        raise FileFormatError(
            f"{path}: trial numbers repeat in the first column: {_listed(repeated)} (on "
            f"{table.index.isin(repeated).sum()} rows); fix: one row per behavioural trial, "
            "each with its own trial number"
        )
    return table


def read_events(path: Path) -> pd.DataFrame:
    """The ``events`` file: columns ``event`` (str) and ``time`` (s, neural clock)."""
    try:
        table = pd.read_csv(path, sep="\t", header=None, names=["event", "time"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FileFormatError(
            f"{path}: not 'event<TAB>time' text lines ({error}); fix: the session's BControl "
            "events file (UTF-8 or ASCII text)"
        ) from error
    table["time"] = pd.to_numeric(table["time"], errors="coerce")
    if table["time"].isna().any():
        row = int(np.flatnonzero(table["time"].isna().to_numpy())[0])
        raise FileFormatError(
            f"{path}: line {row + 1} has no numeric time ({table.iloc[row].tolist()}); fix: "
            "'event<TAB>seconds' per line"
        )
    return table.sort_values("time", kind="stable").reset_index(drop=True)


def timings_from_events(events: pd.DataFrame, trials: pd.Index, path: Path) -> pd.DataFrame:
    """Trial timings from BControl state events (used when no timing table exists).

    Within each trial's span ``[trial_<N>_in, next trial_<M>_in)``: ``stim_onset`` = first
    ``play_stimulus_in``; ``cpoke_start`` = last ``hold_center_in`` before it; ``cpoke_stop`` =
    first ``hold_center2_out`` or ``possible_short_cpoke_out`` after it; ``choice_made`` =
    first ``choosing_side_out`` after it (the authors' definitions, pfc1-format.md §c.5).
    """
    names = events["event"].astype(str).to_numpy()
    times = events["time"].to_numpy(float)
    starts = {}
    for name, time in zip(names, times, strict=True):
        if name.startswith("trial_") and name.endswith("_in") and name[6:-3].isdigit():
            starts.setdefault(int(name[6:-3]), time)
    if not starts:
        raise FileFormatError(
            f"{path}: no 'trial_<N>_in' events; fix: an events file with BControl trial markers"
        )
    order = sorted(starts.items(), key=lambda item: item[1])
    ends = [t for _, t in order[1:]] + [np.inf]
    spans = {n: (t, end) for (n, t), end in zip(order, ends, strict=True)}

    def first(kinds: tuple[str, ...], lo: float, hi: float, last: bool = False) -> float:
        hit = np.isin(names, kinds) & (times >= lo) & (times < hi)
        return float(times[hit][-1 if last else 0]) if hit.any() else np.nan

    rows = {}
    for trial in trials:
        if int(trial) not in spans:
            continue  # no trial marker: no timings (counted and dropped by read_trials)
        lo, hi = spans[int(trial)]
        stim = first(("play_stimulus_in",), lo, hi)
        rows[trial] = {
            "cpoke_start": first(("hold_center_in",), lo, stim, last=True),
            "stim_onset": stim,
            "cpoke_stop": first(("hold_center2_out", "possible_short_cpoke_out"), stim, hi),
            "choice_made": first(("choosing_side_out",), stim, hi),
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TIMING_COLUMNS))


def read_unit_db(path: str | os.PathLike, session: str) -> pd.DataFrame:
    """Rows of ``unit_db.csv`` for ``session`` (matched with or without ``_behaving``).

    Raises
    ------
    FileFormatError
        Missing columns, or no row for the session (the message lists the rat's sessions).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such unit_db file; fix: give metadata/unit_db.csv")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FileFormatError(
            f"{path}: not a readable CSV table ({error}); fix: use Rodgers2014 "
            "metadata/unit_db.csv (UTF-8 or ASCII text)"
        ) from error
    missing = {"session_name", "unum", "include", "region"} - set(table.columns)
    if missing:
        raise FileFormatError(
            f"{path}: lacks columns {sorted(missing)}; fix: use Rodgers2014 metadata/unit_db.csv"
        )
    names = {session, session.removesuffix("_behaving"), f"{session}_behaving"}
    rows = table[table["session_name"].astype(str).isin(names)]
    if rows.empty:
        rat = session.split("_")[0]
        known = sorted({s for s in table["session_name"].astype(str) if s.startswith(rat)})
        raise FileFormatError(
            f"{path}: no unit of session {session!r}; sessions of {rat} listed: "
            f"{known[:12] or 'none'}; fix: pass the session folder whose name is listed"
        )
    rows = rows.copy()
    rows["unum"] = _unit_numbers(rows["unum"], path)
    rows["include"] = rows["include"].astype(str).str.lower().isin(("true", "1", "1.0"))
    return rows


def _unit_numbers(values: pd.Series, path: Path) -> np.ndarray:
    """``unum`` as int64; NaN, text, fractions and repeats are refused (data row, value)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(numbers) & (np.mod(numbers, 1) == 0))
    if bad.any():
        row = values.index[np.flatnonzero(bad)[0]]
        value = values[row]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise FileFormatError(
            f"{path}: unum of data row {row} (line {row + 2}) is {shown}, not an integer unit "
            "number; fix: unum = cluster + 100 * electrode group, one per row"
        )
    numbers = numbers.astype(np.int64)
    repeated = pd.Index(numbers)[pd.Index(numbers).duplicated()].unique()
    if len(repeated):
        rows = values.index[np.isin(numbers, repeated)].tolist()
        raise FileFormatError(
            f"{path}: unum {_listed(repeated)} of the session listed more than once (data rows "
            f"{rows[:8]}); fix: one row per unit"
        )
    return numbers

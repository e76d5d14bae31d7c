"""Trial event tables and epoch labels: table checks, the two epoch forms, labelling.

Two forms of ``epochs`` are accepted by :func:`alrnn_neuro.data.events.bin_spike_times`:

* **event list** ``["fix_on", "stim_on", "go"]``: each bin is labelled with the name of the
  *last* event whose time is ``<=`` the bin centre; bins before the first event are ``"pre"``.
  An event that did not happen in a trial (NaN) is skipped, so the previous label continues.
* **intervals** ``[("fixation", "fix_on", "stim_on"), ("stimulus", "stim_on", "stim_off")]``
  (or a dict ``{"fixation": ("fix_on", "stim_on"), ...}``): a bin is labelled ``label`` when
  ``start_event <= centre < stop_event``; later intervals win where intervals overlap. Bins
  before the first interval's start event are ``"pre"``, other uncovered bins ``"other"``.
  An interval whose start or stop event is NaN in a trial is skipped in that trial.

Padded (invalid) bins get ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alrnn_neuro.errors import ConfigError, EventTableError

PRE_LABEL = "pre"
OTHER_LABEL = "other"
_TOL = 1e-9
RESERVED = {"time", "unit", "input", "spikes", "signal", "inputs", "valid", "observed", "epoch"}
"""Names a trial-table column may not have (names of the canonical dataset)."""


def parse_epochs(epochs: object) -> list[str] | list[tuple[str, str, str]]:
    """Normalise an ``epochs`` argument to an event list or a list of intervals.

    Parameters
    ----------
    epochs : sequence of str, sequence of (label, start_event, stop_event), or mapping
        See the module docstring.

    Returns
    -------
    list of str or list of (str, str, str)

    Examples
    --------
    >>> parse_epochs({"stim": ("stim_on", "stim_off")})
    [('stim', 'stim_on', 'stim_off')]
    """
    if isinstance(epochs, Mapping):
        epochs = [(label, *pair) for label, pair in epochs.items()]
    if isinstance(epochs, str) or not isinstance(epochs, Sequence | np.ndarray) or not len(epochs):
        raise ConfigError(
            f"epochs={epochs!r} is not understood; fix: a list of event names in order, e.g. "
            "['fix_on', 'stim_on', 'go'], or a list of (label, start_event, stop_event)"
        )
    items = list(epochs)
    if all(isinstance(item, str | np.str_) for item in items):
        return [str(item) for item in items]
    if all(not isinstance(item, str) and len(item) == 3 for item in items):
        return [tuple(str(part) for part in item) for item in items]  # type: ignore[misc]
    raise ConfigError(
        f"epochs={epochs!r} mixes forms; fix: either only event names or only "
        "(label, start_event, stop_event) triples"
    )


def epoch_events(spec: list) -> list[str]:
    """Event names used by a parsed epoch spec, in their required temporal order."""
    names: list[str] = []
    for item in spec:
        for name in [item] if isinstance(item, str) else item[1:]:
            if name not in names:
                names.append(name)
    return names


def check_event_order(
    events: Mapping[str, np.ndarray], order: Sequence[str], trial_ids: np.ndarray
) -> None:
    """Raise if the (non-NaN) events of a trial are not in ``order``.

    Parameters
    ----------
    events : mapping of name to ndarray, shape (trial,)
        Event times (any common clock); NaN = did not happen.
    order : sequence of str
        Required order (each event at or after the previous non-NaN one).
    trial_ids : ndarray, shape (trial,)
        Trial ids for the message.
    """
    if len(order) < 2:
        return
    times = np.stack([np.asarray(events[name], float) for name in order], axis=1)
    latest = np.fmax.accumulate(times, axis=1)  # latest earlier event, NaN-skipping
    bad = np.isfinite(times[:, 1:]) & (times[:, 1:] < latest[:, :-1] - _TOL)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        i = rows[0]
        j = int(np.flatnonzero(bad[i])[0]) + 1
        values = ", ".join(f"{name}={times[i, k]:g}" for k, name in enumerate(order))
        raise EventTableError(
            f"events out of order in trials {fmt_ids(trial_ids[rows])}: epochs need "
            f"{' <= '.join(order)}, but trial {trial_ids[i]} has {values} ('{order[j]}' comes "
            "too early); fix: correct the event times, drop those trials, or reorder epochs"
        )


def label_epochs(
    spec: list, events_rel: Mapping[str, np.ndarray], centres: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """Epoch label of every bin.

    Parameters
    ----------
    spec : list
        Output of :func:`parse_epochs`.
    events_rel : mapping of name to ndarray, shape (trial,)
        Event times relative to the alignment event (NaN = did not happen).
    centres : ndarray, shape (time,)
        Bin centres relative to the alignment event.
    valid : ndarray of bool, shape (trial, time)

    Returns
    -------
    ndarray of str, shape (trial, time)

    Examples
    --------
    >>> label_epochs(["a", "b"], {"a": np.array([0.0]), "b": np.array([0.2])},
    ...              np.array([-0.05, 0.05, 0.15, 0.25]), np.ones((1, 4), bool)).tolist()
    [['pre', 'a', 'a', 'b']]
    """
    centres = np.asarray(centres, float)[None, :]
    width = max(len(PRE_LABEL), len(OTHER_LABEL), *(len(s) for s in _labels(spec)))
    labels = np.full(valid.shape, PRE_LABEL, dtype=f"<U{width}")

    def at_or_after(name: str) -> np.ndarray:
        # NaN compares False, so events that did not happen never switch a label
        return centres >= np.asarray(events_rel[name], float)[:, None] - _TOL

    if spec and isinstance(spec[0], str):
        for name in spec:
            labels[at_or_after(name)] = name
    else:
        starts = np.stack([np.asarray(events_rel[s], float) for _, s, _ in spec], axis=1)
        first_start = np.nanmin(np.where(np.isnan(starts), np.inf, starts), axis=1)
        labels[centres >= first_start[:, None] - _TOL] = OTHER_LABEL
        for label, start, stop in spec:
            inside = at_or_after(start) & ~at_or_after(stop)
            inside &= np.isfinite(np.asarray(events_rel[stop], float))[:, None]
            labels[inside] = label
    labels[~valid] = ""
    return labels


def _labels(spec: list) -> list[str]:
    return [item if isinstance(item, str) else item[0] for item in spec]


def fmt_ids(ids: np.ndarray, limit: int = 5) -> str:
    """Format a few ids for a message."""
    ids = np.asarray(ids)
    text = ", ".join(str(i) for i in ids[:limit])
    return f"[{text}{', ...' if ids.size > limit else ''}] ({ids.size} in all)"


def trial_table(trials: object) -> dict[str, np.ndarray]:
    """Normalise a trial table to a dict of 1-D arrays and check ``start``/``stop``.

    Raises
    ------
    EventTableError
        Wrong type, unequal column lengths, no rows, missing/NaN start or stop,
        ``stop <= start``.
    """
    if isinstance(trials, pd.DataFrame):
        table = {str(c): trials[c].to_numpy() for c in trials.columns}
    elif isinstance(trials, Mapping):
        table = {str(k): np.asarray(v) for k, v in trials.items()}
        lengths = {k: (v.shape[0] if v.ndim == 1 else v.shape) for k, v in table.items()}
        if len({str(n) for n in lengths.values()}) > 1:
            raise EventTableError(
                f"trial table columns differ in length: {lengths}; fix: one value per "
                "trial in every column (NaN for events that did not happen)"
            )
    else:
        raise EventTableError(
            f"trials has type {type(trials).__name__}; fix: a pandas DataFrame or a dict of "
            "equal-length 1-D arrays with columns start, stop, <events>, <labels>"
        )
    missing = [c for c in ("start", "stop") if c not in table]
    if missing:
        raise EventTableError(
            f"trial table lacks column(s) {missing}; available: {sorted(table)}; fix: add "
            "'start' and 'stop' (s, session clock) for every trial"
        )
    if len(table["start"]) == 0:
        raise EventTableError("trial table has no rows; fix: give at least one trial")
    for name in ("start", "stop"):
        table[name] = float_column(table, name)
        if not np.isfinite(table[name]).all():
            bad = np.flatnonzero(~np.isfinite(table[name]))
            raise EventTableError(
                f"trial table column '{name}' is NaN/inf in rows {fmt_ids(bad)}; "
                "fix: every trial needs a finite start and stop"
            )
    bad = np.flatnonzero(table["stop"] <= table["start"])
    if bad.size:
        i = bad[0]
        raise EventTableError(
            f"stop <= start in rows {fmt_ids(bad)} (row {i}: start="
            f"{table['start'][i]:g}, stop={table['stop'][i]:g}); fix: stop must be after start"
        )
    return table


def float_column(table: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """Column ``name`` as float64 (event times), or an EventTableError naming it."""
    try:
        return np.asarray(table[name], dtype=float)
    except (TypeError, ValueError) as err:
        raise EventTableError(
            f"trial table column '{name}' is not numeric (e.g. {table[name][0]!r}); "
            "fix: event times in seconds, NaN where the event did not happen"
        ) from err


def trial_ids_of(table: Mapping[str, np.ndarray]) -> np.ndarray:
    """Trial ids: the unique integer ``trial`` column if present, else ``0 .. n-1``."""
    if "trial" not in table:
        return np.arange(len(table["start"]))
    ids = np.asarray(table["trial"])
    if ids.dtype.kind not in "iu" or np.unique(ids).size != ids.size:
        raise EventTableError(
            f"trial table column 'trial' must hold unique integer ids; got dtype {ids.dtype} "
            f"with {ids.size - np.unique(ids).size} duplicates; fix: renumber or drop it"
        )
    return ids


def event_columns(
    table: dict[str, np.ndarray],
    declared: list[str],
    events: Sequence[str] | None,
    ids: np.ndarray,
    labels: Sequence[str] = (),
) -> list[str]:
    """Names of the event columns; converts them to float in ``table`` and checks bounds.

    ``declared`` is ``["start", "stop", align, *epoch_events]``. With ``events=None`` every
    float column whose non-NaN values all lie inside their trial's ``[start, stop]`` is an
    event too, except the columns named in ``labels``; otherwise exactly
    ``declared + events``.

    Raises
    ------
    EventTableError
        A named event is not a column, is not numeric, or lies outside its trial.
    """
    names = list(dict.fromkeys(declared + list(events or [])))
    align = declared[2]  # names[2] only when align is not start or stop (deduplicated)
    missing = [n for n in names[2:] if n not in table and n != align]
    if missing and align in table:  # an unknown align event gets its own message later
        raise EventTableError(
            f"event(s) {missing} named in epochs, events or inputs are not trial-table columns; "
            f"available: {sorted(table)}; fix: rename the columns or the events"
        )
    names = [n for n in names if n in table]
    if events is None:
        for name, values in table.items():
            if name in names or name in labels or name == "trial" or values.dtype.kind != "f":
                continue
            finite = np.isfinite(values)
            inside = (values >= table["start"]) & (values <= table["stop"])
            if finite.any() and np.all(inside | ~finite):
                names.append(name)
    for name in names:
        table[name] = float_column(table, name)
        values = table[name]
        out = np.isfinite(values) & ((values < table["start"]) | (values > table["stop"]))
        if out.any():
            i = np.flatnonzero(out)[0]
            raise EventTableError(
                f"event '{name}' lies outside its trial's [start, stop] in trials "
                f"{fmt_ids(ids[out])} (trial {ids[i]}: {name}={values[i]:g}, "
                f"start={table['start'][i]:g}, stop={table['stop'][i]:g}); fix: correct the "
                "times (session clock, seconds) or extend start/stop"
            )
    return names


def label_columns(table: Mapping[str, np.ndarray], event_names: list[str]) -> dict[str, np.ndarray]:
    """The non-event columns (trial labels), checked against reserved dataset names."""
    labels = {k: v for k, v in table.items() if k not in event_names and k != "trial"}
    clash = sorted(set(labels) & (RESERVED | {f"event_{n}" for n in event_names}))
    if clash:
        raise EventTableError(
            f"trial-table label columns {clash} clash with names of the canonical dataset; "
            "fix: rename them (e.g. add a prefix)"
        )
    return labels

"""Task inputs derived from a trial table: a small spec language, parsed and rendered on bins.

An input channel is declared by a name and a spec (in Python, in an HDF5 file's root attribute
``inputs``, in a CSV folder's ``attrs.json``, or by ``alrnn-neuro convert events --input
NAME=SPEC``):

=================================  ===========================================================
spec                               channel value on a bin (bin centre ``c``)
=================================  ===========================================================
``step(START, STOP)``              1 where ``START <= c < STOP`` (two events)
``pulse(EVENT)``                   1 on the bin that holds ``EVENT``
``pulse(EVENT, DURATION)``         1 on the bins that overlap ``[EVENT, EVENT + DURATION)``
``onehot(LABEL)``                  one channel ``NAME_<level>`` per level of the label column:
                                   1 on every valid bin of the trials with that level
``onehot(LABEL, START, STOP)``     the same, only where ``START <= c < STOP``
``value(COLUMN)``                  the numeric column's value on every valid bin
``value(COLUMN, START, STOP)``     the same, only where ``START <= c < STOP``
=================================  ===========================================================

Any spec may end in ``* FACTOR`` to scale the channel (``value(coherence, stim_on, stim_off)
* 0.01``). Events are trial-table event columns (``start`` and ``stop`` included); an event
that is NaN in a trial leaves the channel 0 in that trial, as does a NaN value. Channels are 0
on padded steps.

Examples
--------
>>> spec = parse_input_spec("motion", "value(coherence, stim_on, stop) * 0.01")
>>> spec.kind, spec.events, spec.column, spec.scale
('value', ('stim_on', 'stop'), 'coherence', 0.01)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alrnn_neuro.errors import ConfigError, EventTableError

KINDS = ("step", "pulse", "onehot", "value")
_TOL = 1e-9
_SPEC = re.compile(
    r"^\s*(?P<kind>\w+)\s*\((?P<args>[^()]*)\)\s*(?:\*\s*(?P<scale>[-+0-9.eE]+))?\s*$"
)
_HELP = (
    "step(START, STOP), pulse(EVENT[, DURATION]), onehot(LABEL[, START, STOP]) or "
    "value(COLUMN[, START, STOP]), optionally followed by '* FACTOR'"
)


@dataclass(frozen=True)
class InputSpec:
    """One declared input: ``kind`` with its ``events``, ``column``, ``duration``, ``scale``."""

    name: str
    kind: str
    events: tuple[str, ...] = ()
    column: str | None = None
    duration: float | None = None
    scale: float = 1.0
    text: str = ""


def parse_input_spec(name: str, spec: str) -> InputSpec:
    """Parse one input spec (see the module docstring for the grammar).

    Parameters
    ----------
    name : str
        Channel name (prefix of the channels of ``onehot``).
    spec : str
        The spec, e.g. ``"step(stim_on, stim_off)"``.

    Returns
    -------
    InputSpec

    Raises
    ------
    ConfigError
        Unknown kind, wrong number of arguments, bad duration or factor.
    """
    name = str(name).strip()
    match = _SPEC.match(str(spec))
    if not name or match is None:
        raise ConfigError(f"input {name!r} = {spec!r} is not understood; fix: NAME={_HELP}")
    kind = match["kind"].lower()
    args = [a.strip() for a in match["args"].split(",")] if match["args"].strip() else []
    try:
        scale = float(match["scale"]) if match["scale"] else 1.0
    except ValueError:
        raise ConfigError(f"input {name!r} = {spec!r}: bad factor; fix: e.g. '* 0.01'") from None
    counts = {"step": (2,), "pulse": (1, 2), "onehot": (1, 3), "value": (1, 3)}
    if kind not in counts or len(args) not in counts[kind] or not all(args):
        raise ConfigError(
            f"input {name!r} = {spec!r}: {kind}() with {len(args)} argument(s) is not a "
            f"known spec; fix: one of {_HELP}"
        )
    text = str(spec).strip()
    if kind == "step":
        return InputSpec(name, kind, events=tuple(args), scale=scale, text=text)
    if kind == "pulse":
        duration = None
        if len(args) == 2:
            try:
                duration = float(args[1])
            except ValueError:
                duration = -1.0
            if not (np.isfinite(duration) and duration > 0):
                raise ConfigError(
                    f"input {name!r} = {spec!r}: DURATION {args[1]!r} must be a positive "
                    "number of seconds; fix: e.g. pulse(go, 0.1)"
                )
        return InputSpec(name, kind, events=(args[0],), duration=duration, scale=scale, text=text)
    return InputSpec(name, kind, events=tuple(args[1:]), column=args[0], scale=scale, text=text)


def parse_input_specs(specs: Mapping[str, str]) -> list[InputSpec]:
    """Parse a mapping ``name -> spec`` (see :func:`parse_input_spec`)."""
    return [parse_input_spec(name, spec) for name, spec in specs.items()]


def spec_events(specs: list[InputSpec]) -> list[str]:
    """Event columns the specs use (to be treated as events of the trial table)."""
    return list(dict.fromkeys(e for spec in specs for e in spec.events))


def render_inputs(
    specs: list[InputSpec],
    table: Mapping[str, np.ndarray],
    events_rel: Mapping[str, np.ndarray],
    centres: np.ndarray,
    bin_size: float,
    valid: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Evaluate input specs on the bins of every trial.

    Parameters
    ----------
    specs : list of InputSpec
    table : mapping of name to ndarray (trial,)
        The trial table (label and value columns).
    events_rel : mapping of name to ndarray (trial,)
        Event times relative to the alignment event (NaN = did not happen).
    centres : ndarray (time,)
        Bin centres relative to the alignment event.
    bin_size : float
        Bin width in seconds.
    valid : ndarray of bool (trial, time)

    Returns
    -------
    inputs : ndarray of float32 (trial, time, input)
        0 on padded steps.
    names : list of str
        Channel names (``onehot`` expands to ``NAME_<level>``).

    Raises
    ------
    EventTableError
        A spec names an unknown event or column, or ``value`` a non-numeric column.
    """
    channels: list[np.ndarray] = []
    names: list[str] = []
    for spec in specs:
        window = _window(spec, events_rel, centres, bin_size, table)
        if spec.kind in ("step", "pulse"):
            own, own_names = [window.astype(float)], [spec.name]
        elif spec.kind == "value":
            own, own_names = [np.nan_to_num(_numeric(spec, table))[:, None] * window], [spec.name]
        else:
            labels = _column(spec, table).astype(str)
            levels = np.unique(labels)
            own = [((labels == level)[:, None] & window).astype(float) for level in levels]
            own_names = [f"{spec.name}_{level}" for level in levels]
        channels += [channel * spec.scale for channel in own]
        names += own_names
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"input channels {repeated} are declared twice; fix: rename one")
    shape = (*valid.shape, len(channels))
    out = np.stack(channels, axis=-1) if channels else np.zeros(shape)
    out = np.where(valid[:, :, None], out, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out.astype(np.float32), names


def _window(spec, events_rel, centres, bin_size, table) -> np.ndarray:
    """(trial, time) bool: the bins the spec is active on (before value / label)."""
    n_trials = len(next(iter(table.values())))
    times = [_event(spec, name, events_rel, table) for name in spec.events]
    c = np.asarray(centres, float)[None, :]
    if spec.kind == "pulse":
        onset = times[0][:, None]
        left, right = c - bin_size / 2, c + bin_size / 2
        if spec.duration is None:
            return (left <= onset + _TOL * bin_size) & (onset < right - _TOL * bin_size)
        return (right > onset + _TOL * bin_size) & (left < onset + spec.duration - _TOL)
    if not times:
        return np.ones((n_trials, c.size), bool)
    start, stop = times[0][:, None], times[1][:, None]
    return (c >= start - _TOL) & (c < stop - _TOL)  # NaN compares False: channel stays 0


def _event(spec, name, events_rel, table) -> np.ndarray:
    if name not in events_rel:
        raise EventTableError(
            f"input {spec.name!r} = {spec.text!r}: event {name!r} is not an event column of "
            f"the trial table; events: {sorted(events_rel)}; fix: use one of them (label "
            "columns go into onehot()/value())"
        )
    return np.asarray(events_rel[name], float)


def _column(spec, table) -> np.ndarray:
    if spec.column not in table:
        raise EventTableError(
            f"input {spec.name!r} = {spec.text!r}: column {spec.column!r} is not in the trial "
            f"table; columns: {sorted(table)}; fix: name one of them"
        )
    return np.asarray(table[spec.column])


def _numeric(spec, table) -> np.ndarray:
    values = _column(spec, table)
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        raise EventTableError(
            f"input {spec.name!r} = {spec.text!r}: column {spec.column!r} is not numeric (e.g. "
            f"{values[0]!r}); fix: value() needs numbers, onehot() takes labels"
        ) from None

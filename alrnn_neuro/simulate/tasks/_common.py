"""Shared pieces of the task generators: argument checks, epoch timelines, dataset assembly.

Every task generator draws per-trial epoch durations (in steps), lays the trials on one
step grid (:func:`epoch_timeline`), fills ``inputs`` / ``targets`` / ``loss_mask`` with
numpy indexing over all trials at once, and hands the arrays to :func:`task_dataset`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError

#: the 11-task suite (after Yang et al., Nat Neurosci 2019): names, time step, outputs
BIN_SIZE = 0.02
SUITE = (
    "DelayPro",
    "DelayAnti",
    "ReactPro",
    "ReactAnti",
    "CatPro",
    "CatAnti",
    "Match2Sample",
    "NonMatch2Sample",
    "CtxIntMod1",
    "CtxIntMod2",
    "GoNogo",
)
OUTPUT_NAMES = ("fixation", "cos", "sin")

SOURCE = "alrnn_neuro.simulate.tasks"
VARIANTS = ("short", "study")
"""Task definitions: the toolbox's quick versions, and the AL-RNN study's code's versions."""


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[low, high]``; else raise ConfigError."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name}={value!r}; fix: an integer {bound}")
    return int(value)


def check_float(name: str, value: object, low: float, high: float | None = None) -> float:
    """Return ``value`` as float if it is a finite real in ``[low, high]``; else raise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name}={value!r}; fix: a number {bound}")
    return float(value)


def check_steps(name: str, value: object, low: int = 0) -> tuple[int, int]:
    """Normalise a duration in steps: an int ``d`` or an inclusive range ``(lo, hi)``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    bad = ConfigError(
        f"{name}={value!r}; fix: an integer >= {low} (steps) or a range (lo, hi) of integers "
        f"with {low} <= lo <= hi"
    )
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise bad
    lo, hi = value
    for item in (lo, hi):
        if not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise bad
    if not low <= lo <= hi:
        raise bad
    return int(lo), int(hi)


def check_variant(variant: object) -> str:
    """Return ``variant`` if it is one of :data:`VARIANTS`; else raise ConfigError."""
    if variant not in VARIANTS:
        raise ConfigError(
            f"variant={variant!r}; fix: one of {list(VARIANTS)} ('short': the toolbox's quick "
            "versions, 'study': the AL-RNN study's definitions)"
        )
    return str(variant)


def check_common(n_trials: object, seed: object) -> np.random.Generator:
    """Check ``n_trials`` (>= 1) and ``seed`` (>= 0); return the trial generator's RNG."""
    check_int("n_trials", n_trials, 1)
    check_int("seed", seed, 0)
    return np.random.default_rng(seed)


def draw_steps(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    """Draw ``n`` durations uniformly from the inclusive integer range ``bounds``."""
    return rng.integers(bounds[0], bounds[1] + 1, n)


@dataclass(frozen=True)
class Timeline:
    """Trials laid on one step grid, epochs in a fixed order.

    Attributes
    ----------
    names : tuple of str
        Epoch names, in order.
    index : ndarray of int, shape (trial, time)
        Epoch index of each step (``len(names)`` on padded steps).
    valid : ndarray of bool, shape (trial, time)
        Step lies inside its trial.
    onset : ndarray of int, shape (trial, epoch)
        First step of each epoch (equals the next onset when the epoch has zero length).
    length : ndarray of int, shape (trial, epoch)
        Steps per epoch.
    """

    names: tuple[str, ...]
    index: np.ndarray
    valid: np.ndarray
    onset: np.ndarray
    length: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """Epoch label of every step (``""`` on padded steps), shape (trial, time)."""
        return np.array([*self.names, ""])[self.index]

    def mask(self, name: str) -> np.ndarray:
        """Bool (trial, time) mask of the steps of epoch ``name``."""
        return self.index == self.names.index(name)

    def step_in_epoch(self, name: str) -> np.ndarray:
        """Steps since the onset of epoch ``name`` (negative before it), shape (trial, time)."""
        t = np.arange(self.index.shape[1])
        return t[None, :] - self.onset[:, self.names.index(name), None]


def epoch_timeline(lengths: np.ndarray, names: Sequence[str]) -> Timeline:
    """Lay trials with per-epoch step counts ``lengths`` (trial, epoch) on one grid."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths, axis=1)
    n_time = int(ends[:, -1].max())
    t = np.arange(n_time)[None, :, None]
    index = (t >= ends[:, None, :]).sum(axis=2)
    return Timeline(tuple(names), index, index < len(names), ends - lengths, lengths)


def one_hot(index: np.ndarray, n: int) -> np.ndarray:
    """One-hot float32 encoding along a new last axis."""
    return (np.asarray(index)[..., None] == np.arange(n)).astype(np.float32)


def event_coords(timeline: Timeline, bin_size: float) -> dict[str, np.ndarray]:
    """``event_<epoch>`` = epoch onset (s after trial start); NaN where the epoch is absent."""
    onset = np.where(timeline.length > 0, timeline.onset * bin_size, np.nan)
    return {f"event_{name}": onset[:, k] for k, name in enumerate(timeline.names)}


def provenance(params: Mapping[str, object]) -> dict[str, object]:
    """Flatten parameters to attrs-safe scalars/strings (ranges -> ``_min`` / ``_max``)."""
    attrs: dict[str, object] = {}
    for key, value in params.items():
        if value is None:
            attrs[key] = "none"
        elif isinstance(value, bool | np.bool_):
            attrs[key] = int(value)
        elif isinstance(value, str | numbers.Number):
            attrs[key] = value
        elif isinstance(value, Mapping):
            attrs.update(provenance({f"{key}_{k}": v for k, v in value.items()}))
        elif isinstance(value, Sequence) and len(value) == 2:
            attrs[f"{key}_min"], attrs[f"{key}_max"] = value
        else:
            attrs[key] = ",".join(str(v) for v in value)  # type: ignore[union-attr]
    return attrs


def task_dataset(
    *,
    task: str,
    targets: np.ndarray,
    inputs: np.ndarray,
    input_names: Sequence[str],
    output_names: Sequence[str],
    timeline: Timeline,
    loss_mask: np.ndarray,
    task_loss: str,
    bin_size: float,
    trial_coords: Mapping[str, np.ndarray],
    params: Mapping[str, object],
    variant: str = "short",
) -> xr.Dataset:
    """Assemble and validate a canonical task dataset aligned to trial ``start``.

    Padded steps are zeroed in ``inputs`` / ``targets`` and dropped from ``loss_mask``;
    ``attrs`` get ``task``, ``variant`` (``"short"``: the toolbox's version, ``"study"``: the
    AL-RNN study's definition) plus the flattened ``params`` (provenance).
    """
    valid = timeline.valid
    coords = {"task": np.full(valid.shape[0], task), **trial_coords}
    coords.update(event_coords(timeline, bin_size))
    ds = make_dataset(
        (targets * valid[..., None] + 0.0).astype(np.float32),  # + 0.0: no negative zeros
        kind="targets",
        inputs=(inputs * valid[..., None] + 0.0).astype(np.float32),
        input_names=list(input_names),
        output_names=list(output_names),
        valid=valid,
        epoch=timeline.labels,
        loss_mask=loss_mask & valid,
        task_loss=task_loss,
        bin_size=bin_size,
        align_event="start",
        trial_coords=coords,
        source=f"{SOURCE} ({task})",
    )
    ds.attrs.update(task=task, variant=variant, **provenance(params))
    return ds


def pad_time(ds: xr.Dataset, n_time: int) -> xr.Dataset:
    """Pad a start-aligned task dataset at the end to ``n_time`` steps.

    Padded steps hold 0 (numbers), False (masks) and "" (epoch), as the schema requires; the
    ``time`` coord is extended on the same grid.
    """
    extra = n_time - ds.sizes["time"]
    if extra < 0:
        raise ConfigError(f"n_time={n_time} < the dataset's {ds.sizes['time']} steps; fix: >=")
    if extra == 0:
        return ds
    data_vars = {}
    for name, var in ds.data_vars.items():
        if "time" in var.dims:
            widths = [(0, extra if dim == "time" else 0) for dim in var.dims]
            fill = "" if var.dtype.kind == "U" else np.zeros((), var.dtype)[()]
            var = xr.Variable(var.dims, np.pad(var.values, widths, constant_values=fill), var.attrs)
        data_vars[name] = var
    coords = {name: c.variable for name, c in ds.coords.items() if name != "time"}
    coords["time"] = (np.arange(n_time) + 0.5) * float(ds.attrs["bin_size"])
    return xr.Dataset(data_vars, coords=coords, attrs=dict(ds.attrs))

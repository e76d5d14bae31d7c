"""Regime (linear-region) usage of AL-RNN latent trajectories.

Every step of an AL-RNN lies in one linear region, named by its *bitcode*: the sign pattern
``d = (z_{M-P+1} > 0, ..., z_M > 0)`` of the P piecewise-linear (PWL) units, read as a binary
number whose most significant bit is the *first* PWL unit. All functions take the bitcode as
an :class:`xarray.DataArray` with dims ``(trial, time)`` and an optional boolean ``valid``
mask of the same dims (padded steps are ignored); without ``valid``, negative codes mark
padding. P = 0 models have a single region (code 0) and every function still works.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.checks import bin_size_of, check_bitcode, check_epoch
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import bitcode, code_bits, region_labels

logger = logging.getLogger(__name__)

__all__ = [
    "bit_flips",
    "bitcode_from_latents",
    "dwell_times",
    "nonlinearity_usage",
    "region_usage",
    "transition_counts",
    "transition_matrix",
]


def bitcode_from_latents(latents: xr.DataArray, n_pwl: int) -> xr.DataArray:
    """Bitcode of each latent state, labelled: :func:`alrnn_neuro.models.params.bitcode`.

    Parameters
    ----------
    latents : DataArray, dims (..., latent)
        Latent states z (e.g. dims ``(trial, time, latent)``).
    n_pwl : int
        Number of PWL units P (the last P entries of ``latent``), 0 <= P <= 62.

    Returns
    -------
    DataArray of int64, dims of ``latents`` without ``latent``
        ``sum_j [z_{M-P+j} > 0] * 2**(P-1-j)``; -1 where a latent is NaN (padding).
    """
    if "latent" not in latents.dims:
        raise DataValidationError(
            f"latents must have a 'latent' dim; got dims {latents.dims}. Fix: name the state dim "
            "'latent'."
        )
    codes = bitcode(latents.transpose(..., "latent").values, n_pwl)
    dims = [d for d in latents.dims if d != "latent"]
    coords = {k: v for k, v in latents.coords.items() if "latent" not in v.dims}
    return xr.DataArray(codes, dims=dims, coords=coords, name="bitcode")


def _run_bounds(codes: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row-major (trial, start, stop) indices of runs of equal code on valid steps."""
    pad = np.full((codes.shape[0], 1), False)
    prev_same = np.concatenate([pad, ok[:, 1:] & ok[:, :-1] & (codes[:, 1:] == codes[:, :-1])], 1)
    next_same = np.concatenate([prev_same[:, 1:], pad], 1)
    trial_s, start = np.nonzero(ok & ~prev_same)
    _, stop = np.nonzero(ok & ~next_same)
    return trial_s, start, stop


def dwell_times(bitcode: xr.DataArray, valid: xr.DataArray | None = None) -> xr.Dataset:
    """Runs of consecutive valid steps in the same region (dwell periods).

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional

    Returns
    -------
    Dataset, dim ``run``
        ``trial`` (trial id), ``region`` (code), ``start_time`` (s, bin centre of the first
        step), ``n_steps``, ``duration`` (s = n_steps * bin_size) and ``censored`` (True where
        the run touches the first or last valid step of its trial, so its length is a lower
        bound).
    """
    codes, ok = check_bitcode(bitcode, valid)
    trial_i, start, stop = _run_bounds(codes, ok)
    first = np.argmax(ok, axis=1)
    last = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    n_steps = stop - start + 1
    trial_ids = bitcode["trial"].values if "trial" in bitcode.coords else np.arange(len(ok))
    times = bitcode["time"].values if "time" in bitcode.coords else np.arange(ok.shape[1])
    return xr.Dataset(
        {
            "trial": ("run", trial_ids[trial_i]),
            "region": ("run", codes[trial_i, start]),
            "start_time": ("run", times[start]),
            "n_steps": ("run", n_steps),
            "duration": ("run", n_steps * bin_size_of(bitcode)),
            "censored": ("run", (start == first[trial_i]) | (stop == last[trial_i])),
        },
        attrs={"bin_size": bin_size_of(bitcode)},
    )


def region_usage(
    bitcode: xr.DataArray, valid: xr.DataArray | None = None, *, n_pwl: int | None = None
) -> xr.Dataset:
    """How often each region is visited, sorted from most to least used.

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional
    n_pwl : int, optional
        Number of PWL units P; adds a ``bits`` coord (e.g. ``"0101"``) and ``n_regions_total``.

    Returns
    -------
    Dataset, dim ``region`` (codes, most used first)
        ``count`` (valid steps), ``frequency`` (fraction of valid steps), ``coverage``
        (cumulative frequency of the k most used regions, k = ``rank``), ``mean_dwell`` (mean
        run length in steps, censored runs included); scalars ``n_regions_used``,
        ``n_valid_steps``, ``entropy_bits`` (Shannon entropy of the frequencies),
        ``n_regions_90`` (fewest regions covering >= 90 % of steps). attrs (the model):
        ``n_regions_total`` (2^P, with ``n_pwl``).

    Examples
    --------
    >>> bitcode = xr.DataArray([[3, 3, 1, -1]], dims=("trial", "time"))
    >>> use = region_usage(bitcode, n_pwl=2)
    >>> use.region.values.tolist(), use.bits.values.tolist(), use.frequency.values.round(2).tolist()
    ([3, 1], ['11', '01'], [0.67, 0.33])
    """
    codes, ok = check_bitcode(bitcode, valid)
    if not ok.any():
        raise DataValidationError("bitcode has no valid steps. Fix: check the valid mask.")
    regions, counts = np.unique(codes[ok], return_counts=True)
    order = np.lexsort((regions, -counts))
    regions, counts = regions[order], counts[order]
    freq = counts / counts.sum()
    runs = dwell_times(bitcode, valid)
    pos = np.argsort(regions)
    idx = pos[np.searchsorted(regions[pos], runs["region"].values)]
    run_n = np.bincount(idx, minlength=len(regions))
    mean_dwell = np.bincount(idx, runs["n_steps"].values, len(regions)) / np.maximum(run_n, 1)
    coords = {"region": regions, "rank": ("region", np.arange(1, len(regions) + 1))}
    attrs = {}
    if n_pwl is not None:
        coords["bits"] = ("region", region_labels(regions, n_pwl))
        attrs["n_regions_total"] = 2**n_pwl
        if n_pwl == 0:
            attrs["note"] = "P = 0: linear RNN, a single region (code 0)"
    data = {
        "count": ("region", counts),
        "frequency": ("region", freq),
        "coverage": ("region", np.cumsum(freq)),
        "mean_dwell": ("region", mean_dwell),
        "n_regions_used": len(regions),
        "n_valid_steps": int(counts.sum()),
        "entropy_bits": float(-(freq * np.log2(freq)).sum()),
        "n_regions_90": int(np.searchsorted(np.cumsum(freq), 0.9 - 1e-12) + 1),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def transition_matrix(
    bitcode: xr.DataArray,
    valid: xr.DataArray | None = None,
    *,
    regions: np.ndarray | None = None,
    max_regions: int | None = 1000,
) -> xr.Dataset:
    """Region-to-region transitions between consecutive valid steps of the same trial.

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional
    regions : array of int, optional
        Regions to keep (default: all used ones, most used first); others become ``-1``
        ("other").
    max_regions : int or None
        Keep at most this many most-used regions (the rest pooled into ``-1``), bounding the
        dense matrix; None keeps all.

    Returns
    -------
    Dataset, dims (region_from, region_to)
        ``count`` (transitions, self-transitions included) and ``probability`` (row-normalised
        counts, NaN for rows without transitions).
    """
    codes, ok = check_bitcode(bitcode, valid)
    if regions is None:
        regions = region_usage(bitcode, valid)["region"].values
        if max_regions is not None and len(regions) > max_regions:
            logger.info(
                "transition_matrix: pooling %d rare regions into -1", len(regions) - max_regions
            )
            regions = regions[:max_regions]
    pair = ok[:, 1:] & ok[:, :-1]
    return transition_counts(codes[:, :-1][pair], codes[:, 1:][pair], regions)


def transition_counts(src: np.ndarray, dst: np.ndarray, regions: np.ndarray) -> xr.Dataset:
    """Count and probability matrices of (src -> dst) region pairs.

    Parameters
    ----------
    src, dst : ndarray of int, shape (pair,)
        Region codes before and after each transition.
    regions : ndarray of int
        Regions to keep, in order; codes outside them are pooled into ``-1`` ("other").

    Returns
    -------
    Dataset, dims (region_from, region_to)
        ``count``, ``probability`` (row-normalised; NaN for rows without transitions) and
        scalars ``n_transitions``, ``n_switches`` (pairs with src != dst).
    """
    regions = np.asarray(regions, dtype=np.int64)
    known = np.isin(src, regions) & np.isin(dst, regions)
    labels = regions if known.all() else np.r_[regions, -1]
    n, pos = len(labels), np.argsort(regions)

    def index(x: np.ndarray) -> np.ndarray:
        found = np.isin(x, regions)
        out = np.full(x.shape, n - 1, dtype=np.int64)
        out[found] = pos[np.searchsorted(regions[pos], x[found])]
        return out

    count = np.bincount(index(src) * n + index(dst), minlength=n * n).reshape(n, n)
    rows = count.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.where(rows > 0, count / rows, np.nan)
    dims = ("region_from", "region_to")
    return xr.Dataset(
        {
            "count": (dims, count),
            "probability": (dims, prob),
            "n_transitions": int(count.sum()),
            "n_switches": int((src != dst).sum()),
        },
        coords={"region_from": labels, "region_to": labels},
    )


def bit_flips(bitcode: xr.DataArray, valid: xr.DataArray | None = None) -> xr.DataArray:
    """Number of PWL units that change sign from the previous step (Hamming distance).

    Returns
    -------
    DataArray of float, dims (trial, time)
        NaN on the first valid step of each trial and on steps without a valid predecessor;
        ``attrs['mean_flips_per_step']`` averages over the defined steps.
    """
    codes, ok = check_bitcode(bitcode, valid)
    flips = np.full(codes.shape, np.nan)
    pair = ok[:, 1:] & ok[:, :-1]
    flips[:, 1:][pair] = np.bitwise_count(codes[:, 1:][pair] ^ codes[:, :-1][pair])
    mean = float(np.nanmean(flips)) if pair.any() else float("nan")
    out = xr.DataArray(flips, dims=("trial", "time"), name="bit_flips")
    out = out.assign_coords(
        {k: v for k, v in bitcode.coords.items() if set(v.dims) <= {"trial", "time"}}
    )
    out.attrs["mean_flips_per_step"] = mean
    return out


def nonlinearity_usage(
    bitcode: xr.DataArray,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    *,
    n_pwl: int,
    n_latent: int,
) -> xr.Dataset:
    """Where the nonlinearity is used: PWL units active (positive) or switching sign.

    A step is *active* if any PWL unit is positive (code != 0) and *switching* if its code
    differs from the previous valid step's (at least one PWL unit crossed zero: the only
    place where the rectification changes the map).

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional
    epoch : DataArray of str, dims (trial, time), optional
        Epoch labels; adds per-epoch fractions (steps with label ``""`` are skipped).
    n_pwl, n_latent : int
        P and M of the model.

    Returns
    -------
    Dataset
        ``unit_active_fraction`` (pwl_unit); scalars ``fraction_active_steps``,
        ``fraction_switching_steps`` (over steps with a valid predecessor); with ``epoch``:
        ``epoch_fraction_active`` / ``epoch_fraction_switching`` (epoch) over steps and
        ``segment_fraction_active`` / ``segment_fraction_switching`` (epoch): the fraction of
        (trial, epoch) segments with at least one active / switching step. attrs:
        ``nonlinear_ops_per_step`` (= P), ``full_plrnn_ops_per_step`` (= M), ``ops_ratio`` (P/M).
    """
    codes, ok = check_bitcode(bitcode, valid)
    active = ok & (codes != 0)
    has_prev = np.zeros_like(ok)
    has_prev[:, 1:] = ok[:, 1:] & ok[:, :-1]
    switching = np.zeros_like(ok)
    switching[:, 1:] = has_prev[:, 1:] & (codes[:, 1:] != codes[:, :-1])
    bits = code_bits(codes[ok], n_pwl)
    unit_frac = bits.mean(0) if len(bits) else np.full(n_pwl, np.nan)
    data = {
        "unit_active_fraction": ("pwl_unit", unit_frac),
        "fraction_active_steps": active.sum() / max(ok.sum(), 1),
        "fraction_switching_steps": switching.sum() / max(has_prev.sum(), 1),
    }
    coords = {"pwl_unit": np.arange(n_latent - n_pwl, n_latent)}
    if epoch is not None:
        labels = check_epoch(epoch, codes.shape)
        names = [e for e in dict.fromkeys(labels[ok].tolist()) if e != ""]
        stats = {k: [] for k in ("ea", "es", "sa", "ss")}
        for name in names:
            m = ok & (labels == name)
            seg = m.any(1)
            stats["ea"].append(active[m].mean())
            stats["es"].append(switching[m].sum() / max((has_prev & m).sum(), 1))
            stats["sa"].append((active & m).any(1)[seg].mean())
            stats["ss"].append((switching & m).any(1)[seg].mean())
        coords["epoch"] = names
        data |= {
            "epoch_fraction_active": ("epoch", np.array(stats["ea"], float)),
            "epoch_fraction_switching": ("epoch", np.array(stats["es"], float)),
            "segment_fraction_active": ("epoch", np.array(stats["sa"], float)),
            "segment_fraction_switching": ("epoch", np.array(stats["ss"], float)),
        }
    attrs = {
        "nonlinear_ops_per_step": n_pwl,
        "full_plrnn_ops_per_step": n_latent,
        "ops_ratio": n_pwl / n_latent if n_latent else float("nan"),
    }
    if n_pwl == 0:
        attrs["note"] = "P = 0: linear RNN, no nonlinear operations, a single region"
    return xr.Dataset(data, coords=coords, attrs=attrs)

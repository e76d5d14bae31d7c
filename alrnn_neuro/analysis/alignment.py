"""Regimes versus task structure: epochs, trial conditions, event-locked switches.

All functions take the bitcode as a DataArray (trial, time) carrying the dataset's trial
coords (``rule``, ``choice``, ``event_<name>``, ...), as ``latents.nc`` of a run does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import gammaln
from sklearn.metrics import adjusted_mutual_info_score

from alrnn_neuro._grouping import contingency
from alrnn_neuro.analysis.checks import bin_size_of, check_bitcode, check_epoch, trial_variable
from alrnn_neuro.analysis.regimes import region_usage, transition_counts
from alrnn_neuro.errors import DataValidationError

logger = logging.getLogger(__name__)

__all__ = [
    "alignment_scores",
    "epoch_transition_graphs",
    "latency_by_condition",
    "region_condition_table",
    "region_epoch_table",
    "switch_latency",
]


def _table(
    a: np.ndarray, b: np.ndarray, b_order: list | None = None
) -> tuple[np.ndarray, list, np.ndarray]:
    ua, ia = np.unique(a, return_inverse=True)
    ub = list(dict.fromkeys(b.tolist())) if b_order is None else b_order
    ib = pd.Index(ub).get_indexer(b)
    counts = contingency(ia[ib >= 0], ib[ib >= 0], len(ua), len(ub))
    return ua, ub, counts


def region_epoch_table(
    bitcode: xr.DataArray, epoch: xr.DataArray, valid: xr.DataArray | None = None
) -> xr.DataArray:
    """Contingency table of valid steps: region x epoch (``""`` labels skipped).

    Returns
    -------
    DataArray of int, dims (region, epoch)
    """
    codes, ok = check_bitcode(bitcode, valid)
    lab = check_epoch(epoch, codes.shape)
    keep = ok & (lab != "")
    regions, names, counts = _table(codes[keep], lab[keep])
    return xr.DataArray(
        counts, dims=("region", "epoch"), coords={"region": regions, "epoch": names}, name="count"
    )


def region_condition_table(
    bitcode: xr.DataArray,
    condition: str | xr.DataArray,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
) -> xr.DataArray:
    """Contingency table of valid steps: region x level of a trial variable (x epoch).

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    condition : str or DataArray, dims (trial,)
        Trial coord name (``"rule"``, ``"choice"``, ``"correct"``...) or values.
    valid : DataArray of bool, dims (trial, time), optional
    epoch : DataArray of str, dims (trial, time), optional
        Adds an ``epoch`` dim.

    Returns
    -------
    DataArray of int, dims (region, <condition>) or (region, <condition>, epoch)
    """
    codes, ok = check_bitcode(bitcode, valid)
    name, values = trial_variable(bitcode, condition)
    per_step = np.broadcast_to(np.asarray(values).astype(str)[:, None], codes.shape)
    if epoch is None:
        regions, levels, counts = _table(codes[ok], per_step[ok])
        return xr.DataArray(counts, dims=("region", name), coords={"region": regions, name: levels})
    lab = check_epoch(epoch, codes.shape)
    keep = ok & (lab != "")
    names = list(dict.fromkeys(lab[keep].tolist()))
    regions = np.unique(codes[ok])
    levels = list(dict.fromkeys(per_step[keep].tolist()))
    out = np.zeros((len(regions), len(levels), len(names)), np.int64)
    for e, en in enumerate(names):
        m = keep & (lab == en)
        r, lv, cnt = _table(codes[m], per_step[m], levels)
        out[np.searchsorted(regions, r), :, e] = cnt
    return xr.DataArray(
        out,
        dims=("region", name, "epoch"),
        coords={"region": regions, name: levels, "epoch": names},
    )


def _circular_index(
    ok: np.ndarray, rng: np.random.Generator, lags: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Index into ``x[ok]`` that circularly shifts each trial's valid steps by a random lag.

    ``lags`` (from :func:`_transition_preserving_lags`) restricts each trial's lag to those
    that keep its region transitions; default: any lag 1..L-1.
    """
    lengths = ok.sum(1)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    rank = np.arange(lengths.sum()) - starts
    if lags is None:
        lag = rng.integers(1, np.maximum(lengths, 2))
    else:
        flat, counts = lags
        offsets = np.cumsum(counts) - counts
        pick = offsets + rng.integers(0, np.maximum(counts, 1))
        lag = np.where(counts > 0, flat[np.minimum(pick, max(flat.size - 1, 0))], 0)
    shift = np.repeat(lag, lengths)
    return starts + (rank - shift) % np.repeat(np.maximum(lengths, 1), lengths)


def _transition_preserving_lags(codes: np.ndarray, ok: np.ndarray):
    """Per trial, the lag 0 and the lags s in 1..L-1 of its valid steps x with
    (x[L-1-s], x[L-s]) == (x[L-1], x[0]).

    Rotating by such a lag cuts the same pair of successive regions that joining the trial's
    end to its start adds, so the shifted sequence has exactly the observed transitions. A
    plain rotation adds a switch at the join and makes persistent region sequences look less
    persistent than they are, which made the circular-shift null too narrow (rejection rate
    0.083 at alpha 0.05 with dwell times of about one epoch; tests/test_claim_calibration.py).
    The identity (lag 0) is one of the draws: the observed sequence is then one uniformly
    drawn member of the set it is compared with, which keeps the test valid when a trial has
    few such lags.

    Returns
    -------
    flat : ndarray
        The allowed lags of all trials, concatenated.
    counts : ndarray, shape (trial,)
        How many belong to each trial.
    """
    allowed = []
    for row, m in zip(codes, ok, strict=True):
        x = row[m]
        n = x.size
        s = np.arange(1, n)
        keep = s[(x[n - 1 - s] == x[-1]) & (x[n - s] == x[0])] if n >= 2 else s
        allowed.append(np.concatenate([[0], keep]))
    counts = np.array([a.size for a in allowed])
    flat = np.concatenate(allowed) if allowed else np.zeros(0, int)
    return flat.astype(int), counts


def _emi(a: np.ndarray, b: np.ndarray) -> float:
    """Expected mutual information (nats) of two labelings with marginal counts a, b.

    Same quantity as scikit-learn's ``expected_mutual_information`` (hypergeometric model),
    vectorised over the (i, j, n_ij) terms, skipping tails of probability < 1e-17.
    """
    n = int(a.sum())
    ai, bj = np.repeat(a, len(b)), np.tile(b, len(a))
    lo, hi = np.maximum(1, ai + bj - n), np.minimum(ai, bj)
    # Hoeffding: P(|n_ij - mean| >= t) <= 2 exp(-2 t^2 / min(a, b)); t below keeps < 1e-17.
    mean, t = ai * bj / n, np.ceil(np.sqrt(20.0 * np.minimum(ai, bj))) + 1
    lo = np.maximum(lo, np.floor(mean - t)).astype(np.int64)
    hi = np.minimum(hi, np.ceil(mean + t)).astype(np.int64)
    sizes = np.maximum(hi - lo + 1, 0)
    cell = np.repeat(np.arange(len(ai)), sizes)
    nij = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes) + lo[cell]
    A, B = ai[cell].astype(float), bj[cell].astype(float)
    log_p = (
        gammaln(A + 1)
        + gammaln(B + 1)
        + gammaln(n - A + 1)
        + gammaln(n - B + 1)
        - gammaln(n + 1)
        - gammaln(nij + 1)
        - gammaln(A - nij + 1)
        - gammaln(B - nij + 1)
        - gammaln(n - A - B + nij + 1)
    )
    return float(np.sum(nij / n * (np.log(n * nij) - np.log(A * B)) * np.exp(log_p)))


def _ami(x: np.ndarray, y: np.ndarray, cache: dict) -> float:
    """Adjusted mutual information (arithmetic normaliser) of integer labelings x, y.

    Equals ``sklearn.metrics.adjusted_mutual_info_score`` (tested); caches the expected MI by
    marginals so null draws with unchanged marginals cost one contingency table.
    """
    nx, ny = int(x.max()) + 1, int(y.max()) + 1
    table = np.bincount(x * ny + y, minlength=nx * ny).reshape(nx, ny)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    a, b, n = table.sum(1), table.sum(0), table.sum()
    if len(a) == len(b) == 1 or n == 0:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return 0.0
    nz = table[table > 0]
    outer = np.outer(a, b)[table > 0]
    mi = float(np.sum(nz / n * (np.log(nz) + np.log(n) - np.log(outer))))
    h = [float(-np.sum(m / n * np.log(m / n))) for m in (a, b)]
    key = (a.tobytes(), b.tobytes())
    if key not in cache:
        cache[key] = _emi(a, b)
    emi = cache[key]
    denom = np.mean(h) - emi
    eps = np.finfo(float).eps
    denom = min(denom, -eps) if denom < 0 else max(denom, eps)
    numer = mi - emi  # clipped like scikit-learn, so a 0/0 perfect match gives 1
    numer = min(numer, -eps) if numer < 0 else max(numer, eps)
    return numer / denom


def alignment_scores(
    bitcode: xr.DataArray,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    trial_variables: Sequence[str] = (),
    *,
    per_epoch: bool = True,
    n_null: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Adjusted mutual information between the region of each step and task labels.

    For ``epoch`` (step label) the null circularly shifts each trial's bitcode over its valid
    steps (keeps dwell statistics, breaks alignment with the epochs). For a trial variable
    (e.g. ``rule``) the null shuffles the labels across trials; within one epoch
    (``per_epoch``) the circular null applies too (it tests epoch specificity); over all steps
    it cannot change the score and is reported as NaN. p = (1 + #{null >= obs}) / (1 + n_null).

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional
    epoch : DataArray of str, dims (trial, time), optional
    trial_variables : sequence of str
        Trial coords of ``bitcode`` to score (trials with missing labels are dropped).
    per_epoch : bool
        Also score each trial variable within each epoch.
    n_null : int
        Null draws per score.
    seed : int

    Returns
    -------
    DataFrame
        Columns ``variable``, ``epoch`` ("all" or the epoch), ``ami``, ``n_steps``,
        ``null_circular_mean``, ``p_circular``, ``null_shuffle_mean``, ``p_shuffle``, ``n_null``.
    """
    codes, ok = check_bitcode(bitcode, valid)
    rng = np.random.default_rng(seed)
    lags = _transition_preserving_lags(codes, ok)
    nulls = [_circular_index(ok, rng, lags) for _ in range(n_null)]
    flat = np.unique(codes[ok], return_inverse=True)[1]
    trial_of = np.nonzero(ok)[0]
    lab = check_epoch(epoch, codes.shape)[ok] if epoch is not None else None
    cache: dict = {}
    rows = []

    def score(labels, mask, circular, per_trial=None, present=None):
        """labels: (n_valid_steps,) str; mask: steps scored; per_trial: labels to shuffle."""
        codes_lab = np.unique(labels, return_inverse=True)[1]
        obs = float(adjusted_mutual_info_score(labels[mask], flat[mask])) if mask.any() else np.nan
        row = {"ami": obs, "n_steps": int(mask.sum()), "n_null": n_null}
        for kind, on in (("circular", circular), ("shuffle", per_trial is not None)):
            if not on or not mask.any() or n_null == 0:
                row |= {f"null_{kind}_mean": np.nan, f"p_{kind}": np.nan}
                continue
            null = np.empty(n_null)
            if kind == "shuffle":
                trial_codes = np.unique(per_trial, return_inverse=True)[1]
            for i in range(n_null):
                if kind == "circular":
                    null[i] = _ami(codes_lab[mask], flat[nulls[i]][mask], cache)
                else:
                    perm = trial_codes.copy()
                    perm[present] = perm[present][rng.permutation(int(present.sum()))]
                    null[i] = _ami(perm[trial_of][mask], flat[mask], cache)
            p = (1 + np.sum(null >= obs - 1e-9)) / (1 + n_null)
            row |= {f"null_{kind}_mean": float(null.mean()), f"p_{kind}": float(p)}
        return row

    if lab is not None:
        rows.append({"variable": "epoch", "epoch": "all"} | score(lab, lab != "", True))
    epochs = list(dict.fromkeys(lab[lab != ""].tolist())) if lab is not None and per_epoch else []
    for var in trial_variables:
        name, values = trial_variable(bitcode, var)
        present = ~pd.isna(values)
        per_trial = np.asarray(values).astype(str)
        defined = present[trial_of]
        step_lab = per_trial[trial_of]
        rows.append(
            {"variable": name, "epoch": "all"} | score(step_lab, defined, False, per_trial, present)
        )
        for e in epochs:
            m = defined & (lab == e)
            rows.append(
                {"variable": name, "epoch": e} | score(step_lab, m, True, per_trial, present)
            )
    return pd.DataFrame(rows)


def switch_latency(
    bitcode: xr.DataArray, valid: xr.DataArray | None = None, events: Sequence[str] | None = None
) -> xr.DataArray:
    """Time from each task event to the next bitcode change in the same trial.

    A change happens at step t when the code differs from step t-1 (both valid). Changes count
    from the bin that contains the event onwards (``time[t] + bin_size/2 > event``); the
    latency is ``time[t] - event`` with ``time`` the bin centres, so it is >= -bin_size/2.

    Parameters
    ----------
    bitcode : DataArray of int, dims (trial, time)
        With trial coords ``event_<name>`` (s, relative to the alignment event).
    valid : DataArray of bool, dims (trial, time), optional
    events : sequence of str, optional
        Event names without the ``event_`` prefix (default: all such coords).

    Returns
    -------
    DataArray of float, dims (trial, event)
        Latency in s; NaN where the event is missing or no change follows it. Trial coords kept.
    """
    codes, ok = check_bitcode(bitcode, valid)
    if events is None:
        events = [str(k)[6:] for k in bitcode.coords if str(k).startswith("event_")]
    missing = [e for e in events if f"event_{e}" not in bitcode.coords]
    if not events or missing:
        raise DataValidationError(
            f"switch_latency needs trial coords 'event_<name>'; missing {missing or 'all'}. Fix: "
            "carry the dataset's event_* trial coords onto the bitcode."
        )
    time, half = bitcode["time"].values.astype(float), bin_size_of(bitcode) / 2
    change = np.zeros_like(ok)
    change[:, 1:] = ok[:, 1:] & ok[:, :-1] & (codes[:, 1:] != codes[:, :-1])
    out = np.full((len(codes), len(events)), np.nan)
    for j, name in enumerate(events):
        ev = np.asarray(bitcode[f"event_{name}"].values, float)
        mask = change & (time[None, :] + half > ev[:, None])
        first = np.argmax(mask, axis=1)
        hit = mask.any(1) & np.isfinite(ev)
        out[hit, j] = time[first[hit]] - ev[hit]
    trial_coords = {k: v for k, v in bitcode.coords.items() if v.dims == ("trial",)}
    return xr.DataArray(
        out,
        dims=("trial", "event"),
        coords=trial_coords | {"event": list(events)},
        name="switch_latency",
        attrs={"units": "s"},
    )


def latency_by_condition(latency: xr.DataArray, by: str | Sequence[str]) -> pd.DataFrame:
    """Summarise :func:`switch_latency` per event and condition level.

    Parameters
    ----------
    latency : DataArray, dims (trial, event)
    by : str or sequence of str
        Trial coords to group by (e.g. ``"rule"`` or ``["rule", "correct"]``).

    Returns
    -------
    DataFrame
        Columns ``event``, the ``by`` columns, ``n_trials``, ``n_switched``, ``median``,
        ``mean``, ``std`` (s).
    """
    by = [by] if isinstance(by, str) else list(by)
    df = latency.to_dataframe().reset_index()
    df = df[["event", *by, "switch_latency"]]
    groups = df.groupby(["event", *by], sort=False)["switch_latency"]
    return groups.agg(
        n_trials="size", n_switched="count", median="median", mean="mean", std="std"
    ).reset_index()


def epoch_transition_graphs(
    bitcode: xr.DataArray,
    epoch: xr.DataArray,
    valid: xr.DataArray | None = None,
    *,
    max_regions: int | None = 100,
) -> xr.Dataset:
    """Region-transition matrices per epoch (a transition belongs to its destination's epoch).

    Returns
    -------
    Dataset, dims (epoch, region_from, region_to)
        ``count`` and ``probability`` (row-normalised, NaN for rows without transitions);
        regions are the most used ones (at most ``max_regions``, the rest pooled into -1).
    """
    codes, ok = check_bitcode(bitcode, valid)
    lab = check_epoch(epoch, codes.shape)
    regions = region_usage(bitcode, valid)["region"].values[:max_regions]
    pair = ok[:, 1:] & ok[:, :-1]
    names = list(dict.fromkeys(lab[ok & (lab != "")].tolist()))
    graphs = []
    for e in names:
        m = pair & (lab[:, 1:] == e)
        graphs.append(transition_counts(codes[:, :-1][m], codes[:, 1:][m], regions))
    if not graphs:
        raise DataValidationError("epoch has no labelled valid steps. Fix: check the epoch labels.")
    graphs = xr.align(*graphs, join="outer", fill_value={"count": 0})
    out = xr.concat(graphs, dim="epoch", coords="minimal").assign_coords(epoch=np.array(names))
    out.attrs = {}
    return out

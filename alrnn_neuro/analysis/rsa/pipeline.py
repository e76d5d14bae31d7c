"""One-call RSA of a fitted model against the recordings it was fitted to.

:func:`run_rsa` builds model RDMs from a run's latents (``latents.nc``) and neural RDMs from
the recorded data of the same trials (per brain area when the units carry an ``area``
coord), per epoch, time bin or model regime, and compares them with CIs (bootstrap over
conditions), permutation p-values (corrected across the segments with Holm) and a
split-half noise ceiling of the neural RDM. It returns the labelled result (saved as
``rsa.nc``) and a JSON-ready summary (``rsa.json``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.rsa.compare import finite_conditions
from alrnn_neuro.analysis.rsa.conditions import condition_labels, trial_patterns
from alrnn_neuro.analysis.rsa.conditions import exclude_trials as exclude_trials
from alrnn_neuro.analysis.rsa.inference import bootstrap_units, noise_ceiling
from alrnn_neuro.analysis.rsa.rdm import METHODS, compute_rdm
from alrnn_neuro.analysis.rsa.table import rsa_table
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

#: ``by`` values and the segment dim they produce
BY = {"epoch": "epoch", "time": "time", "regime": "region"}
#: comparison names accepted here (CLI spelling) -> name in :mod:`.compare`
COMPARE_ALIASES = {
    "tau-a": "kendall_tau_a",
    "tau_a": "kendall_tau_a",
    "kendall": "kendall_tau_a",
    "kendall_tau_a": "kendall_tau_a",
    "spearman": "spearman",
    "pearson": "pearson",
    "cosine": "cosine",
    "cka": "cka",
    "cka_biased": "cka_biased",
}
ALL_UNITS = "all"
NOISE = ("shrinkage_diag", "shrinkage_eye")


def run_rsa(
    latents_ds: xr.Dataset,
    dataset: xr.Dataset,
    *,
    conditions: str | Sequence[str],
    by: str = "epoch",
    distance: str = "crossnobis",
    compare: str = "tau-a",
    n_perm: int = 1000,
    n_boot: int = 1000,
    areas: Sequence[str] | None = None,
    shuffle_labels: bool = False,
    bootstrap: str = "conditions",
    seed: int = 0,
) -> tuple[xr.Dataset, dict]:
    """Compare model RDMs with neural RDMs of the same trials, per segment and area.

    Parameters
    ----------
    latents_ds : xr.Dataset
        A run's ``latents.nc``: ``latents`` (trial, time, latent), ``valid`` and ``epoch``
        (trial, time), ``bitcode`` (trial, time; needed for ``by="regime"``) and the trial
        variables as coords on ``trial``.
    dataset : xr.Dataset
        The canonical dataset the model was fitted to (``spikes`` or ``signal`` (trial, time,
        unit), ``valid``, ``epoch``, optional ``observed`` and unit coord ``area``); it must
        hold the same trial ids (any order).
    conditions : str or sequence of str
        Trial variables whose combinations are the conditions, e.g. ``["rule", "location",
        "pitch"]``.
    by : {"epoch", "time", "regime"}
        One comparison per epoch, per time bin, or per model regime (bitcode; applied to the
        neural data of the same steps).
    distance : str
        RDM distance (see :data:`alrnn_neuro.analysis.rsa.METHODS`); crossnobis needs >= 2
        trials per condition.
    compare : str
        RDM comparison: ``tau-a`` (Kendall's tau-a), ``spearman``, ``pearson``, ``cosine``,
        ``cka`` or ``cka_biased``.
    n_perm : int
        Condition-label permutations per segment for the p-value (0: none).
    n_boot : int
        Bootstrap samples for the 95 % CI (0: none).
    areas : sequence of str, optional
        Unit areas to analyse separately (default: every value of the unit coord ``area``,
        or all units as one area ``"all"`` when there is no such coord).
    shuffle_labels : bool
        Control analysis: permute the condition labels of the *neural* trials (seeded), which
        breaks the model-neural correspondence; similarities should then be null.
    bootstrap : {"conditions", "units"}
        What the CI resamples: conditions (both RDMs) or the neural units (the neural RDM is
        recomputed from each resample; slower, for generalisation to other neurons).
    seed : int
        Seed of permutations, bootstrap, noise-ceiling splits and the label shuffle.

    Returns
    -------
    rsa : xr.Dataset
        ``model_rdm`` (seg, condition, condition2), ``neural_rdm`` (area, seg, condition,
        condition2), and over (area, seg): ``estimate``, ``ci_low``, ``ci_high``,
        ``p_value``, ``p_corrected`` (Holm across segments), ``noise_ceiling_low``,
        ``noise_ceiling_high``, ``n_conditions``; ``n_units`` (area,). ``seg`` is ``epoch``,
        ``time`` or ``region``.
    summary : dict
        JSON-ready: settings and one row per area and segment.

    Notes
    -----
    The noise ceiling splits the neural trials into two halves (stratified by condition):
    it bounds what RDMs from *half* the trials can reach, so an estimate from all trials can
    exceed it. It is NaN when a half has a condition with < 2 trials (crossnobis).

    Raises
    ------
    ConfigError
        Unknown ``by``/``distance``/``compare``/area, or a condition variable that is not a
        trial coord.
    DataValidationError
        Different trials in run and dataset; a condition with < 2 trials for crossnobis; no
        segment with >= 3 conditions whose dissimilarities are finite in both RDMs (segments
        with fewer are kept as NaN rows, with a warning).
    """
    over, method = _check_settings(by, distance, compare)
    if bootstrap not in ("conditions", "units"):
        raise ConfigError(f"bootstrap = {bootstrap!r}; choose 'conditions' or 'units'")
    names = [conditions] if isinstance(conditions, str) else list(conditions)
    dataset = match_trials(latents_ds, dataset)
    labels = condition_labels(latents_ds, names)
    neural_labels = condition_labels(dataset, names)
    if shuffle_labels:
        order = np.random.default_rng(seed).permutation(labels.size)
        neural_labels = neural_labels.copy(data=neural_labels.values[order])
    bitcode = latents_ds.get("bitcode") if over == "region" else None
    if over == "region" and bitcode is None:
        raise ConfigError("by='regime' needs a 'bitcode' in the run's latents (AL-RNN runs only)")
    model_pat = trial_patterns(latents_ds, over=over, var="latents", bitcode=bitcode)
    model_rdm, noise_used = robust_rdm(model_pat, labels, distance)
    noise = {"model": noise_used}
    var = "spikes" if "spikes" in dataset.data_vars else "signal"
    unit_sets = select_areas(dataset, areas)
    tables, neural_rdms = [], []
    for k, (area, units) in enumerate(unit_sets.items()):
        data = dataset.isel(unit=units)
        pat = trial_patterns(data, over=over, var=var, bitcode=bitcode).astype(np.float64)
        rdm, noise[area] = robust_rdm(pat, neural_labels, distance)
        check_comparable(model_rdm, rdm, area, over, names)
        ceiling = _ceiling(pat, neural_labels, method, distance, noise[area], seed + k)
        boot = None
        if bootstrap == "units" and n_boot > 0:
            boot = bootstrap_units(
                pat, neural_labels, model_rdm, method=method, n_boot=n_boot, seed=seed + k,
                rdm_method=distance, noise=noise[area],
            )  # fmt: skip
        table = rsa_table(
            model_rdm, rdm, method=method, n_perm=n_perm, n_boot=n_boot, seed=seed + k,
            noise_ceiling=ceiling, bootstrap=boot,
        )  # fmt: skip
        tables.append(table.expand_dims(area=[area]))
        neural_rdms.append(rdm.drop_attrs().expand_dims(area=[area]))
    rsa = xr.concat(tables, "area", combine_attrs="override")
    rsa["neural_rdm"] = xr.concat(neural_rdms, "area").reindex_like(rsa["estimate"])
    rsa["model_rdm"] = model_rdm.reindex({over: rsa[over].values}).drop_attrs()
    rsa["n_units"] = ("area", [len(u) for u in unit_sets.values()])
    rsa.attrs.update(
        conditions=",".join(names), by=by, segment_dim=over, distance=distance, compare=method,
        n_perm=n_perm, n_boot=n_boot, seed=seed, shuffle_labels=int(shuffle_labels),
        correction="holm", ci=0.95, noise=",".join(f"{k}:{v}" for k, v in noise.items()),
        bootstrap=bootstrap,
    )  # fmt: skip
    return rsa, summarize(rsa)


def check_comparable(
    model_rdm: xr.DataArray, neural_rdm: xr.DataArray, area: str, seg: str, names: list[str]
) -> None:
    """Raise if no segment has >= 3 conditions finite in both RDMs; warn about the others.

    Parameters
    ----------
    model_rdm, neural_rdm : xr.DataArray, dims (seg, condition, condition2)
    area, seg : str
        Area name and segment dim (for the messages).
    names : list of str
        The condition variables (for the messages).
    """
    labels = [str(x) for x in model_rdm[seg].values]
    a = model_rdm.transpose(seg, "condition", "condition2").values
    b = neural_rdm.reindex({seg: model_rdm[seg].values})
    b = b.transpose(seg, "condition", "condition2").values
    usable = {}
    for lab, x, y in zip(labels, a, b, strict=True):
        pair = finite_conditions(x, y)
        usable[lab] = 0 if pair is None else pair[0].shape[0]
    short = [lab for lab, n in usable.items() if n < 3]
    if len(short) == len(usable):
        n_cond = model_rdm.sizes["condition"]
        raise DataValidationError(
            f"area {area!r}: no {seg} has >= 3 conditions with finite dissimilarities in both "
            f"the model and the neural RDM (conditions = {names} give {n_cond} conditions; "
            f"usable per {seg}, 0 = fewer than 3: {usable}); fix: add condition variables "
            "(e.g. --conditions rule,location,pitch), use --by epoch, or relax --exclude"
        )
    if short:
        log.warning(
            "area %r: %s %s have < 3 comparable conditions; their rows are NaN",
            area, seg, short,
        )  # fmt: skip


def match_trials(latents_ds: xr.Dataset, dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` reordered to the trials of ``latents_ds``; raise if the trial sets differ."""
    ids_m, ids_d = latents_ds["trial"].values, dataset["trial"].values
    only_m, only_d = np.setdiff1d(ids_m, ids_d), np.setdiff1d(ids_d, ids_m)
    if ids_m.size != ids_d.size or only_m.size or only_d.size:
        raise DataValidationError(
            f"mismatched trials between run and dataset: {ids_m.size} vs {ids_d.size} trials "
            f"(only in the run: {only_m[:5].tolist()}, only in the dataset: "
            f"{only_d[:5].tolist()}); fix: pass the dataset the model was fitted to "
            "(--dataset FILE)"
        )
    out = dataset.sel(trial=ids_m)
    if out.sizes["time"] != latents_ds.sizes["time"]:
        raise DataValidationError(
            f"mismatched time bins: the run has {latents_ds.sizes['time']}, the dataset "
            f"{out.sizes['time']}; fix: pass the dataset the model was fitted to"
        )
    return out


def select_areas(dataset: xr.Dataset, areas: Sequence[str] | None) -> dict[str, np.ndarray]:
    """Unit indices per area (all units as ``"all"`` without an ``area`` unit coord)."""
    if "area" not in dataset.coords or dataset["area"].dims != ("unit",):
        if areas:
            raise ConfigError(
                f"areas = {list(areas)} but the dataset has no unit coord 'area'; fix: drop "
                "--area (all units are analysed together)"
            )
        return {ALL_UNITS: np.arange(dataset.sizes["unit"])}
    values = dataset["area"].values.astype(str)
    present = list(dict.fromkeys(values))
    wanted = list(areas) if areas else present
    missing = [a for a in wanted if a not in present]
    if missing:
        raise ConfigError(f"area(s) {missing} not in the dataset; choose from {present}")
    return {a: np.flatnonzero(values == a) for a in wanted}


def summarize(rsa: xr.Dataset) -> dict:
    """JSON-ready summary of :func:`run_rsa`'s result: settings + one row per area/segment."""
    seg = rsa.attrs["segment_dim"]
    rows = []
    for area in rsa["area"].values:
        for label in rsa[seg].values:
            r = rsa.sel(area=area, **{seg: label})
            rows.append({
                "area": str(area),
                seg: _json(label),
                "similarity": _json(r["estimate"]),
                "ci": [_json(r["ci_low"]), _json(r["ci_high"])],
                "p_value": _json(r["p_value"]),
                "p_corrected": _json(r["p_corrected"]),
                "noise_ceiling": [_json(r["noise_ceiling_low"]), _json(r["noise_ceiling_high"])],
                "n_conditions": _json(r["n_conditions"]),
            })  # fmt: skip
    settings = {k: _json(v) for k, v in rsa.attrs.items()}
    settings["conditions"] = str(rsa.attrs["conditions"]).split(",")
    settings["conditions_list"] = [str(c) for c in rsa["condition"].values]
    settings["n_units"] = {
        str(a): int(n) for a, n in zip(rsa["area"].values, rsa["n_units"].values, strict=True)
    }
    return {**settings, "rows": rows}


def _json(value):
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value if isinstance(value, int | bool | str) or value is None else str(value)


def _check_settings(by: str, distance: str, compare: str) -> tuple[str, str]:
    if by not in BY:
        raise ConfigError(f"by = {by!r}; choose from {list(BY)}")
    if distance not in METHODS:
        raise ConfigError(f"distance = {distance!r}; choose from {list(METHODS)}")
    if compare not in COMPARE_ALIASES:
        raise ConfigError(f"compare = {compare!r}; choose from {sorted(COMPARE_ALIASES)}")
    return BY[by], COMPARE_ALIASES[compare]


def robust_rdm(patterns: xr.DataArray, labels: xr.DataArray, distance: str):
    """:func:`compute_rdm` with the ``shrinkage_diag`` noise estimate, or ``shrinkage_eye``
    when some unit is constant within a segment (e.g. silent in one time bin).

    Returns
    -------
    rdm : xr.DataArray, dims (seg, condition, condition2)
    noise : str
        The noise estimate used.
    """
    try:
        return compute_rdm(patterns, labels, method=distance), NOISE[0]
    except DataValidationError as error:
        if "zero residual variance" not in str(error):
            raise
        log.warning("%s; using noise='%s' instead", error, NOISE[1])
        return compute_rdm(patterns, labels, method=distance, noise=NOISE[1]), NOISE[1]


def _ceiling(patterns, labels, method, distance, noise, seed) -> xr.Dataset | None:
    """Split-half (trials) noise ceiling; None (NaN in the table) if a half is too small."""
    try:
        return noise_ceiling(
            patterns, labels, method=method, seed=seed, rdm_method=distance, noise=noise
        )
    except (DataValidationError, ValueError) as error:
        log.warning("noise ceiling skipped: %s", error)
        return None

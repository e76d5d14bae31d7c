"""One-call RSA of a fitted model against the recordings it was fitted to.

:func:`run_rsa` builds model RDMs from a run's latents (``latents.nc``) and neural RDMs from
the recorded data of the same trials (per brain area when the units carry an ``area``
coord), per epoch, time bin or model regime, and compares them with CIs (bootstrap over
conditions), permutation p-values (corrected across the segments with Holm) and a split-half
noise ceiling against which the model is placed. It returns the labelled result (saved as
``rsa.nc``) and a JSON-ready summary (``rsa.json``).

What enters (see :mod:`.selection`): by default only the trials the model was not fitted on
(``trials="heldout"``), and never the bins from which the model inferred its initial state
(``init_bins``), in the model and the recordings alike. Pseudo-populations are compared pair by
pair over the units observed in both conditions (:mod:`.pairwise`). A question with exactly two
conditions has no RDM to correlate; it is answered by the cross-validated distance between
the two conditions against zero, for the model and each area (:mod:`.distance_test`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro._resampling import check_n_boot
from alrnn_neuro.analysis.rsa.ceiling import noise_ceiling
from alrnn_neuro.analysis.rsa.compare import check_compare
from alrnn_neuro.analysis.rsa.conditions import check_by, condition_labels, trial_patterns
from alrnn_neuro.analysis.rsa.conditions import exclude_trials as exclude_trials
from alrnn_neuro.analysis.rsa.distance_test import distance_test
from alrnn_neuro.analysis.rsa.inference import bootstrap_units, correct_pvalues
from alrnn_neuro.analysis.rsa.matching import check_comparable, match_trials, select_areas
from alrnn_neuro.analysis.rsa.rdm import MIN_UNITS, check_distance, compute_rdm
from alrnn_neuro.analysis.rsa.selection import after_init_bins, select_trials
from alrnn_neuro.analysis.rsa.summary import DISTANCE_VS_ZERO, RDM_COMPARISON
from alrnn_neuro.analysis.rsa.summary import summarize as summarize
from alrnn_neuro.analysis.rsa.table import rsa_table
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

NOISE = ("shrinkage_diag", "shrinkage_eye")
#: the segments ``by`` may name (``"regime"`` is an alias of ``"region"``)
RSA_SEGMENTS = ("epoch", "time", "region")
INIT_RULE = (
    "the first init_bins valid bins of each trial (from which the model inferred its initial "
    "state) are excluded from the model and the neural patterns"
)


def run_rsa(
    latents_ds: xr.Dataset,
    dataset: xr.Dataset,
    *,
    conditions: str | Sequence[str],
    by: str = "epoch",
    distance: str = "crossnobis",
    compare: str = "tau-a",
    trials: str = "heldout",
    init_bins: int | None = None,
    min_units: int = MIN_UNITS,
    n_perm: int = 1000,
    n_boot: int = 1000,
    areas: Sequence[str] | None = None,
    shuffle_labels: bool = False,
    bootstrap: str = "conditions",
    seed: int = 0,
) -> tuple[xr.Dataset, dict]:
    """Compare model RDMs with neural RDMs of the same held-out trials, per segment and area.

    Parameters
    ----------
    latents_ds : xr.Dataset
        A run's ``latents.nc``: ``latents`` (trial, time, latent), ``valid`` and ``epoch``
        (trial, time), ``bitcode`` (trial, time; needed for ``by="region"``), the trial
        variables and ``split`` (train/val/test) as coords on ``trial``.
    dataset : xr.Dataset
        The canonical dataset the model was fitted to (``spikes`` or ``signal`` (trial, time,
        unit), ``valid``, ``epoch``, optional ``observed`` and unit coord ``area``); it must
        hold the same trial ids (any order).
    conditions : str or sequence of str
        Trial variables whose combinations are the conditions, e.g. ``["rule", "location",
        "pitch"]``. Two conditions give the two-condition distance test instead of an RDM
        comparison.
    by : {"epoch", "time", "region"}
        One comparison per epoch, per time bin, or per model regime (bitcode, applied to the
        neural data of the same steps; ``"regime"`` is accepted).
    distance : str
        RDM distance (see :data:`~.rdm.DISTANCES`).
    compare : str
        RDM comparison: ``tau-a`` (Kendall's tau-a), ``spearman``, ``pearson``, ``cosine``,
        ``cka`` or ``cka_biased``.
    trials : {"heldout", "test", "all"}
        Trials compared, by the latents' ``split`` coord: not fitted on (val + test), test
        only, or all (training trials included, with a warning).
    init_bins : int, optional
        Bins at each trial's start that inferred the model's initial state; excluded from
        model and neural patterns. Default: ``latents_ds.attrs["init_bins"]`` when the
        latents record it, else an error (pass the fit's ``init_bins`` with
        ``init_state="data"``, or 0; :func:`~.selection.init_bins_of` reads a fit's config).
    min_units : int
        Pseudo-populations: fewest units observed in both conditions of a pair (capped at an
        area's usable units in a segment; the result records the threshold applied).
    n_perm : int
        Condition-label permutations per segment for the p-value (0: none).
    n_boot : int
        Bootstrap samples for the 95 % CI: 0 (none) or at least
        :data:`~alrnn_neuro._resampling.MIN_N_BOOT` (200).
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
        ``model_rdm`` (seg, condition, condition2), ``neural_rdm`` and ``neural_pair_units``
        (area, seg, condition, condition2), ``neural_min_units_applied`` (area, seg: the pair
        threshold actually applied, ``min_units`` capped at the usable units; 0 = no RDM),
        ``n_units`` and ``noise_estimate`` (area,), ``model_noise_estimate``; over (area,
        seg) for >= 3 conditions the columns of :func:`~.table.rsa_table` (``estimate``, CI,
        p-values, noise ceiling and the model's place against it), for 2 conditions
        ``neural_distance``, ``neural_p_value``, ``neural_p_corrected``, ``neural_n_units``
        and over (seg) ``model_distance``, ``model_p_value``, ``model_p_corrected``.
        ``seg`` is ``epoch``, ``time`` or ``region``; attrs (provenance) record the settings
        and the trial/bin rules: ``trials``, ``trial_splits`` (split:count of the compared
        trials), ``n_train_included`` (-1: unknown, the latents had no split),
        ``init_bins``, ``init_bins_rule``, ``statistic``, ``min_units`` (as requested).
    summary : dict
        JSON-ready: settings and one row per area and segment (each with
        ``min_units_applied``).

    Raises
    ------
    ConfigError
        Unknown ``by``/``distance``/``compare``/``trials``/area, a condition variable that is
        not a trial coord, ``init_bins`` unknown, or ``n_boot`` from 1 to 199 (a percentile
        interval needs at least 200 resamples) or negative.
    DataValidationError
        Different trials in run and dataset; fewer than two conditions; no segment with
        >= 3 conditions whose dissimilarities are finite in both RDMs (segments with fewer
        are kept as NaN rows, with a warning).
    """
    seg = check_by(by, RSA_SEGMENTS, "RSA")
    check_n_boot(n_boot, default=1000)
    if seg == "epoch" and "epoch" in dataset:
        labels = dataset["epoch"].values[dataset["valid"].values].astype(str)
        if not (labels != "").any():
            raise DataValidationError(
                "by='epoch' but no valid bin of the dataset has an epoch label; fix: --by time "
                "(or region), or label the epochs when converting (--epochs)"
            )
    if "unit" not in dataset.dims:
        raise DataValidationError(
            f"the dataset has no units (dims {sorted(map(str, dataset.dims))}): RSA compares "
            "the model with recorded neurons, and a task dataset (targets) has none; fix: run "
            "rsa on a run fitted to recordings (spikes or signal)"
        )
    check_distance(distance)
    method = check_compare(compare)
    if bootstrap not in ("conditions", "units"):
        raise ConfigError(f"bootstrap = {bootstrap!r}; choose 'conditions' or 'units'")
    names = [conditions] if isinstance(conditions, str) else list(conditions)
    init_bins = _init_bins(latents_ds, init_bins)
    dataset = match_trials(latents_ds, dataset)
    ids, selection = select_trials(latents_ds, trials)
    latents_ds, dataset = latents_ds.sel(trial=ids), dataset.sel(trial=ids)
    labels = condition_labels(latents_ds, names)
    neural_labels = condition_labels(dataset, names)
    n_cond = check_trial_counts(labels, names, distance, trials)
    if shuffle_labels:
        order = np.random.default_rng(seed).permutation(labels.size)
        neural_labels = neural_labels.copy(data=neural_labels.values[order])
    bitcode = latents_ds.get("bitcode") if seg == "region" else None
    if seg == "region" and bitcode is None:
        raise ConfigError("by='region' needs a 'bitcode' in the run's latents (AL-RNN runs only)")
    model_pat = trial_patterns(
        latents_ds,
        by=seg,
        var="latents",
        bitcode=bitcode,
        valid=after_init_bins(latents_ds["valid"], init_bins),
    )
    neural_valid = after_init_bins(dataset["valid"], init_bins)
    var = "spikes" if "spikes" in dataset.data_vars else "signal"
    unit_sets = select_areas(dataset, areas)
    rdm_settings = {"distance": distance, "min_units": min_units}
    model_rdm, model_noise = robust_rdm(model_pat, labels, **rdm_settings)
    rows, neural_rdms, pair_units, applied, noises = [], [], [], [], []
    for k, (area, units) in enumerate(unit_sets.items()):
        data = dataset.isel(unit=units)
        pat = trial_patterns(data, by=seg, var=var, bitcode=bitcode, valid=neural_valid)
        pat = pat.astype(np.float64)
        rdm, noise = robust_rdm(pat, neural_labels, **rdm_settings)
        noises.append(noise)
        if n_cond == 2:
            test = distance_test(
                pat, neural_labels, n_perm=n_perm, seed=seed + k, noise=noise, **rdm_settings
            )
            row = test[["distance", "p_value", "n_units"]].rename(
                distance="neural_distance", p_value="neural_p_value", n_units="neural_n_units"
            )
        else:
            check_comparable(model_rdm, rdm, area, seg, names, min_units=min_units)
            ceiling = _ceiling(pat, neural_labels, method, model_rdm, noise, seed + k, rdm_settings)
            boot = None
            if bootstrap == "units" and n_boot > 0:
                boot = bootstrap_units(
                    pat,
                    neural_labels,
                    model_rdm,
                    compare=method,
                    n_boot=n_boot,
                    seed=seed + k,
                    noise=noise,
                    **rdm_settings,
                )
            row = rsa_table(
                model_rdm,
                rdm,
                compare=method,
                n_perm=n_perm,
                n_boot=n_boot,
                seed=seed + k,
                noise_ceiling=ceiling,
                bootstrap=boot,
            )
            row.attrs = {}
        rows.append(row.expand_dims(area=[area]))
        neural_rdms.append(rdm.drop_vars("pair_units").expand_dims(area=[area]))
        pair_units.append(_pair_units(rdm).expand_dims(area=[area]))
        applied.append(_min_units_applied(rdm).expand_dims(area=[area]))
    rsa = xr.concat(rows, "area", combine_attrs="drop")
    if n_cond == 2:
        rsa = _add_model_distance(
            rsa, model_pat, labels, seg, model_noise, n_perm, seed, rdm_settings
        )
    neural = xr.concat(neural_rdms, "area").drop_attrs()
    rsa["neural_rdm"] = neural.reindex({seg: rsa[seg].values})
    units = xr.concat(pair_units, "area").reindex({seg: rsa[seg].values}, fill_value=0)
    rsa["neural_pair_units"] = units
    applied = xr.concat(applied, "area").reindex({seg: rsa[seg].values}, fill_value=0)
    rsa["neural_min_units_applied"] = applied
    rsa["model_rdm"] = (
        model_rdm.drop_vars("pair_units").reindex({seg: rsa[seg].values}).drop_attrs()
    )
    rsa["n_units"] = ("area", [len(u) for u in unit_sets.values()])
    rsa["noise_estimate"] = ("area", np.array(noises, dtype=object))
    rsa["model_noise_estimate"] = model_noise
    rsa.attrs.update(
        conditions=",".join(names),
        by=seg,
        segment_dim=seg,
        distance=distance,
        compare=method,
        statistic=DISTANCE_VS_ZERO if n_cond == 2 else RDM_COMPARISON,
        n_perm=n_perm,
        n_boot=n_boot,
        seed=seed,
        shuffle_labels=int(shuffle_labels),
        correction="holm",
        ci=0.95,
        bootstrap=bootstrap,
        min_units=int(min_units),
        trials=trials,
        trial_splits=",".join(f"{k}:{v}" for k, v in selection["splits"].items()),
        n_train_included=-1
        if selection["n_train_included"] is None
        else selection["n_train_included"],
        init_bins=int(init_bins),
        init_bins_rule=INIT_RULE,
        noise_ceiling_method="split-half trials stratified by condition and observed units; "
        "upper bound >= lower bound (see alrnn_neuro.analysis.rsa.ceiling)",
    )
    return rsa, summarize(rsa)


def check_trial_counts(labels: xr.DataArray, names: list[str], distance: str, trials: str) -> int:
    """Number of conditions; raise when too few have the trials ``distance`` needs (>= 2 for
    crossnobis), warn once about the ones left out.

    Raises
    ------
    DataValidationError
        Fewer than 2 conditions, a two-condition question with a thin condition, or fewer
        than 3 conditions with enough trials; the message names the fix.
    """
    values, counts = np.unique(labels.values.astype(str), return_counts=True)
    need = 2 if distance == "crossnobis" else 1
    thin = [str(v) for v, n in zip(values, counts, strict=True) if n < need]
    enough = values.size - len(thin)
    where = f"on the {labels.size} compared trials (trials={trials!r})"
    if values.size < 2:
        raise DataValidationError(
            f"conditions = {names} give {values.size} condition {where}; fix: choose trial "
            "variables that differ between trials"
        )
    if (values.size == 2 and thin) or (values.size > 2 and enough < 3):
        raise DataValidationError(
            f"conditions = {names} give {values.size} conditions {where}, {len(thin)} of them "
            f"(e.g. {thin[:5]}) with fewer than {need} trials, which {distance} needs; fix: "
            "merge them (fewer or coarser condition variables, e.g. bin a numeric variable), "
            "drop them (--exclude COORD=VALUE), or compare more trials (--trials all includes "
            "training trials)"
        )
    if thin:
        log.warning(
            "%d of %d conditions (e.g. %s) have fewer than %d compared trials; their RDM rows "
            "are NaN",
            len(thin),
            values.size,
            thin[:5],
            need,
        )
    return int(values.size)


def _pair_units(rdm: xr.DataArray) -> xr.DataArray:
    """The ``pair_units`` coord of an RDM as a plain DataArray (index coords only)."""
    dims = rdm["pair_units"].dims
    coords = {d: rdm[d].values for d in dims if d in rdm.indexes}
    return xr.DataArray(rdm["pair_units"].values, dims=dims, coords=coords, name="pair_units")


def _min_units_applied(rdm: xr.DataArray) -> xr.DataArray:
    """The ``min_units_applied`` attr of an RDM (one per segment) over its leading dims."""
    dims = rdm.dims[:-2]
    values = np.reshape(np.asarray(rdm.attrs["min_units_applied"], dtype=np.int64), rdm.shape[:-2])
    coords = {d: rdm[d].values for d in dims if d in rdm.indexes}
    return xr.DataArray(values, dims=dims, coords=coords, name="min_units_applied")


def _init_bins(latents_ds: xr.Dataset, init_bins: int | None) -> int:
    """``init_bins`` as given, else as the latents record it, else an error."""
    if init_bins is not None:
        if int(init_bins) < 0:
            raise ConfigError(f"init_bins = {init_bins}; choose 0 or more bins")
        return int(init_bins)
    if "init_bins" in latents_ds.attrs:
        return int(latents_ds.attrs["init_bins"])
    raise ConfigError(
        "init_bins is not given and the latents do not record which bins inferred the model's "
        "initial state; fix: pass init_bins= (the fit's init_bins with init_state='data', "
        "else 0; init_bins_of(fit.config) reads it; the CLI reads it from config.json, or "
        "--init-bins N)"
    )


def _add_model_distance(rsa, model_pat, labels, seg, noise, n_perm, seed, settings):
    """Model distance test (seg,) and Holm-corrected p-values of model and areas."""
    test = distance_test(model_pat, labels, n_perm=n_perm, seed=seed, noise=noise, **settings)
    test = test.reindex({seg: rsa[seg].values})
    rsa["model_distance"], rsa["model_p_value"] = test["distance"], test["p_value"]
    rsa["model_p_corrected"] = (seg, correct_pvalues(test["p_value"].values, "holm"))
    corrected = np.stack(
        [correct_pvalues(p, "holm") for p in rsa["neural_p_value"].transpose("area", seg).values]
    )
    rsa["neural_p_corrected"] = (("area", seg), corrected)
    return rsa


def robust_rdm(patterns: xr.DataArray, labels: xr.DataArray, **rdm_kwargs):
    """:func:`compute_rdm` with the ``shrinkage_diag`` noise estimate, or ``shrinkage_eye``
    when some unit is constant within a segment (e.g. silent in one time bin).

    Returns
    -------
    rdm : xr.DataArray, dims (seg, condition, condition2)
    noise : str
        The noise estimate used.
    """
    try:
        return compute_rdm(patterns, labels, noise=NOISE[0], **rdm_kwargs), NOISE[0]
    except DataValidationError as error:
        if "zero residual variance" not in str(error):
            raise
        log.warning("%s; using noise='%s' instead", error, NOISE[1])
        return compute_rdm(patterns, labels, noise=NOISE[1], **rdm_kwargs), NOISE[1]


def _ceiling(patterns, labels, method, model_rdm, noise, seed, settings) -> xr.Dataset:
    """Split-half (trials) noise ceiling with the model placed against it; where it cannot
    be computed at all, NaN bounds whose note says why."""
    try:
        return noise_ceiling(
            patterns,
            labels,
            compare=method,
            seed=seed,
            model_rdm=model_rdm,
            noise=noise,
            **settings,
        )
    except DataValidationError as error:
        log.warning("noise ceiling not computed: %s", error)
        seg = [d for d in model_rdm.dims if d not in ("condition", "condition2")]
        nan = xr.full_like(model_rdm.isel(condition=0, condition2=0, drop=True), np.nan)
        nan = nan.drop_vars([c for c in nan.coords if c not in seg])
        return xr.Dataset(
            {
                "noise_ceiling_low": nan,
                "noise_ceiling_high": nan,
                "noise_ceiling_conditions": xr.zeros_like(nan, dtype=np.int64),
                "noise_ceiling_note": xr.full_like(nan, f"not computed: {error}", dtype=object),
                "model_vs_splits": nan,
            }
        )

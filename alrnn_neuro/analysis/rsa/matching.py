"""Inputs of a model-vs-data RSA: the dataset's trials matched to the run's, units grouped by
area, and the check that some segment has enough conditions to compare (with the fix that
adds them when none has)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.rsa.compare import finite_conditions
from alrnn_neuro.analysis.rsa.rdm import MIN_UNITS
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)
ALL_UNITS = "all"


def check_comparable(
    model_rdm: xr.DataArray,
    neural_rdm: xr.DataArray,
    area: str,
    seg: str,
    names: list[str],
    *,
    min_units: int = MIN_UNITS,
) -> None:
    """Raise if no segment has >= 3 conditions finite in both RDMs; warn about the others.

    The error names what is missing and the fix that adds it: conditions without enough
    trials (merge or exclude them), or pairs without enough units observed in both
    conditions (lower ``min_units``, or coarser conditions).

    Parameters
    ----------
    model_rdm, neural_rdm : xr.DataArray, dims (seg, condition, condition2)
        ``neural_rdm`` may carry the ``pair_units`` coord of :func:`~.rdm.compute_rdm`.
    area, seg : str
        Area name and segment dim (for the messages).
    names : list of str
        The condition variables (for the messages).
    min_units : int
        The pair rule requested (for the messages; ``neural_rdm``'s ``min_units_applied``
        attr, where present, gives the threshold used after capping).
    """
    area = str(area)
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
            f"usable per {seg}, 0 = fewer than 3: {usable}); "
            f"{_fix(model_rdm, neural_rdm, min_units)}"
        )
    if short:
        log.warning(
            "area %r: %s %s have < 3 comparable conditions; their rows are NaN", area, seg, short
        )


def _fix(model_rdm: xr.DataArray, neural_rdm: xr.DataArray, min_units: int) -> str:
    """The fix that adds comparable conditions, from what is missing: trials per condition
    first, then units shared by condition pairs."""
    names = [str(c) for c in model_rdm["condition"].values]
    counts = model_rdm["n_trials"].values if "n_trials" in model_rdm.coords else None
    thin = [] if counts is None else [c for c, n in zip(names, counts, strict=True) if n < 2]
    if thin and len(names) - len(thin) < 3:
        return (
            f"fix: {len(thin)} of {len(names)} conditions (e.g. {thin[:5]}) have fewer than 2 "
            "compared trials; merge them (fewer or coarser condition variables, e.g. bin a "
            "numeric variable) or drop them (--exclude COORD=VALUE)"
        )
    applied = _applied(neural_rdm, min_units)
    if "pair_units" in neural_rdm.coords and applied.max() > 1:
        keep = np.array([c not in thin for c in names])
        units = neural_rdm["pair_units"].values[..., keep, :][..., keep]
        off = ~np.eye(int(keep.sum()), dtype=bool)
        shared = units[..., off]
        if shared.size and np.all(shared < applied[..., None]):
            most = int(shared.max())
            need = int(applied.max())
            capped = "" if need == min_units else f" (min_units = {min_units} capped there)"
            return (
                f"fix: no condition pair has {need} units observed in both conditions"
                f"{capped} (most: {most}); lower --min-units (min_units=) to {max(most, 1)}, "
                "or use coarser conditions so that each unit has trials in more of them"
            )
    return (
        "fix: use conditions with more trials each (fewer or coarser condition variables), "
        "--by epoch instead of time bins, or a lower --min-units"
    )


def _applied(neural_rdm: xr.DataArray, min_units: int) -> np.ndarray:
    """The pair threshold applied per segment (leading dims): the RDM's
    ``min_units_applied`` attr, else ``min_units``."""
    shape = neural_rdm.shape[:-2]
    applied = neural_rdm.attrs.get("min_units_applied")
    if applied is None or np.size(applied) != int(np.prod(shape)):
        return np.full(shape, int(min_units))
    return np.reshape(np.asarray(applied, dtype=np.int64), shape)


def match_trials(latents_ds: xr.Dataset, dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` reordered to the trials of ``latents_ds``; raise if the trial sets or the
    time bins differ (:func:`check_run_trials`)."""
    check_run_trials(latents_ds, dataset)
    return dataset.sel(trial=latents_ds["trial"].values)


def check_run_trials(latents_ds: xr.Dataset, dataset: xr.Dataset) -> None:
    """Raise unless run and dataset hold the same trials (any order) and time bins."""
    ids_m, ids_d = latents_ds["trial"].values, dataset["trial"].values
    only_m, only_d = np.setdiff1d(ids_m, ids_d), np.setdiff1d(ids_d, ids_m)
    if ids_m.size != ids_d.size or only_m.size or only_d.size:
        raise DataValidationError(
            f"mismatched trials between run and dataset: {ids_m.size} vs {ids_d.size} trials "
            f"(only in the run: {only_m[:5].tolist()}, only in the dataset: "
            f"{only_d[:5].tolist()}); fix: pass the dataset the model was fitted to "
            "(--dataset FILE)"
        )
    if dataset.sizes["time"] != latents_ds.sizes["time"]:
        raise DataValidationError(
            f"mismatched time bins: the run has {latents_ds.sizes['time']}, the dataset "
            f"{dataset.sizes['time']}; fix: pass the dataset the model was fitted to"
        )


def select_areas(dataset: xr.Dataset, areas: Sequence[str] | None) -> dict[str, np.ndarray]:
    """Unit indices per area (all units as ``"all"`` without an ``area`` unit coord)."""
    if "area" not in dataset.coords or dataset["area"].dims != ("unit",):
        if areas:
            raise ConfigError(
                f"areas = {[str(a) for a in areas]} but the dataset has no unit coord 'area'; "
                "fix: drop --area (all units are analysed together)"
            )
        return {ALL_UNITS: np.arange(dataset.sizes["unit"])}
    values = [str(v) for v in dataset["area"].values]
    present = list(dict.fromkeys(values))
    wanted = [str(a) for a in areas] if areas else present
    missing = [a for a in wanted if a not in present]
    if missing:
        raise ConfigError(
            f"area(s) {missing} not in the dataset; fix: --area (areas=) with one of {present}, "
            "or leave it out for every area"
        )
    return {a: np.flatnonzero(np.asarray(values) == a) for a in wanted}

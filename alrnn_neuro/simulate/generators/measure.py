"""Measure a generator's routing from its simulated latents (the ground truth, not a fit).

For generators with named ``choice``, ``location`` and ``pitch`` latents (all but ``lstm``),
regress, separately per rule, each stimulus-epoch bin's choice on the previous bin's choice,
location and pitch (non-cue trials, both bins in the stimulus epoch)::

    choice_t = a · choice_{t-1} + β_location · location_{t-1} + β_pitch · pitch_{t-1} + c + e_t

Routing means the β's depend on the rule: ``pwl``, ``softplus`` and ``bilinear`` weigh
location in local blocks and pitch in pitch blocks; ``linear`` and ``no_routing`` weigh both
alike in both rules. :func:`routing_index` condenses this to one number.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import DataValidationError

FEATURES = ("location", "pitch")
RULES = ("local", "pitch")


def choice_feature_weights(ds: xr.Dataset) -> xr.DataArray:
    """Per rule, the choice latent's weights on the location and pitch latents.

    Parameters
    ----------
    ds : xr.Dataset
        A simulated stimulus-selection dataset with ``true_latents`` named ``choice``,
        ``location`` and ``pitch``.

    Returns
    -------
    xr.DataArray, dims (rule, feature)
        Least-squares β per rule (``local``, ``pitch``) and feature (``location``,
        ``pitch``), in choice units per bin.

    Raises
    ------
    DataValidationError
        If the dataset has no such latents (e.g. the ``lstm`` generator's).
    """
    names = list(ds["true_latent"].values) if "true_latents" in ds else []
    missing = [name for name in ("choice", *FEATURES) if name not in names]
    if missing:
        raise DataValidationError(
            f"true_latents lacks {missing}; fix: a dataset from a generator with named "
            "choice/location/pitch latents (pwl, linear, no_routing, softplus, bilinear)"
        )
    z = ds["true_latents"].values
    index = [names.index(name) for name in ("choice", *FEATURES)]
    stimulus = ds["epoch"].values == "stimulus"
    pairs = stimulus[:, 1:] & stimulus[:, :-1] & ~ds["cue_trial"].values[:, None]
    rules = ds["rule"].values
    weights = np.zeros((len(RULES), len(FEATURES)))
    for r, rule in enumerate(RULES):
        keep = pairs & (rules == rule)[:, None]
        previous = z[:, :-1][keep][:, index]
        design = np.column_stack([previous, np.ones(len(previous))])
        beta = np.linalg.lstsq(design, z[:, 1:][keep][:, index[0]], rcond=None)[0]
        weights[r] = beta[1:3]
    return xr.DataArray(
        weights, dims=("rule", "feature"), coords={"rule": list(RULES), "feature": list(FEATURES)}
    )


def routing_index(weights: xr.DataArray) -> float:
    """How much the rule changes which feature reaches the choice.

    ``(β_location − β_pitch)[local] − (β_location − β_pitch)[pitch]``: about 2 w (0.6) for
    full routing as in ``pwl``, 0 without routing.
    """
    contrast = weights.sel(feature="location") - weights.sel(feature="pitch")
    return float(contrast.sel(rule="local") - contrast.sel(rule="pitch"))

"""Convert RDMs and trial patterns to and from rsatoolbox (optional extra ``rsa``).

Naming of distances (ours -> rsatoolbox ``dissimilarity_measure``):

- ``sqeuclidean`` <-> ``"squared euclidean"`` (rsatoolbox's ``calc_rdm(method="euclidean")``:
  squared distance divided by the number of channels). ``euclidean`` RDMs are converted to
  that scale on export (``d**2 / n_features``) and come back as ``sqeuclidean``.
- ``mahalanobis`` <-> ``"squared mahalanobis"``; ``correlation`` and ``crossnobis`` keep their
  names (same definitions; crossnobis folds = rsatoolbox's ``cv_descriptor``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError

_TO_RSA = {
    "sqeuclidean": "squared euclidean",
    "mahalanobis": "squared mahalanobis",
    "correlation": "correlation",
    "crossnobis": "crossnobis",
}
_FROM_RSA = {v: k for k, v in _TO_RSA.items()} | {"euclidean": "sqeuclidean"}


def _rsatoolbox():
    try:
        import rsatoolbox
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "rsatoolbox is not installed; fix: pip install 'alrnn-neuro[rsa]'"
        ) from exc
    return rsatoolbox


def to_rsatoolbox(rdm: xr.DataArray):
    """An ``rsatoolbox.rdm.RDMs`` holding ``rdm`` (one RDM per element of its stacking dims).

    Parameters
    ----------
    rdm : xr.DataArray, dims (..., condition, condition2)

    Returns
    -------
    rsatoolbox.rdm.RDMs
        ``pattern_descriptors``: ``condition`` and the condition variables; ``rdm_descriptors``:
        one entry per stacking dim; ``descriptors``: our attrs.
    """
    rsatoolbox = _rsatoolbox()
    stack = [d for d in rdm.dims if d not in ("condition", "condition2")]
    ordered = rdm.transpose(*stack, "condition", "condition2")
    n = rdm.sizes["condition"]
    matrices = np.asarray(ordered.values, dtype=np.float64).reshape(-1, n, n)
    distance = rdm.attrs.get("distance")
    if distance == "euclidean":
        matrices = matrices**2 / float(rdm.attrs["n_features"])
        distance = "sqeuclidean"
    grid = np.meshgrid(*[np.arange(rdm.sizes[d]) for d in stack], indexing="ij")
    rdm_desc = {
        d: ordered[d].values[g.ravel()].tolist()
        for d, g in zip(stack, grid, strict=True)
        if d in ordered.coords
    }
    pattern_desc = {"condition": rdm["condition"].values.tolist()}
    for name, coord in rdm.coords.items():
        if coord.dims == ("condition",) and name != "condition":
            pattern_desc[str(name)] = coord.values.tolist()
    descriptors = {k: v for k, v in rdm.attrs.items() if k != "distance"}
    return rsatoolbox.rdm.RDMs(
        matrices,
        dissimilarity_measure=_TO_RSA.get(distance, distance),
        descriptors=descriptors,
        rdm_descriptors=rdm_desc or None,
        pattern_descriptors=pattern_desc,
    )


def from_rsatoolbox(rdms, *, dim: str | None = None) -> xr.DataArray:
    """An RDM DataArray from an ``rsatoolbox.rdm.RDMs``.

    Parameters
    ----------
    rdms : rsatoolbox.rdm.RDMs
    dim : str, optional
        Stacking dim for several RDMs (default: the first rdm descriptor other than
        ``index``, else ``"rdm"``). A single RDM gives dims (condition, condition2).

    Returns
    -------
    xr.DataArray, dims ([dim,] condition, condition2)
    """
    matrices = rdms.get_matrices()
    patterns = dict(rdms.pattern_descriptors)
    names = patterns.pop("condition", patterns.get("index"))
    coords: dict[str, object] = {"condition": np.asarray(names), "condition2": np.asarray(names)}
    for key, values in patterns.items():
        if key != "index":
            coords[key] = ("condition", np.asarray(values))
    attrs = dict(rdms.descriptors)
    measure = rdms.dissimilarity_measure
    attrs["distance"] = _FROM_RSA.get(measure, measure) if measure else "unknown"
    if rdms.n_rdm == 1 and dim is None:
        return xr.DataArray(
            matrices[0], dims=("condition", "condition2"), coords=coords, name="rdm", attrs=attrs
        )
    keys = [k for k in rdms.rdm_descriptors if k != "index"]
    dim = dim or (keys[0] if keys else "rdm")
    values = rdms.rdm_descriptors.get(dim, rdms.rdm_descriptors["index"])
    coords[dim] = np.asarray(values)
    return xr.DataArray(
        matrices, dims=(dim, "condition", "condition2"), coords=coords, name="rdm", attrs=attrs
    )


def to_rsatoolbox_dataset(
    patterns: xr.DataArray, labels: xr.DataArray, folds: np.ndarray | None = None
):
    """An ``rsatoolbox.data.Dataset`` of per-trial patterns (trial, feature).

    ``obs_descriptors``: ``condition`` (labels), ``trial`` ids (as str) and, if given,
    ``fold`` (str; use as ``cv_descriptor="fold"`` for crossnobis); ``channel_descriptors``:
    ``feature``.
    """
    rsatoolbox = _rsatoolbox()
    if patterns.ndim != 2:
        raise ConfigError(
            f"patterns has dims {patterns.dims}; select one segment first, "
            "e.g. patterns.sel(epoch='stimulus')"
        )
    # ids as str: rsatoolbox fills NaN into numeric descriptors when averaging, which warns
    obs = {
        "condition": labels.values.astype(str).tolist(),
        "trial": labels["trial"].values.astype(str).tolist(),
    }
    if folds is not None:
        obs["fold"] = np.asarray(folds).astype(str).tolist()
    feature = patterns.dims[1]
    chans = (
        patterns[feature].values.tolist()
        if feature in patterns.coords
        else list(range(patterns.shape[1]))
    )
    return rsatoolbox.data.Dataset(
        np.asarray(patterns.transpose("trial", feature).values, dtype=np.float64),
        obs_descriptors=obs,
        channel_descriptors={"feature": chans},
    )

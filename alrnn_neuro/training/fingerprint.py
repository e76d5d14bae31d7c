"""Fingerprints that tie a run (or sweep) to the dataset it was fitted to.

:func:`dataset_fingerprint` hashes what the model saw: observations, inputs, masks and ids.
Trial labels (rule, choice, location, ...) and the bins' epoch labels are not seen by most
fits, but they drive the behaviour head, the split strata, the PSTH baseline and every
analysis; a dataset with shuffled labels has the same dataset fingerprint. So
:func:`label_fingerprints` hashes each label on its own, and :func:`changed_labels` names those
that differ from a recorded set: labels added to a dataset after the fit are fine, labels whose
values changed are not.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import observation_variable

#: hex digits kept of each label's SHA-256
LABEL_DIGITS = 12


def dataset_fingerprint(ds: xr.Dataset) -> str:
    """SHA-256 (hex, 16 chars) of the observations, inputs, masks and ids of ``ds``."""
    digest = hashlib.sha256()
    names = (observation_variable(ds), "inputs", "valid", "observed", "loss_mask", "trial", "unit")
    for name in names:
        if name in ds.variables:
            values = np.ascontiguousarray(ds[name].values)
            digest.update(name.encode())
            digest.update(str(values.dtype).encode() + str(values.shape).encode())
            digest.update(values.tobytes())
    return digest.hexdigest()[:16]


def label_fingerprints(ds: xr.Dataset) -> dict[str, str]:
    """SHA-256 (hex, :data:`LABEL_DIGITS` chars) of each trial label and of ``epoch``.

    Labels are the coords along ``trial`` alone (not ``trial`` itself), hashed as text, so a
    label reads the same from memory and from its HDF5 file.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"trial": [0, 1], "rule": ("trial", ["a", "b"])})
    >>> shuffled = ds.assign_coords(rule=("trial", ["b", "a"]))
    >>> label_fingerprints(ds) == label_fingerprints(shuffled)
    False
    """
    names = sorted(str(n) for n, c in ds.coords.items() if c.dims == ("trial",) and n != "trial")
    if "epoch" in ds.variables:
        names.append("epoch")
    out = {}
    for name in names:
        text = np.asarray(ds[name].values).astype(str)
        digest = hashlib.sha256(str(text.shape).encode())
        digest.update("\x1f".join(text.ravel().tolist()).encode())
        out[name] = digest.hexdigest()[:LABEL_DIGITS]
    return out


def changed_labels(recorded: dict[str, str] | None, ds: xr.Dataset) -> list[str]:
    """The labels of ``recorded`` (:func:`label_fingerprints` at fit time; None for runs of
    older versions) that ``ds`` holds with other values, sorted."""
    return relabelled(recorded, label_fingerprints(ds)) if recorded else []


def relabelled(before: dict[str, str] | None, after: dict[str, str] | None) -> list[str]:
    """The labels both fingerprint sets hold with other values, sorted (None: no labels)."""
    before, after = before or {}, after or {}
    return sorted(name for name in before.keys() & after.keys() if before[name] != after[name])

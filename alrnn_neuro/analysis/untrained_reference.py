"""What the fit's own initialisation already shows: the untrained reference of a one-fit analysis.

A fitted AL-RNN's regions can line up with the task epochs, and its detectors can find gates,
without any training: the task inputs switch the ReLU units of a random network with the
epochs (measured on the demo recipe: an untrained network's region/epoch AMI 0.26, above a
short fit's 0.07, both with circular-shift p = 0.005). A one-fit analysis therefore runs the
network the fit started from (same config, same model seed, same inputs, initial states and
readout at their initialisation: :func:`~alrnn_neuro.training.api.initial_fit`) through the
same alignment score and primitive detectors, and names the findings it shows too:

* ``epoch_alignment``: the fit's region/epoch AMI is not above the untrained network's by
  :data:`AMI_MARGIN` (the margin of the reproduction's ``epoch_alignment`` claim);
* a primitive (``integration``, ``gating``, ``rule_integration``, ...): detected in both.

Such a finding is a property of the inputs and the architecture, not of training; the
summary's ``shared_with_untrained`` lists them and ``alrnn-neuro analyze`` prints them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis import alignment as al
from alrnn_neuro.analysis.primitives import detect_primitives, to_records
from alrnn_neuro.analysis.primitives.common import observation_weights
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.training.api import initial_fit

logger = logging.getLogger(__name__)

__all__ = ["AMI_MARGIN", "shared_with_untrained", "untrained_reference"]

#: how far above the untrained network's region/epoch AMI a fit must lie for its alignment to
#: count as learned (the reproduction's ``epoch_alignment.min_gain_over_untrained``)
AMI_MARGIN = 0.02


def untrained_reference(
    fit: Any,
    dataset: xr.Dataset,
    inputs: xr.DataArray,
    *,
    evidence_inputs: Sequence[str] | None,
    gate_inputs: Sequence[str] | None,
    rule: str | None,
    n_null: int,
    seed: int,
    detectors: bool = True,
) -> dict[str, Any]:
    """Region/epoch AMI and detected primitives of the network ``fit`` started from.

    Parameters
    ----------
    fit : FitResult
        The analysed fit (its ``config`` rebuilds the initial network, seed included).
    dataset : xr.Dataset
        The fitted dataset.
    inputs : DataArray, dims (trial, time, input)
        Its inputs on the fit's trials and time bins (as the fit's analysis read them).
    evidence_inputs, gate_inputs, rule, n_null, seed
        As the fit's analysis used them (the same detectors, options and null draws).
    detectors : bool
        False: the AMI only (the cheap part, for analyses of many fits).

    Returns
    -------
    dict
        ``model_seed``; ``epoch_ami`` (None without two epoch labels); ``primitives_found``
        (sorted kinds; empty without ``detectors``); ``n_detected`` (kind -> detected rows);
        ``detectors``.
    """
    untrained = initial_fit(dataset, fit.config)
    lat = untrained.latents.sel(trial=fit.latents["trial"].values)
    bitcode, valid, epoch = lat["bitcode"], lat["valid"], lat["epoch"]
    records = []
    if detectors:
        table = detect_primitives(
            ALRNNParams.from_model(untrained),
            bitcode,
            inputs,
            valid=valid,
            epoch=epoch,
            evidence_inputs=evidence_inputs,
            gate_inputs=gate_inputs,
            rule=rule,
            observation=observation_weights(untrained.model),
            seed=seed,
            n_null=n_null,
        )
        records = to_records(table)
    kinds = [r["primitive"] for r in records if r.get("detected")]
    return {
        "model_seed": int(fit.config.seed),
        "epoch_ami": _epoch_ami(bitcode, valid, epoch),
        "primitives_found": sorted(set(kinds)),
        "n_detected": {k: kinds.count(k) for k in sorted(set(kinds))},
        "detectors": detectors,
    }


def shared_with_untrained(summary: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """The fit's findings that its untrained network shows too (see the module docstring).

    Examples
    --------
    >>> fit = {"epoch_ami": 0.07, "primitives_found": ["gating", "integration"]}
    >>> shared_with_untrained(fit, {"epoch_ami": 0.26, "primitives_found": ["gating"]})
    ['epoch_alignment', 'gating']
    >>> shared_with_untrained(fit, {"epoch_ami": 0.01, "primitives_found": []})
    []
    """
    shared = []
    ami, ami_untrained = summary.get("epoch_ami"), reference.get("epoch_ami")
    if ami is not None and ami_untrained is not None and ami < ami_untrained + AMI_MARGIN:
        shared.append("epoch_alignment")
    found = set(reference.get("primitives_found", ()))
    return shared + [p for p in summary.get("primitives_found", ()) if p in found]


def _epoch_ami(bitcode: xr.DataArray, valid: xr.DataArray, epoch: xr.DataArray) -> float | None:
    """AMI(region; epoch) over the valid steps (no null: it is the reference value)."""
    table = al.alignment_scores(bitcode, valid, epoch, (), n_null=0)
    row = table[(table["variable"] == "epoch") & (table["epoch"] == "all")]
    if not len(row):
        return None
    value = float(row["ami"].iloc[0])
    return value if np.isfinite(value) else None

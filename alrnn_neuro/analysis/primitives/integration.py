"""Integration: a used region whose map has a slow mode (eigenvalue ~ 1) carrying an input.

:func:`integrating_modes` reads the mode nearest 1 of each region off its exact Jacobian;
:func:`detect_integration` asks which used regions integrate which evidence input, and
:func:`detect_slow_modes` is its input-free form (a slow mode in a used region, for models fitted
without task inputs). Both tell a slow, non-expanding mode (``|lambda| <= 1 + max_growth``) from
an expanding one, which is not counted. Notation in :mod:`~alrnn_neuro.analysis.primitives.common`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.primitives.common import (
    active_epochs,
    condition_levels,
    input_indices,
    is_aligned,
    trial_steps,
)
from alrnn_neuro.models.params import ALRNNParams

logger = logging.getLogger(__name__)

__all__ = ["detect_integration", "detect_slow_modes", "integrating_modes", "mode_kind"]


def mode_kind(eigenvalue: float, eps: float, max_growth: float) -> str:
    """``"slow"`` (``|lambda - 1| <= eps`` and ``lambda <= 1 + max_growth``), ``"expanding"``
    (near 1 but growing faster than ``max_growth`` per step) or ``"none"``.

    Examples
    --------
    >>> [mode_kind(x, 0.05, 0.01) for x in (0.98, 1.04, 0.5)]
    ['slow', 'expanding', 'none']
    """
    if abs(eigenvalue - 1.0) > eps:
        return "none"
    return "slow" if eigenvalue <= 1.0 + max_growth else "expanding"


def integrating_modes(params: ALRNNParams, codes: Sequence[int]) -> pd.DataFrame:
    """The mode with eigenvalue closest to 1 in each region and how each input reaches it.

    Parameters
    ----------
    params : ALRNNParams
        The model.
    codes : sequence of int
        Regions.

    Returns
    -------
    DataFrame
        One row per (region, input index ``k``), or one row per region with ``k = -1`` for an
        input-free model: ``eigenvalue`` (real part), ``modulus`` (``|lambda|``), ``distance``
        (``|lambda - 1|``), ``cosine_right`` (``|cos(v, C_k)|``), ``cosine_left``
        (``|cos(w, C_k)|``), ``gain`` (``w^T C_k``: persistent change of the mode coordinate per
        unit input), plus arrays ``v``/``w`` (latent,) as lists.
    """
    C = params.C
    codes = params.check_codes(np.asarray(codes, np.int64))
    J = params.region_jacobians(codes)
    ev, V = np.linalg.eig(J)
    rows = []
    for r, code in enumerate(codes):
        i = int(np.argmin(np.abs(ev[r] - 1)))
        v = np.real(V[r][:, i] * np.exp(-1j * np.angle(V[r][np.argmax(np.abs(V[r][:, i])), i])))
        v /= np.linalg.norm(v)
        try:
            w = np.real(np.linalg.inv(V[r])[i])
            w = w / (w @ v)
        except np.linalg.LinAlgError:
            w = np.full_like(v, np.nan)
        mode = {
            "region": int(code),
            "eigenvalue": float(ev[r, i].real),
            "modulus": float(abs(ev[r, i])),
            "distance": float(abs(ev[r, i] - 1)),
            "v": v.tolist(),
            "w": w.tolist(),
        }
        if not C.shape[1]:
            empty = {"k": -1, "cosine_right": np.nan, "cosine_left": np.nan, "gain": np.nan}
            rows.append(mode | empty)
        for k in range(C.shape[1]):
            ck = C[:, k]
            norm = np.linalg.norm(ck) or np.nan
            rows.append(
                mode
                | {
                    "k": k,
                    "cosine_right": float(abs(v @ ck) / norm),
                    "cosine_left": float(abs(w @ ck) / (np.linalg.norm(w) * norm)),
                    "gain": float(w @ ck),
                }
            )
    return pd.DataFrame(rows)


def detect_integration(
    params: ALRNNParams,
    bitcode: xr.DataArray,
    inputs: xr.DataArray,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    evidence_inputs: Sequence[str] | None = None,
    conditions: Sequence[str] = (),
    eps: float = 0.05,
    max_growth: float = 0.01,
    cos_threshold: float = 0.5,
    min_occupancy: float = 0.05,
    alignment: str = "either",
) -> pd.DataFrame:
    """Integration: a used region with a slow mode (eigenvalue ~1) that carries an input.

    Operational definition: in an epoch where evidence channel k is active (mean |s_k| >= 10 %
    of its largest epoch mean), a region occupied on >= ``min_occupancy`` of the valid steps
    (of the condition's trials) has a *slow* mode (``|lambda - 1| <= eps`` and
    ``lambda <= 1 + max_growth``: an expanding mode is reported as ``mode_kind="expanding"``
    and not counted) and the input ``C_k`` is aligned with it: ``|cos(v, C_k)| >=
    cos_threshold`` (the eigenvector carries the input) or ``|cos(w, C_k)| >= cos_threshold``
    (the mode reads the input; the two coincide for normal J), per ``alignment`` ("right",
    "left" or "either").

    Parameters
    ----------
    params : ALRNNParams
        The model.
    bitcode : DataArray of int, dims (trial, time), with trial coords
    inputs : DataArray, dims (trial, time, input)
    valid, epoch : DataArray, dims (trial, time), optional
    evidence_inputs : sequence of str, optional
        Channels that carry evidence (default: all).
    conditions : sequence of str
        Trial coords; rows per level besides ``condition="all"``.
    eps, max_growth, cos_threshold, min_occupancy, alignment : see above.

    Returns
    -------
    DataFrame
        ``primitive``, ``detected``, ``epoch``, ``condition``, ``region``, ``input``,
        ``occupancy``, ``eigenvalue``, ``mode_kind``, ``cosine_right``, ``cosine_left``,
        ``gain``.
    """
    codes, ok, lab, S = trial_steps(bitcode, valid, epoch, inputs)
    names = [str(x) for x in inputs["input"].values]
    modes: dict[int, list[dict]] = {}  # per region, one record per input
    rows = []
    for k in input_indices(inputs, evidence_inputs):
        for e in active_epochs(S, ok, lab, k):
            used = _used_regions(codes, ok & (lab == e), bitcode, conditions, min_occupancy)
            for cond, code, occ in used:
                if code not in modes:
                    modes[code] = integrating_modes(params, [code]).to_dict("records")
                md = modes[code][k]
                kind = mode_kind(md["eigenvalue"], eps, max_growth)
                rows.append(
                    {
                        "primitive": "integration",
                        "detected": bool(
                            kind == "slow" and is_aligned(md, cos_threshold, alignment)
                        ),
                        "epoch": e,
                        "condition": cond,
                        "region": code,
                        "input": names[k],
                        "occupancy": occ,
                        "eigenvalue": md["eigenvalue"],
                        "mode_kind": kind,
                        "cosine_right": md["cosine_right"],
                        "cosine_left": md["cosine_left"],
                        "gain": md["gain"],
                    }
                )
    return pd.DataFrame(rows)


def detect_slow_modes(
    params: ALRNNParams,
    bitcode: xr.DataArray,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    conditions: Sequence[str] = (),
    eps: float = 0.05,
    max_growth: float = 0.01,
    min_occupancy: float = 0.05,
) -> pd.DataFrame:
    """Input-free integration: used regions whose map has a slow, non-expanding mode.

    For models fitted without task inputs (nothing to align a mode with): per epoch (all
    valid steps without ``epoch``) and condition level, every region occupied on >=
    ``min_occupancy`` of the steps, with its mode nearest 1. Detected when that mode is slow
    (``|lambda - 1| <= eps``, ``lambda <= 1 + max_growth``): the region can hold a value, a
    memory or integrator candidate. Which input it integrates cannot be said.

    Returns
    -------
    DataFrame
        ``primitive`` (``"slow_mode"``), ``detected``, ``epoch``, ``condition``, ``region``,
        ``occupancy``, ``eigenvalue``, ``mode_kind``.
    """
    codes, ok, lab, _ = trial_steps(bitcode, valid, epoch, None)
    rows = []
    for e in [x for x in dict.fromkeys(lab[ok].tolist()) if x != ""]:
        used = _used_regions(codes, ok & (lab == e), bitcode, conditions, min_occupancy)
        for cond, code, occ in used:
            md = integrating_modes(params, [code]).iloc[0]
            kind = mode_kind(md["eigenvalue"], eps, max_growth)
            rows.append(
                {
                    "primitive": "slow_mode",
                    "detected": kind == "slow",
                    "epoch": e,
                    "condition": cond,
                    "region": code,
                    "occupancy": occ,
                    "eigenvalue": md["eigenvalue"],
                    "mode_kind": kind,
                }
            )
    return pd.DataFrame(rows)


def _used_regions(codes, steps, bitcode, conditions, min_occupancy):
    """(condition, region, occupancy) of every region used on >= ``min_occupancy`` of steps."""
    for cond, trials in condition_levels(bitcode, conditions):
        m = steps & trials[:, None]
        if not m.any():
            continue
        regs, counts = np.unique(codes[m], return_counts=True)
        for code, occ in zip(regs, counts / m.sum(), strict=True):
            if occ >= min_occupancy:
                yield cond, int(code), float(occ)

"""Computational primitives read off the piecewise-linear structure of a fitted AL-RNN.

Each detector returns a :class:`pandas.DataFrame`, one row per candidate (epoch, condition,
region, input) with a boolean ``detected`` and the evidence numbers; :func:`detect_primitives`
stacks them. Operational definitions are in each function's docstring. Notation: in region d,
``J_d`` has eigenvalues lambda with right eigenvectors v (unit norm) and left eigenvectors w
(``w^T J_d = lambda w^T``, scaled so ``w^T v = 1``); a pulse u added to z moves the mode
coordinate ``w^T z`` by ``w^T u`` and, for lambda = 1, the change persists (integration).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binomtest

from alrnn_neuro.analysis.checks import check_bitcode, check_epoch, trial_variable
from alrnn_neuro.analysis.dynamics import region_jacobians
from alrnn_neuro.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "detect_gating",
    "detect_integration",
    "integrating_modes",
]


def integrating_modes(
    A: np.ndarray, W: np.ndarray, C: np.ndarray, n_pwl: int, codes: Sequence[int]
) -> pd.DataFrame:
    """The mode with eigenvalue closest to 1 in each region and how each input reaches it.

    Parameters
    ----------
    A, W, C : ndarray
        Shapes (M,), (M, M), (M, K).
    n_pwl : int
    codes : sequence of int
        Regions.

    Returns
    -------
    DataFrame
        One row per (region, input index ``k``): ``eigenvalue`` (real part), ``distance``
        (``|lambda - 1|``), ``cosine_right`` (``|cos(v, C_k)|``), ``cosine_left``
        (``|cos(w, C_k)|``), ``gain`` (``w^T C_k``: persistent change of the mode coordinate per
        unit input), plus arrays ``v``/``w`` (M,) as lists.
    """
    C = np.asarray(C, np.float64)
    codes = np.asarray(codes, np.int64)
    J = region_jacobians(A, W, codes, n_pwl)
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
        for k in range(C.shape[1]):
            ck = C[:, k]
            norm = np.linalg.norm(ck) or np.nan
            rows.append(
                {
                    "region": int(code),
                    "k": k,
                    "eigenvalue": float(ev[r, i].real),
                    "distance": float(abs(ev[r, i] - 1)),
                    "cosine_right": float(abs(v @ ck) / norm),
                    "cosine_left": float(abs(w @ ck) / (np.linalg.norm(w) * norm)),
                    "gain": float(w @ ck),
                    "v": v.tolist(),
                    "w": w.tolist(),
                }
            )
    return pd.DataFrame(rows)


def _steps(bitcode, valid, epoch, inputs):
    codes, ok = check_bitcode(bitcode, valid)
    lab = check_epoch(epoch, codes.shape) if epoch is not None else np.where(ok, "all", "")
    S = None if inputs is None else inputs.transpose("trial", "time", "input").values
    return codes, ok, lab, S


def _channel_epochs(S, ok, lab, k: int, frac: float = 0.1) -> list[str]:
    """Epochs where input k is active: mean |s_k| >= frac * its largest epoch mean (and > 0)."""
    names = [e for e in dict.fromkeys(lab[ok].tolist()) if e != ""]
    means = np.array([np.abs(S[ok & (lab == e), k]).mean() for e in names])
    top = means.max(initial=0.0)
    return [e for e, m in zip(names, means, strict=True) if top > 0 and m >= frac * top]


def _levels(bitcode, conditions) -> list[tuple[str, np.ndarray]]:
    """("all", all-trials mask) plus ("var=level", mask) for each trial-variable level."""
    out = [("all", np.ones(bitcode.sizes["trial"], bool))]
    for var in conditions:
        name, values = trial_variable(bitcode, var)
        vals = np.asarray(values).astype(str)
        out += [(f"{name}={lv}", vals == lv) for lv in dict.fromkeys(vals.tolist())]
    return out


def _input_index(inputs: xr.DataArray, names) -> list[int]:
    all_names = [str(x) for x in inputs["input"].values]
    names = all_names if names is None else list(names)
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise ConfigError(
            f"input channels {unknown} not in inputs {all_names}. Fix: use those names."
        )
    return [all_names.index(n) for n in names]


def _aligned(row, cos_threshold: float, alignment: str) -> bool:
    if alignment not in ("right", "left", "either"):
        raise ConfigError(f"alignment={alignment!r}; choose 'right', 'left' or 'either'.")
    right, left = row["cosine_right"] >= cos_threshold, row["cosine_left"] >= cos_threshold
    return {"right": right, "left": left, "either": right or left}[alignment]


def detect_integration(
    A: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    n_pwl: int,
    bitcode: xr.DataArray,
    inputs: xr.DataArray,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    evidence_inputs: Sequence[str] | None = None,
    conditions: Sequence[str] = (),
    eps: float = 0.05,
    cos_threshold: float = 0.5,
    min_occupancy: float = 0.05,
    alignment: str = "either",
) -> pd.DataFrame:
    """Integration: a used region with an eigenvalue ~1 whose mode carries the evidence input.

    Operational definition: in an epoch where evidence channel k is active (mean |s_k| >= 10 %
    of its largest epoch mean), a region occupied on >= ``min_occupancy`` of the valid steps
    (of the condition's trials) has an eigenvalue with ``|lambda - 1| <= eps`` and the input
    ``C_k`` is aligned with the mode: ``|cos(v, C_k)| >= cos_threshold`` (the eigenvector
    carries the input) or ``|cos(w, C_k)| >= cos_threshold`` (the mode reads the input; the
    two coincide for normal J), per ``alignment`` ("right", "left" or "either").

    Parameters
    ----------
    A, W, C : ndarray
        Shapes (M,), (M, M), (M, K).
    n_pwl : int
    bitcode : DataArray of int, dims (trial, time), with trial coords
    inputs : DataArray, dims (trial, time, input)
    valid, epoch : DataArray, dims (trial, time), optional
    evidence_inputs : sequence of str, optional
        Channels that carry evidence (default: all).
    conditions : sequence of str
        Trial coords; rows per level besides ``condition="all"``.
    eps, cos_threshold, min_occupancy, alignment : see above.

    Returns
    -------
    DataFrame
        ``primitive``, ``detected``, ``epoch``, ``condition``, ``region``, ``input``,
        ``occupancy``, ``eigenvalue``, ``cosine_right``, ``cosine_left``, ``gain``.
    """
    codes, ok, lab, S = _steps(bitcode, valid, epoch, inputs)
    modes: dict[int, pd.DataFrame] = {}
    rows = []
    for k in _input_index(inputs, evidence_inputs):
        for e in _channel_epochs(S, ok, lab, k):
            for cond, trials in _levels(bitcode, conditions):
                m = ok & (lab == e) & trials[:, None]
                if not m.any():
                    continue
                regs, counts = np.unique(codes[m], return_counts=True)
                for code, occ in zip(regs, counts / m.sum(), strict=True):
                    if occ < min_occupancy:
                        continue
                    if int(code) not in modes:
                        modes[int(code)] = integrating_modes(A, W, C, n_pwl, [code])
                    md = modes[int(code)].iloc[k]
                    rows.append(
                        {
                            "primitive": "integration",
                            "detected": bool(
                                md["distance"] <= eps and _aligned(md, cos_threshold, alignment)
                            ),
                            "epoch": e,
                            "condition": cond,
                            "region": int(code),
                            "input": str(inputs["input"].values[k]),
                            "occupancy": float(occ),
                            "eigenvalue": md["eigenvalue"],
                            "cosine_right": md["cosine_right"],
                            "cosine_left": md["cosine_left"],
                            "gain": md["gain"],
                        }
                    )
    return pd.DataFrame(rows)


def _label_mode(x: np.ndarray) -> str:
    vals, counts = np.unique(x, return_counts=True)
    return str(vals[np.argmax(counts)])


def _mode(x: np.ndarray) -> int:
    vals, counts = np.unique(x, return_counts=True)
    return int(vals[np.argmax(counts)])


def detect_gating(
    A: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    n_pwl: int,
    bitcode: xr.DataArray,
    inputs: xr.DataArray,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    gate_inputs: Sequence[str] | None = None,
    target_inputs: Sequence[str] | None = None,
    conditions: Sequence[str] = (),
    window: int = 2,
    horizon: int = 10,
    threshold: float = 0.0,
    eps: float = 0.05,
    alpha: float = 0.05,
    min_gain_ratio: float = 2.0,
) -> pd.DataFrame:
    """Gating: an input's onset flips the bitcode and changes how another input is integrated.

    Operational definition. Onsets of gate channel g: valid steps t with ``|s_g(t)| >
    threshold`` and ``|s_g(t-1)| <= threshold``. A *flip* is a code change within
    ``t .. t+window-1`` relative to the code at t-1; its rate at onsets is compared with the
    same rate at all other steps whose window does not overlap an onset (one-sided binomial
    test, p-value ``p_flip``). Regions before (modal code at t-1) and after (modal code at
    t+window-1 of flipped onsets) define the gate.
    The integrating direction w is the left eigenvector of the mode with ``|lambda - 1| <= eps``
    in either region that the target channel j reaches most (largest ``|w^T C_j|``); the
    effective gain of j in region d is ``g_d = w^T J_d^horizon C_j`` (what remains on the
    integrating direction ``horizon`` steps after a unit pulse). Gating is detected when
    ``p_flip < alpha``, an integrating mode exists and ``|g_after| / |g_before|`` is
    ``>= min_gain_ratio`` or ``<= 1 / min_gain_ratio``.

    Returns
    -------
    DataFrame
        ``primitive``, ``detected``, ``epoch`` (modal epoch label at the onsets; "all" without
        ``epoch``), ``condition``, ``input`` (gate), ``target``,
        ``region_before``, ``region_after``, ``n_onsets``, ``flip_rate``, ``baseline_flip_rate``,
        ``p_flip``, ``integrator_eigenvalue``, ``gain_before``, ``gain_after``, ``gain_ratio``.
    """
    codes, ok, lab, S = _steps(bitcode, valid, epoch, inputs)
    C = np.asarray(C, np.float64)
    T = codes.shape[1]
    span = np.zeros_like(ok)  # t-1 .. t+window-1 all valid
    span[:, 1 : T - window + 1] = np.all(
        [ok[:, i : T - window + i] for i in range(window + 1)], axis=0
    )
    changed = np.zeros_like(ok)
    changed[:, 1 : T - window + 1] = np.any(
        [codes[:, 1 + i : T - window + 1 + i] != codes[:, : T - window] for i in range(window)],
        axis=0,
    )
    names = [str(x) for x in inputs["input"].values]
    rows = []
    for g in _input_index(inputs, gate_inputs):
        on = np.abs(S[..., g]) > threshold
        onset = np.zeros_like(ok)
        onset[:, 1:] = on[:, 1:] & ~on[:, :-1] & span[:, 1:]
        base = span & ~onset  # baseline windows must not overlap an onset's window
        for lag in range(1, window):
            base[:, : T - lag] &= ~onset[:, lag:]
        p0 = changed[base].mean() if base.any() else 0.0
        targets = [j for j in _input_index(inputs, target_inputs) if j != g]
        for cond, trials in _levels(bitcode, conditions):
            t_i, t_t = np.nonzero(onset & trials[:, None])
            if not len(t_i):
                continue
            flips = changed[t_i, t_t]
            before = _mode(codes[t_i, t_t - 1])
            after = _mode(codes[t_i, t_t + window - 1][flips]) if flips.any() else before
            p_flip = binomtest(
                int(flips.sum()), len(flips), min(max(p0, 1e-12), 1.0), alternative="greater"
            ).pvalue
            modes = integrating_modes(A, W, C, n_pwl, [before, after])
            Jb, Ja = region_jacobians(A, W, [before, after], n_pwl)
            for j in targets:
                cand = modes[(modes["k"] == j) & (modes["distance"] <= eps)]
                pick = cand if len(cand) else modes[modes["k"] == j]
                best = pick.iloc[int(np.argmax(np.abs(pick["gain"].to_numpy())))]
                w = np.asarray(best["w"])
                gb = float(w @ np.linalg.matrix_power(Jb, horizon) @ C[:, j])
                ga = float(w @ np.linalg.matrix_power(Ja, horizon) @ C[:, j])
                ratio = abs(ga) / abs(gb) if gb != 0 else (np.inf if ga != 0 else np.nan)
                gated = bool(ratio >= min_gain_ratio or ratio <= 1 / min_gain_ratio)
                rows.append(
                    {
                        "primitive": "gating",
                        "detected": bool(
                            p_flip < alpha and flips.mean() > p0 and len(cand) and gated
                        ),
                        "epoch": _label_mode(lab[t_i, t_t]),
                        "condition": cond,
                        "input": names[g],
                        "target": names[j],
                        "region_before": before,
                        "region_after": after,
                        "n_onsets": int(len(flips)),
                        "flip_rate": float(flips.mean()),
                        "baseline_flip_rate": float(p0),
                        "p_flip": float(p_flip),
                        "integrator_eigenvalue": float(best["eigenvalue"]),
                        "gain_before": gb,
                        "gain_after": ga,
                        "gain_ratio": float(ratio),
                    }
                )
    return pd.DataFrame(rows)

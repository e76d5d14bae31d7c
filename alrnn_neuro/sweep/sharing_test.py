"""Does region sharing across tasks fall with P *beyond* region counting? A test against a null.

The shared index of a multi-task AL-RNN (:func:`~alrnn_neuro.analysis.multitask.shared_index`)
falls with P for any network, trained or not: with 2^P regions, tasks driven by different
inputs land in different regions by counting alone. The null is therefore the same statistic
for networks matched on the number of regions and on the inputs: untrained networks of the same
M and P (:func:`~alrnn_neuro.sweep.multitask.sweep_multitask` with ``untrained=True``).

For the cells with P > 0 (P = 0 has one region, shared trivially), with x = log2 P and the
difference d = shared(trained) − shared(untrained) of each (P, model seed):

* **effect** = −slope of d on x (least squares over cells) = how much faster, per doubling of P,
  the trained networks' shared index falls than the untrained ones' (positive: training makes
  large-P networks more task-specific than counting does);
* **p-value**: permutation test of "d does not depend on P" (the d values are permuted across
  cells, P kept; one-sided, p = (1 + #{null ≥ effect}) / (1 + n_perm)); each network is a
  unit, the trials are not;
* **CI**: percentile bootstrap of the effect, cells resampled within each P.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from alrnn_neuro.errors import ConfigError

DEFAULT_N_PERM = 2000
DEFAULT_N_BOOT = 1000


def log2_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (NaN when ``x`` is constant).

    Examples
    --------
    >>> log2_slope(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, 0.0]))
    -0.5
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    dx = x - x.mean()
    var = float((dx**2).sum())
    return float((dx * (y - y.mean())).sum() / var) if var > 0 else float("nan")


def sharing_trend_test(
    trained: np.ndarray,
    untrained: np.ndarray,
    pwl_units: Sequence[int],
    *,
    n_perm: int = DEFAULT_N_PERM,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Whether the trained shared index falls faster with P than the untrained networks' does.

    Parameters
    ----------
    trained, untrained : ndarray, shape (pwl_units, seed)
        Shared index of each (P, model seed) network, trained and at its initialisation (NaN:
        missing; such cells are left out).
    pwl_units : sequence of int
        The P values of the rows.
    n_perm, n_boot : int
        Permutations of the null and bootstrap resamples of the interval (>= 1).
    confidence : float
        Level of the interval.
    seed : int
        Seed of the permutations and resamples.

    Returns
    -------
    dict
        ``testable`` (bool; False with fewer than two P > 0 with finite cells, ``reason`` says
        why), ``effect`` (see the module docstring), ``ci`` [lower, upper], ``p_value``,
        ``null_95`` (95th percentile of the permutation null), ``slope_trained`` and
        ``slope_untrained`` (shared index per doubling of P), ``n_cells``, ``pwl_units`` (P > 0
        used) and per P ``trained_mean`` / ``untrained_mean``.

    Raises
    ------
    ConfigError
        Shapes that do not match ``pwl_units``, or bad ``n_perm`` / ``n_boot`` / ``confidence``.

    Examples
    --------
    >>> ps = [0, 2, 4, 16]
    >>> untrained = np.array([[1.0] * 3, [0.8] * 3, [0.7] * 3, [0.6] * 3])
    >>> trained = untrained - np.array([[0.0], [0.0], [0.1], [0.3]]) + 0.01 * np.arange(3)
    >>> out = sharing_trend_test(trained, untrained, ps, n_perm=500, seed=1)
    >>> round(out["effect"], 3), out["p_value"] < 0.05
    (0.1, True)
    """
    trained, untrained = np.asarray(trained, float), np.asarray(untrained, float)
    ps = np.asarray([int(p) for p in pwl_units])
    if trained.ndim != 2 or trained.shape != untrained.shape or trained.shape[0] != ps.size:
        raise ConfigError(
            f"trained {trained.shape} and untrained {untrained.shape}; fix: two (pwl_units="
            f"{ps.size}, seed) arrays of shared indices"
        )
    for name, value in (("n_perm", n_perm), ("n_boot", n_boot)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r}; fix: use an integer >= 1, e.g. 1000")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence!r}; fix: a level in (0, 1), e.g. 0.95")
    rows = np.repeat(np.arange(ps.size), trained.shape[1])
    ok = (ps[rows] > 0) & np.isfinite(trained.ravel()) & np.isfinite(untrained.ravel())
    x = np.log2(np.maximum(ps[rows], 1))[ok].astype(float)
    s, u = trained.ravel()[ok], untrained.ravel()[ok]
    used = sorted({int(p) for p in ps[rows][ok]})
    out: dict[str, Any] = {"n_cells": int(ok.sum()), "pwl_units": used, "testable": True}
    out["trained_mean"] = [float(s[x == np.log2(p)].mean()) for p in used]
    out["untrained_mean"] = [float(u[x == np.log2(p)].mean()) for p in used]
    if len(used) < 2:
        return {**out, "testable": False, "reason": f"fewer than two P > 0 with data ({used})"}
    d = s - u
    effect = -log2_slope(x, d)
    rng = np.random.default_rng(seed)
    null = np.array([-log2_slope(x, rng.permutation(d)) for _ in range(n_perm)])
    groups = [np.flatnonzero(x == np.log2(p)) for p in used]
    boot = np.empty(n_boot)
    for b in range(n_boot):
        pick = np.concatenate([rng.choice(g, size=g.size) for g in groups])
        boot[b] = -log2_slope(x[pick], d[pick])
    tail = (1 - confidence) / 2
    return {
        **out,
        "effect": effect,
        "ci": np.quantile(boot, [tail, 1 - tail]).tolist(),
        "p_value": float((1 + np.sum(null >= effect - 1e-12)) / (1 + n_perm)),
        "null_95": float(np.quantile(null, 0.95)),
        "slope_trained": log2_slope(x, s),
        "slope_untrained": log2_slope(x, u),
    }

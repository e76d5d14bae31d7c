"""How much nonlinearity the data need: verdicts from per-trial held-out log-likelihoods.

Given, for every P of a sweep, the held-out log-likelihood of each trial (averaged over model
seeds), :func:`select_pwl_units` answers two questions with the statistics of
:mod:`alrnn_neuro.sweep.selection_stats` (trial = unit of inference, paired on the same trials):

**Is P = 0 insufficient?** For every P > 0, a one-sided test of H0 "P beats P = 0 by at most
``min_effect`` bits/spike"; the smallest p-value, times the number of P > 0 (Bonferroni), is
the p-value of "P = 0 is insufficient". The correction keeps the false-positive rate ≤ α when
no P beats P = 0 by ``min_effect``, whichever P looks best on these trials.

**Which P suffice?** P is *equivalent to the best* when it is not worse than any other P by
``margin`` or more (one-sided tests of H0 "P loses ≥ margin to P′" against every other P′; all
must reject: an intersection-union test, needing no multiplicity correction and valid
whichever P is truly best), and not better than the best-looking P by ``margin`` or more (the
other side of the two one-sided tests; it holds on these trials by construction). Its p-value
is the largest of these. The *minimal sufficient P* is the smallest P equivalent to the best;
when no P is (too few trials or spikes for the margin) the answer is "cannot tell" (NaN).

:func:`replicate_over_seeds` repeats both verdicts on each model seed alone and reports how
often they agree with the seed-averaged verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.sweep.selection_stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_MARGIN,
    DEFAULT_MIN_EFFECT,
    DEFAULT_N_BOOT,
    bootstrap_ci,
    effect_bits_per_spike,
    one_sided_test,
)

BOUNDS = ("lower", "upper")


def select_pwl_units(
    ll_model: np.ndarray,
    ll_psth: np.ndarray,
    n_spikes: np.ndarray,
    pwl_units: Sequence[int],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
    margin: float = DEFAULT_MARGIN,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> xr.Dataset:
    """Selection verdicts from per-trial held-out log-likelihoods of each P.

    Parameters
    ----------
    ll_model : ndarray, shape (pwl_units, trial)
        Held-out Poisson log-likelihood (nats) of each trial under the model of each P.
    ll_psth : ndarray, shape (trial,)
        The same under the PSTH baseline.
    n_spikes : ndarray, shape (trial,)
        Scored spikes of each trial.
    pwl_units : sequence of int
        The P values (>= 2 distinct).
    alpha : float
        Level of every test, in (0, 0.5).
    min_effect : float
        Smallest gain over P = 0 (bits/spike, >= 0) that makes P = 0 insufficient.
    margin : float
        Equivalence margin (bits/spike, > 0).
    n_boot : int
        Bootstrap resamples of the intervals (0: no intervals).
    confidence : float
        Level of the bootstrap intervals.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    xr.Dataset
        dims ``pwl_units``, ``bound`` (lower, upper). Per P: ``bits_per_spike`` (vs the PSTH)
        and ``bits_per_spike_ci``; ``gain_vs_zero`` / ``gain_vs_zero_ci`` (P minus P = 0,
        bits/spike) and ``p_vs_zero`` (one-sided p of a gain > ``min_effect``; NaN without
        P = 0 or at P = 0); ``gain_vs_best`` / ``gain_vs_best_ci`` and ``p_equivalent``,
        ``equivalent`` (see the module docstring). Scalars: ``best_pwl_units``,
        ``minimal_pwl_units`` (NaN: cannot tell), ``zero_insufficient`` (1.0 holds, 0.0 not
        shown, NaN: no P = 0 in the sweep) and ``zero_insufficient_p`` (Bonferroni). attrs:
        the parameters, ``n_trials``, ``n_spikes``.

    Raises
    ------
    ConfigError
        Bad parameters, shapes, fewer than 2 P values or 2 trials.
    """
    pwl = _check_inputs(ll_model, ll_psth, n_spikes, pwl_units, alpha, min_effect, margin)
    ll_model = np.asarray(ll_model, float)
    ll_psth, n_spikes = np.asarray(ll_psth, float), np.asarray(n_spikes, float)
    means = ll_model.sum(axis=1)
    best = int(np.argmax(means))  # ties: the smallest P (P values are sorted)
    zero = pwl.index(0) if 0 in pwl else None
    n = len(pwl)

    p_vs_zero = np.full(n, np.nan)
    if zero is not None:
        for a in range(n):
            if a != zero:
                gain = ll_model[a] - ll_model[zero]
                p_vs_zero[a] = one_sided_test(gain, n_spikes, min_effect).p_value
    p_equivalent = np.array([_p_equivalent(ll_model, n_spikes, a, best, margin) for a in range(n)])
    equivalent = p_equivalent < alpha
    minimal = float(pwl[int(np.argmax(equivalent))]) if equivalent.any() else np.nan
    if zero is None:
        insufficient_p, insufficient = np.nan, np.nan
    else:
        insufficient_p = min(1.0, float(np.nanmin(p_vs_zero)) * (n - 1))
        insufficient = float(insufficient_p < alpha)

    reference = ll_model[zero] if zero is not None else np.full_like(ll_psth, np.nan)
    series = np.concatenate(
        [ll_model - ll_psth, ll_model - reference, ll_model - ll_model[best]], axis=0
    )
    point = np.array([effect_bits_per_spike(s, n_spikes) for s in series])
    ci = bootstrap_ci(series, n_spikes, n_boot=n_boot, confidence=confidence, seed=seed)
    point, ci = point.reshape(3, n), ci.reshape(3, n, 2)
    if zero is None:
        ci[1] = np.nan

    out = xr.Dataset(
        {
            "bits_per_spike": ("pwl_units", point[0]),
            "bits_per_spike_ci": (("pwl_units", "bound"), ci[0]),
            "gain_vs_zero": ("pwl_units", point[1]),
            "gain_vs_zero_ci": (("pwl_units", "bound"), ci[1]),
            "p_vs_zero": ("pwl_units", p_vs_zero),
            "gain_vs_best": ("pwl_units", point[2]),
            "gain_vs_best_ci": (("pwl_units", "bound"), ci[2]),
            "p_equivalent": ("pwl_units", p_equivalent),
            "equivalent": ("pwl_units", equivalent),
            "best_pwl_units": ((), pwl[best]),
            "minimal_pwl_units": ((), minimal),
            "zero_insufficient": ((), insufficient),
            "zero_insufficient_p": ((), insufficient_p),
        },
        coords={"pwl_units": list(pwl), "bound": list(BOUNDS)},
    )
    out.attrs.update(
        alpha=alpha,
        min_effect=min_effect,
        margin=margin,
        n_boot=n_boot,
        confidence=confidence,
        bootstrap_seed=seed,
        n_trials=int(n_spikes.size),
        n_spikes=float(n_spikes.sum()),
    )
    return out


def _p_equivalent(ll: np.ndarray, n_spikes: np.ndarray, a: int, best: int, margin: float) -> float:
    """p-value of "P_a is equivalent to the best" (see the module docstring)."""
    p_values = [
        one_sided_test(ll[a] - ll[b], n_spikes, -margin, greater=True).p_value
        for b in range(ll.shape[0])
        if b != a
    ]
    if a != best:
        p_values.append(one_sided_test(ll[a] - ll[best], n_spikes, margin, greater=False).p_value)
    return max(p_values)


def replicate_over_seeds(
    ll_model: np.ndarray,
    ll_psth: np.ndarray,
    n_spikes: np.ndarray,
    pwl_units: Sequence[int],
    pooled: xr.Dataset,
    **options: float,
) -> xr.Dataset:
    """The verdicts of :func:`select_pwl_units` on each model seed alone, and their agreement.

    Parameters
    ----------
    ll_model : ndarray, shape (pwl_units, seed, trial)
        Held-out log-likelihoods per P and model seed.
    ll_psth, n_spikes : ndarray, shape (trial,)
        As for :func:`select_pwl_units`.
    pwl_units : sequence of int
        The P values.
    pooled : xr.Dataset
        :func:`select_pwl_units` of the seed-averaged log-likelihoods.
    **options
        ``alpha``, ``min_effect``, ``margin`` (as for the pooled verdict).

    Returns
    -------
    xr.Dataset
        dim ``seed`` (positions 0..S-1; the caller labels them): ``seed_best_pwl_units``,
        ``seed_minimal_pwl_units``, ``seed_zero_insufficient``; scalars
        ``minimal_agreement`` and ``insufficient_agreement``: the share of seeds whose verdict
        equals the pooled one ("cannot tell" agrees with "cannot tell").
    """
    ll_model = np.asarray(ll_model, float)
    per_seed = [
        select_pwl_units(ll_model[:, s], ll_psth, n_spikes, pwl_units, n_boot=0, **options)
        for s in range(ll_model.shape[1])
    ]
    names = ("best_pwl_units", "minimal_pwl_units", "zero_insufficient")
    values = {name: np.array([float(r[name]) for r in per_seed]) for name in names}
    out = xr.Dataset({f"seed_{name}": ("seed", v) for name, v in values.items()})
    out["minimal_agreement"] = _agreement(values["minimal_pwl_units"], pooled["minimal_pwl_units"])
    out["insufficient_agreement"] = _agreement(
        values["zero_insufficient"], pooled["zero_insufficient"]
    )
    return out


def _agreement(per_seed: np.ndarray, pooled: xr.DataArray) -> float:
    target = float(pooled)
    same = (per_seed == target) | (np.isnan(per_seed) & np.isnan(target))
    return float(same.mean())


def _check_inputs(ll_model, ll_psth, n_spikes, pwl_units, alpha, min_effect, margin) -> list[int]:
    pwl = [int(p) for p in pwl_units]
    if len(set(pwl)) < 2 or pwl != sorted(set(pwl)):
        raise ConfigError(
            f"pwl_units={pwl}; fix: selection compares at least 2 distinct P values, in "
            "increasing order"
        )
    shape = np.shape(ll_model)
    if len(shape) != 2 or shape[0] != len(pwl) or np.shape(ll_psth) != (shape[1],):
        raise ConfigError(
            f"ll_model has shape {shape} and ll_psth {np.shape(ll_psth)}; fix: give "
            f"(pwl_units={len(pwl)}, trial) and (trial,)"
        )
    if np.shape(n_spikes) != (shape[1],):
        raise ConfigError(f"n_spikes has shape {np.shape(n_spikes)}; fix: give ({shape[1]},)")
    if not np.isfinite(ll_model).all():
        raise ConfigError("ll_model holds NaN/inf; fix: finish every cell of the sweep")
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha={alpha!r}; fix: use a level in (0, 0.5), e.g. 0.05")
    if not min_effect >= 0:
        raise ConfigError(f"min_effect={min_effect!r}; fix: use bits/spike >= 0, e.g. 0.002")
    if not margin > 0:
        raise ConfigError(f"margin={margin!r}; fix: use bits/spike > 0, e.g. 0.003")
    return pwl

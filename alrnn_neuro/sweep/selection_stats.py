"""Statistics of nonlinearity selection, with the held-out *trial* as the unit of inference.

Every comparison is a paired difference on the same held-out trials. For trials i = 1..N with
log-likelihood gains g_i (nats; e.g. the P = 2 model's minus the P = 0 model's log-likelihood of
trial i) and scored spike counts n_i, the effect in bits/spike is the ratio

    Δ = Σ g_i / (ln 2 · Σ n_i).

A hypothesis "Δ > θ" about this ratio is a hypothesis about the mean of the per-trial
*linearised contrasts* e_i = g_i / ln 2 − θ n_i (bits): Δ > θ exactly when E[e] > 0. Tests are
one-sample t-tests on e (N − 1 degrees of freedom), so the trial, never the bin, is the unit,
and trials with more spikes weigh more. Confidence intervals are percentile bootstrap intervals
of Δ over trials (resampled with replacement, seeded).

Tests
-----
* :func:`one_sided_test`: H0 Δ ≤ θ against H1 Δ > θ (or the mirror image).
* :func:`equivalence_test`: two one-sided tests (TOST), H0 |Δ| ≥ margin against
  H1 −margin < Δ < margin; p = the larger of the two one-sided p-values.
* :func:`select_pwl_units`: the selection verdicts built on them (see its docstring).

Calibration (``tests/test_selection_stats.py``): under simulated nulls the one-sided p-values
are uniform (light- and heavy-tailed symmetric per-trial differences, 40 trials); TOST at the
margin rejects at rate ≤ α. The t-test is approximate for strongly *skewed* per-trial
differences with few trials; with the hundreds of held-out trials of a fold sweep the central
limit theorem makes it accurate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from alrnn_neuro._resampling import check_n_boot as check_resamples
from alrnn_neuro.errors import ConfigError

#: significance level of every test
DEFAULT_ALPHA = 0.05
#: smallest gain over P = 0 (bits/spike) that counts as "P = 0 is insufficient"
DEFAULT_MIN_EFFECT = 0.002
#: largest loss against another P (bits/spike) that still counts as "as good as the best"
DEFAULT_MARGIN = 0.003
#: bootstrap resamples of the confidence intervals
DEFAULT_N_BOOT = 2000
#: level of the bootstrap confidence intervals
DEFAULT_CONFIDENCE = 0.95
#: bootstrap resamples drawn at once (bounds memory: chunk x series x trials numbers)
BOOT_CHUNK = 200
LN2 = math.log(2.0)


@dataclass(frozen=True)
class PairedTestResult:
    """A one-sample t-test on per-trial linearised contrasts.

    Attributes
    ----------
    effect : float
        Δ in bits/spike (ratio of sums, before subtracting the threshold).
    statistic : float
        t statistic of the contrasts.
    p_value : float
        One-sided p-value (for TOST, the larger of the two).
    n_trials : int
        Trials compared (degrees of freedom + 1).
    """

    effect: float
    statistic: float
    p_value: float
    n_trials: int


def effect_bits_per_spike(gain: np.ndarray, n_spikes: np.ndarray) -> float:
    """Δ = Σ gain / (ln 2 · Σ n_spikes) in bits/spike (NaN without spikes).

    Parameters
    ----------
    gain : ndarray, shape (trial,)
        Per-trial log-likelihood differences (nats).
    n_spikes : ndarray, shape (trial,)
        Per-trial scored spike counts.

    Examples
    --------
    >>> round(effect_bits_per_spike(np.array([0.7, 0.7]), np.array([10.0, 10.0])), 4)
    0.101
    """
    spikes = float(np.sum(n_spikes))
    return float(np.sum(gain)) / (LN2 * spikes) if spikes > 0 else float("nan")


def linearised_contrasts(gain: np.ndarray, n_spikes: np.ndarray, threshold: float) -> np.ndarray:
    """Per-trial e_i = gain_i / ln 2 − threshold · n_i (bits), whose mean is > 0 exactly when
    Δ > threshold.

    Parameters
    ----------
    gain : ndarray, shape (trial,)
        Log-likelihood differences (nats).
    n_spikes : ndarray, shape (trial,)
        Scored spike counts.
    threshold : float
        θ in bits/spike.
    """
    return np.asarray(gain, float) / LN2 - threshold * np.asarray(n_spikes, float)


def one_sided_test(
    gain: np.ndarray, n_spikes: np.ndarray, threshold: float = 0.0, *, greater: bool = True
) -> PairedTestResult:
    """Test H0 Δ ≤ threshold against H1 Δ > threshold (``greater=False``: the mirror image).

    Parameters
    ----------
    gain : ndarray, shape (trial,)
        Per-trial log-likelihood differences (nats), e.g. P = 2 minus P = 0.
    n_spikes : ndarray, shape (trial,)
        Per-trial scored spike counts.
    threshold : float
        θ in bits/spike (the minimum effect, or a margin).
    greater : bool
        Alternative Δ > θ (True) or Δ < θ (False).

    Returns
    -------
    PairedTestResult

    Raises
    ------
    ConfigError
        With fewer than 2 trials, or arrays of different lengths.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = rng.poisson(40, 200).astype(float)
    >>> gain = LN2 * (0.01 * n + rng.normal(0, 1, 200))
    >>> one_sided_test(gain, n, 0.002).p_value < 0.05
    True
    """
    gain, n_spikes = _paired(gain, n_spikes)
    contrasts = linearised_contrasts(gain, n_spikes, threshold)
    size = contrasts.size
    mean = float(contrasts.mean())
    sd = float(contrasts.std(ddof=1))
    sign = 1.0 if greater else -1.0
    if sd == 0.0:  # identical contrasts: no sampling error left
        t = math.copysign(math.inf, sign * mean) if mean != 0 else 0.0
        p = 0.0 if t == math.inf else (1.0 if t == -math.inf else 0.5)
    else:
        t = sign * mean / (sd / math.sqrt(size))
        p = float(stats.t.sf(t, size - 1))
    return PairedTestResult(effect_bits_per_spike(gain, n_spikes), t, p, size)


def equivalence_test(gain: np.ndarray, n_spikes: np.ndarray, margin: float) -> PairedTestResult:
    """Two one-sided tests (TOST) of H1 −margin < Δ < margin.

    Parameters
    ----------
    gain : ndarray, shape (trial,)
        Per-trial log-likelihood differences (nats).
    n_spikes : ndarray, shape (trial,)
        Per-trial scored spike counts.
    margin : float
        Equivalence margin in bits/spike (> 0).

    Returns
    -------
    PairedTestResult
        ``p_value`` = max of the two one-sided p-values; ``statistic`` the t of that side.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = rng.poisson(40, 300).astype(float)
    >>> equivalence_test(LN2 * rng.normal(0, 0.5, 300), n, 0.003).p_value < 0.05
    True
    """
    _check_positive("margin", margin)
    lower = one_sided_test(gain, n_spikes, -margin, greater=True)
    upper = one_sided_test(gain, n_spikes, margin, greater=False)
    return lower if lower.p_value >= upper.p_value else upper


def bootstrap_ci(
    gains: np.ndarray,
    n_spikes: np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> np.ndarray:
    """Percentile bootstrap intervals of Δ over trials, for several series at once.

    The same resampled trials are used for every series (paired), drawn from
    ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    gains : ndarray, shape (series, trial)
        Per-trial log-likelihood differences (nats) of each comparison.
    n_spikes : ndarray, shape (trial,)
        Per-trial scored spike counts.
    n_boot : int
        Resamples (>= 1; 0 gives NaN intervals; :func:`check_n_boot` states the minimum that
        the selection commands ask for).
    confidence : float
        Interval level in (0, 1).
    seed : int
        Seed of the resampling.

    Returns
    -------
    ndarray, shape (series, 2)
        Lower and upper bounds in bits/spike.
    """
    gains = np.atleast_2d(np.asarray(gains, float))
    n_spikes = np.asarray(n_spikes, float)
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence!r}; fix: use a level in (0, 1), e.g. 0.95")
    if n_boot == 0:
        return np.full((gains.shape[0], 2), np.nan)
    rng = np.random.default_rng(seed)
    size = n_spikes.size
    draws = []
    for start in range(0, n_boot, BOOT_CHUNK):
        idx = rng.integers(0, size, size=(min(BOOT_CHUNK, n_boot - start), size))
        spikes = n_spikes[idx].sum(axis=1)  # (chunk,)
        draws.append(gains[:, idx].sum(axis=2) / (LN2 * spikes))  # (series, chunk)
    values = np.concatenate(draws, axis=1)
    tail = (1.0 - confidence) / 2.0
    return np.quantile(values, [tail, 1.0 - tail], axis=1).T


def check_n_boot(n_boot: int) -> int:
    """:func:`alrnn_neuro._resampling.check_n_boot` with this module's default named.

    Examples
    --------
    >>> check_n_boot(2000), check_n_boot(0)
    (2000, 0)
    """
    return check_resamples(n_boot, default=DEFAULT_N_BOOT)


def _paired(gain: np.ndarray, n_spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gain = np.asarray(gain, float).ravel()
    n_spikes = np.asarray(n_spikes, float).ravel()
    if gain.size != n_spikes.size:
        raise ConfigError(
            f"gain has {gain.size} trials and n_spikes {n_spikes.size}; fix: give one value "
            "per held-out trial in both"
        )
    if gain.size < 2:
        raise ConfigError(
            f"{gain.size} held-out trial(s); fix: a paired test needs at least 2 trials"
        )
    if not (np.isfinite(gain).all() and np.isfinite(n_spikes).all()):
        raise ConfigError("gain or n_spikes holds NaN/inf; fix: give finite per-trial values")
    return gain, n_spikes


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name}={value!r}; fix: use a positive number of bits/spike")

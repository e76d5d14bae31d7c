"""How much nonlinearity a task needs: the selection verdicts on per-trial task correctness.

The tests are those of :mod:`alrnn_neuro.sweep.selection_verdict` (one-sided test of P = 0
insufficiency against a minimum effect, Bonferroni over P; equivalence to the best P within a
margin as an intersection-union of one-sided tests; the minimal sufficient P; bootstrap
intervals over trials), with the held-out *trial* as the unit and every comparison paired on the
same trials. Their effect is a ratio of sums Σ g_i / (ln 2 · Σ n_i); with g_i = ln 2 · c_i (c_i
the trial's correctness, averaged over model seeds) and n_i = 1 it is the mean of c, i.e. the
accuracy, and differences between P are differences in accuracy (fraction of trials). So
``min_effect`` and ``margin`` are in accuracy points here (0.05 = five percentage points), and
the tests are the very ones whose calibration ``tests/test_selection_stats.py`` checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.sweep.selection_stats import DEFAULT_ALPHA, DEFAULT_CONFIDENCE, LN2
from alrnn_neuro.sweep.selection_verdict import select_pwl_units

#: renamed outputs of select_pwl_units (its bits/spike are accuracies here)
RENAME = {"bits_per_spike": "accuracy", "bits_per_spike_ci": "accuracy_ci"}


def select_by_accuracy(
    correct: np.ndarray | xr.DataArray,
    pwl_units: Sequence[int] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = 0.05,
    margin: float = 0.10,
    n_boot: int = 1000,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> xr.Dataset:
    """Selection verdicts from per-trial correctness of each P (and model seed).

    Parameters
    ----------
    correct : ndarray or xr.DataArray, shape (pwl_units, seed, trial) or (pwl_units, trial)
        Per held-out trial: 1.0 right, 0.0 wrong, NaN not scored (e.g.
        :func:`~alrnn_neuro.sweep.task_scores.sweep_task_scores`). Model seeds are averaged
        per trial; trials with a NaN in any P are left out.
    pwl_units : sequence of int, optional
        The P values (default: the ``pwl_units`` coord of a DataArray).
    alpha : float
        Level of every test.
    min_effect : float
        Smallest accuracy gain over P = 0 that makes P = 0 insufficient (fraction of trials).
    margin : float
        Equivalence margin to the best P (fraction of trials).
    n_boot, confidence, seed
        Bootstrap resamples, level and seed of the intervals.

    Returns
    -------
    xr.Dataset
        As :func:`~alrnn_neuro.sweep.selection_verdict.select_pwl_units`, with
        ``accuracy`` / ``accuracy_ci`` (pwl_units) instead of bits/spike and gains in accuracy
        points, plus ``seed_accuracy`` (pwl_units, seed). attrs add ``n_trials`` (used) and
        ``n_unscored`` (left out).

    Raises
    ------
    ConfigError
        Bad shapes or parameters, fewer than 2 scored trials.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> right = lambda p: (rng.random((3, 200)) < p).astype(float)
    >>> out = select_by_accuracy(np.stack([right(0.3), right(0.97), right(0.97)]), [0, 2, 8])
    >>> bool(out["zero_insufficient"]), float(out["minimal_pwl_units"])
    (True, 2.0)
    """
    if pwl_units is None:
        if not isinstance(correct, xr.DataArray):
            raise ConfigError("pwl_units is missing; fix: pass the P values or a DataArray")
        pwl_units = [int(p) for p in correct["pwl_units"].values]
    values = np.asarray(correct, dtype=float)
    if values.ndim == 2:
        values = values[:, None, :]
    if values.ndim != 3 or values.shape[0] != len(pwl_units):
        raise ConfigError(
            f"correct has shape {np.shape(correct)}; fix: give (pwl_units={len(pwl_units)}, "
            "seed, trial) or (pwl_units, trial)"
        )
    scored = np.isfinite(values).all(axis=(0, 1))
    if scored.sum() < 2:
        raise ConfigError(
            f"{int(scored.sum())} scored held-out trial(s); fix: the comparison needs at least 2"
        )
    values = values[:, :, scored]
    if ((values < 0) | (values > 1)).any():
        raise ConfigError("correct holds values outside [0, 1]; fix: give 1.0 / 0.0 per trial")
    n = values.shape[2]
    out = select_pwl_units(
        LN2 * values.mean(axis=1),
        np.zeros(n),
        np.ones(n),
        pwl_units,
        alpha=alpha,
        min_effect=min_effect,
        margin=margin,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    ).rename(RENAME)
    out["seed_accuracy"] = (("pwl_units", "seed"), values.mean(axis=2))
    out.attrs.pop("n_spikes", None)
    out.attrs.update(units="accuracy (fraction of trials)", n_unscored=int((~scored).sum()))
    return out

"""Model-vs-data comparison tables: estimate, CI, p-value (raw and corrected), noise ceiling.

One row per element of the stacking dims (``epoch``, ``window``, ``region``, ``time``) shared
by the model and the data RDM; see :mod:`.inference` for the tests and intervals used.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.rsa.compare import (
    align_rdms,
    check_some_finite,
    compare_matrices,
    finite_conditions,
)
from alrnn_neuro.analysis.rsa.inference import (
    bootstrap_conditions,
    correct_pvalues,
    permutation_null,
    permutation_pvalue,
)
from alrnn_neuro.errors import ConfigError


def rsa_table(
    model_rdm: xr.DataArray,
    data_rdm: xr.DataArray,
    *,
    method: str = "spearman",
    n_perm: int = 10_000,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    correction: str = "holm",
    alternative: str = "greater",
    noise_ceiling: xr.Dataset | None = None,
    bootstrap: xr.DataArray | None = None,
    check_trials: bool = True,
) -> xr.Dataset:
    """Model-vs-data comparison per epoch/window/region with p-values, CIs and noise ceiling.

    Parameters
    ----------
    model_rdm, data_rdm : xr.DataArray, dims (..., condition, condition2)
        RDMs over the same conditions (see :func:`compare_rdms` for alignment).
    method : str
        Comparison method (``spearman``, ``kendall_tau_a``, ``pearson``, ``cosine``, ``cka``,
        ``cka_biased``).
    n_perm : int
        Condition-label permutations per element (0: no test).
    n_boot : int
        Bootstrap samples over conditions for the CI (0: none), unless ``bootstrap`` is given.
    ci : float
        Confidence level of the percentile interval.
    seed : int
        Seed; each element gets an independent child stream.
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
        Multiple-comparison correction across all elements.
    alternative : {"greater", "two-sided"}
    noise_ceiling : xr.Dataset, optional
        From :func:`noise_ceiling`, over the same stacking dims.
    bootstrap : xr.DataArray, optional
        Bootstrap samples (..., bootstrap), e.g. from :func:`bootstrap_units`, for the CI.
    check_trials : bool
        Refuse RDMs from different trial sets.

    Returns
    -------
    xr.Dataset
        ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``p_corrected``,
        ``noise_ceiling_low``, ``noise_ceiling_high``, ``n_conditions`` over the stacking dims.
    """
    if not 0 < ci < 1:
        raise ConfigError(f"ci = {ci}; choose a level in (0, 1), e.g. 0.95")
    a_rdm, b_rdm = align_rdms(model_rdm, data_rdm, check_trials=check_trials)
    a_rdm, b_rdm = xr.broadcast(a_rdm, b_rdm)
    stack = [d for d in a_rdm.dims if d not in ("condition", "condition2")]
    a_val = a_rdm.transpose(*stack, "condition", "condition2").values
    b_val = b_rdm.transpose(*stack, "condition", "condition2").values
    n = a_val.shape[-1]
    a_val, b_val = a_val.reshape(-1, n, n), b_val.reshape(-1, n, n)
    kinds = (model_rdm.attrs.get("method"), data_rdm.attrs.get("method"))
    streams = np.random.SeedSequence(seed).spawn(len(a_val))
    fields = {
        k: np.full(len(a_val), np.nan)
        for k in ("estimate", "ci_low", "ci_high", "p_value", "n_conditions")
    }
    for k, (x, y) in enumerate(zip(a_val, b_val, strict=True)):
        pair = finite_conditions(x, y)
        if pair is None:  # fewer than 3 usable conditions in this element: NaN row
            continue
        x, y = pair
        rng = np.random.default_rng(streams[k])
        fields["n_conditions"][k] = x.shape[0]
        if n_perm > 0:
            est, null = permutation_null(
                x, y, method=method, n_perm=n_perm, seed=rng, rdm_methods=kinds
            )
            fields["p_value"][k] = permutation_pvalue(est, null, alternative)
        fields["estimate"][k] = compare_matrices(x, y, method, kinds)
        if bootstrap is None and n_boot > 0:
            samples = bootstrap_conditions(
                x, y, method=method, n_boot=n_boot, seed=rng, rdm_methods=kinds
            )
            fields["ci_low"][k], fields["ci_high"][k] = _percentiles(samples, ci)
    check_some_finite(fields["estimate"])
    shape = [a_rdm.sizes[d] for d in stack]
    coords = {d: a_rdm[d].values for d in stack if d in a_rdm.coords}
    out = xr.Dataset({k: (stack, v.reshape(shape)) for k, v in fields.items()}, coords=coords)
    out["p_corrected"] = (stack, correct_pvalues(fields["p_value"], correction).reshape(shape))
    if bootstrap is not None:
        low, high = xr.apply_ufunc(
            _percentiles,
            bootstrap,
            kwargs={"ci": ci},
            input_core_dims=[["bootstrap"]],
            output_core_dims=[[], []],
            vectorize=True,
        )
        out["ci_low"], out["ci_high"] = low, high
    for name in ("noise_ceiling_low", "noise_ceiling_high"):
        out[name] = (
            noise_ceiling[name]
            if noise_ceiling is not None
            else xr.full_like(out["estimate"], np.nan)
        )
    out.attrs.update(
        method=method,
        n_perm=n_perm,
        n_boot=n_boot,
        ci=ci,
        seed=seed,
        correction=correction,
        alternative=alternative,
        ci_source="units" if bootstrap is not None else "conditions",
    )
    return out


def _percentiles(samples: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of the finite samples."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return np.nan, np.nan
    low, high = np.quantile(finite, [(1 - ci) / 2, (1 + ci) / 2])
    return float(low), float(high)

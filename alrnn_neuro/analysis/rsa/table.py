"""Model-vs-data comparison tables: estimate, CI, p-value (raw and corrected), noise ceiling.

One row per element of the stacking dims (``epoch``, ``window``, ``region``, ``time``) shared
by the model and the data RDM; see :mod:`.inference` for the tests and intervals used and
:mod:`.ceiling` for the noise ceiling. With a noise ceiling that carries ``model_vs_splits``
(the model compared with the split RDMs the bounds are made of), the model is placed against
the ceiling: ``ceiling_fraction`` = model_vs_splits / upper bound (when that is > 0) and
``ceiling_position``
``"below"`` (under the lower bound), ``"within"`` (between the bounds) or ``"above"`` (over
the upper bound), ``""`` where the ceiling is not available (``noise_ceiling_note`` says why).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro._resampling import check_n_boot
from alrnn_neuro.analysis.rsa.compare import (
    align_rdms,
    check_compare,
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
    compare: str = "spearman",
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
    compare : str
        Comparison (``spearman``, ``kendall_tau_a`` (``tau-a``), ``pearson``, ``cosine``,
        ``cka``, ``cka_biased``).
    n_perm : int
        Condition-label permutations per element (0: no test).
    n_boot : int
        Bootstrap samples over conditions for the CI, unless ``bootstrap`` is given: 0 (none)
        or at least :data:`~alrnn_neuro._resampling.MIN_N_BOOT` (200; fewer are refused).
    ci : float
        Confidence level of the percentile interval.
    seed : int
        Seed; each element gets an independent child stream.
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
        Multiple-comparison correction across all elements.
    alternative : {"greater", "two-sided"}
    noise_ceiling : xr.Dataset, optional
        From :func:`~.ceiling.noise_ceiling` (with ``model_rdm`` given for the placement of
        the model), over the same stacking dims.
    bootstrap : xr.DataArray, optional
        Bootstrap samples (..., bootstrap), e.g. from :func:`bootstrap_units`, for the CI.
    check_trials : bool
        Refuse RDMs from different trial sets.

    Returns
    -------
    xr.Dataset
        ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``p_corrected``,
        ``n_conditions``, ``noise_ceiling_low``, ``noise_ceiling_high``,
        ``noise_ceiling_conditions``, ``noise_ceiling_note``, ``model_vs_splits``,
        ``ceiling_fraction``, ``ceiling_position`` over the stacking dims.
    """
    method = check_compare(compare)
    if not 0 < ci < 1:
        raise ConfigError(f"ci = {ci}; choose a level in (0, 1), e.g. 0.95")
    if bootstrap is None:
        check_n_boot(n_boot, default=1000)
    a_rdm, b_rdm = align_rdms(model_rdm, data_rdm, check_trials=check_trials)
    a_rdm, b_rdm = xr.broadcast(a_rdm, b_rdm)
    stack = [d for d in a_rdm.dims if d not in ("condition", "condition2")]
    a_val = a_rdm.transpose(*stack, "condition", "condition2").values
    b_val = b_rdm.transpose(*stack, "condition", "condition2").values
    n = a_val.shape[-1]
    a_val, b_val = a_val.reshape(-1, n, n), b_val.reshape(-1, n, n)
    kinds = (model_rdm.attrs.get("distance"), data_rdm.attrs.get("distance"))
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
                x, y, compare=method, n_perm=n_perm, seed=rng, distances=kinds
            )
            fields["p_value"][k] = permutation_pvalue(est, null, alternative)
        fields["estimate"][k] = compare_matrices(x, y, method, kinds)
        if bootstrap is None and n_boot > 0:
            samples = bootstrap_conditions(
                x, y, compare=method, n_boot=n_boot, seed=rng, distances=kinds
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
    out = out.merge(_ceiling_fields(out["estimate"], noise_ceiling))
    out.attrs.update(
        compare=method,
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


def _ceiling_fields(estimate: xr.DataArray, ceiling: xr.Dataset | None) -> xr.Dataset:
    """Noise-ceiling bounds and the model's place against them, shaped like ``estimate``."""
    nan = xr.full_like(estimate, np.nan)
    if ceiling is None:
        return xr.Dataset(
            {
                "noise_ceiling_low": nan,
                "noise_ceiling_high": nan,
                "noise_ceiling_conditions": xr.zeros_like(estimate, dtype=np.int64),
                "noise_ceiling_note": xr.full_like(estimate, "not computed", dtype=object),
                "model_vs_splits": nan,
                "ceiling_fraction": nan,
                "ceiling_position": xr.full_like(estimate, "", dtype=object),
            }
        )
    low, high = ceiling["noise_ceiling_low"], ceiling["noise_ceiling_high"]
    model = ceiling["model_vs_splits"] if "model_vs_splits" in ceiling else nan
    known = np.isfinite(low) & np.isfinite(high) & np.isfinite(model)
    position = xr.where(model < low, "below", xr.where(model > high, "above", "within"))
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = xr.where(known & (high > 0), model / high, np.nan)
    return xr.Dataset(
        {
            "noise_ceiling_low": low,
            "noise_ceiling_high": high,
            "noise_ceiling_conditions": ceiling["noise_ceiling_conditions"],
            "noise_ceiling_note": ceiling["noise_ceiling_note"].astype(object),
            "model_vs_splits": model,
            "ceiling_fraction": fraction,
            "ceiling_position": xr.where(known, position, "").astype(object),
        }
    )

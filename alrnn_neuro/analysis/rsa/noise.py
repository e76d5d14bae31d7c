"""Noise covariance / precision estimates from residuals, for Mahalanobis and crossnobis RDMs.

Formulas follow rsatoolbox (``rsatoolbox.data.noise``) so the two agree to rounding error:

- ``"diag"``: per-feature variances, ``sum(r**2) / dof``.
- ``"full"``: sample covariance ``R'R / dof`` (singular when features > dof).
- ``"shrinkage_eye"``: Ledoit & Wolf (2004) shrinkage towards a multiple of the identity.
- ``"shrinkage_diag"``: Schäfer & Strimmer (2005) shrinkage of the correlations towards 0
  (i.e. of the covariance towards its diagonal); rsatoolbox's default.

Residuals are the trial patterns minus their condition mean; ``dof`` = trials - conditions.
"""

from __future__ import annotations

import numpy as np

from alrnn_neuro.errors import ConfigError, DataValidationError

NOISE_METHODS = ("shrinkage_diag", "shrinkage_eye", "diag", "full")
#: residual variance at or below this fraction of the largest feature's counts as none
#: (float32 rounding of values of order 1 leaves variances of about 1e-15)
RELATIVE_VARIANCE_FLOOR = 1e-12


def noise_covariance(
    residuals: np.ndarray, *, dof: int | None = None, method: str = "shrinkage_diag"
) -> np.ndarray:
    """Covariance (feature, feature) of residuals (observation, feature).

    Parameters
    ----------
    residuals : ndarray, shape (observation, feature)
        Trial patterns minus their condition means. Columns are demeaned again.
    dof : int, optional
        Degrees of freedom (default ``n_observation - 1``); use trials - conditions.
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        Estimator (see the module docstring).

    Returns
    -------
    ndarray, shape (feature, feature)

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(size=(50, 3))
    >>> noise_covariance(r, method="diag").shape
    (3, 3)
    """
    if method not in NOISE_METHODS:
        raise ConfigError(
            f"noise = {method!r} is not an estimator; choose from "
            f"{list(NOISE_METHODS)}, None (identity) or a precision matrix"
        )
    r = np.asarray(residuals, dtype=np.float64)
    r = r - r.mean(axis=0, keepdims=True)
    n = r.shape[0]
    dof = n - 1 if dof is None else int(dof)
    if dof < 1:
        raise DataValidationError(
            f"noise estimate has dof = {dof} (trials - conditions); fix: more trials per "
            "condition, or noise=None"
        )
    s_sum = r.T @ r
    if method == "diag":
        return np.diag(np.diag(s_sum) / dof)
    if method == "full":
        return s_sum / dof
    s2_sum = (r * r).T @ (r * r)
    if method == "shrinkage_eye":
        s = s_sum / n
        b2 = np.sum(s2_sum / n - s * s) / n
        m = np.trace(s) / s.shape[0]
        target = m * np.eye(s.shape[0])
        d2 = np.sum((s - target) ** 2)
        if d2 == 0:
            return s * n / dof
        b2 = min(d2, b2)
        return (b2 / d2 * target + (d2 - b2) / d2 * s) * n / dof
    s = s_sum / dof
    var = np.diag(s)
    # rounding-level variance counts as none: its precision (1e12 and more times that of the
    # other features) would blow the distances up to 1e15 instead of failing
    flat = var <= RELATIVE_VARIANCE_FLOOR * max(float(var.max(initial=0.0)), 0.0)
    if np.any(flat):
        raise DataValidationError(
            f"{int(np.sum(flat))} feature(s) have zero residual variance (or below "
            f"{RELATIVE_VARIANCE_FLOOR:g} of the largest), so the shrinkage_diag noise estimate "
            "is singular; fix: drop constant units or use noise='shrinkage_eye'"
        )
    std = np.sqrt(var)
    s_mean = s_sum / np.outer(std, std) / (n - 1)
    s2_mean = s2_sum / np.outer(var, var) / (n - 1)
    var_hat = n / dof**2 * (s2_mean - s_mean**2)
    off = ~np.eye(s.shape[0], dtype=bool)
    denom = np.sum(s_mean[off] ** 2)
    lamb = 1.0 if denom == 0 else float(np.clip(np.sum(var_hat[off]) / denom, 0.0, 1.0))
    return s * (np.eye(s.shape[0]) + (1.0 - lamb) * off)


def noise_precision(
    residuals: np.ndarray, *, dof: int | None = None, method: str | np.ndarray = "shrinkage_diag"
) -> np.ndarray:
    """Precision (inverse noise covariance) of residuals; an ndarray ``method`` is returned.

    Parameters
    ----------
    residuals : ndarray, shape (observation, feature)
    dof : int, optional
        See :func:`noise_covariance`.
    method : str or ndarray
        Estimator name, or a precision matrix (feature, feature) to use as is.

    Returns
    -------
    ndarray, shape (feature, feature)
    """
    n_feat = np.shape(residuals)[1]
    if not isinstance(method, str):
        precision = np.asarray(method, dtype=np.float64)
        if precision.shape != (n_feat, n_feat):
            raise ConfigError(
                f"noise precision has shape {precision.shape}; expected "
                f"({n_feat}, {n_feat}) for {n_feat} features"
            )
        return precision
    cov = noise_covariance(residuals, dof=dof, method=method)
    try:
        return np.linalg.inv(cov)
    except np.linalg.LinAlgError as exc:
        raise DataValidationError(
            f"noise covariance ({method}) is singular ({n_feat} features, dof {dof}); fix: "
            "use noise='shrinkage_diag' or 'shrinkage_eye', or fewer features"
        ) from exc

"""Exact per-region dynamics of an AL-RNN: Jacobians, spectra, fixed points.

Inside region d (bits of the P PWL units, most significant = first PWL unit) the AL-RNN

    z_t = A * z_{t-1} + W relu*(z_{t-1}) + C s_t + h

is the affine map ``z_t = J_d z_{t-1} + C s_t + h`` with ``J_d = diag(A) + W D_d`` and
``D_d = diag(1, ..., 1, d)``. Its fixed point under constant input s is
``z* = (I - J_d)^{-1} (h + C s)``; it is *real* iff the sign pattern of z*'s PWL units is d
(``z_j > 0`` counts as 1), otherwise *virtual*.

Complexity (n regions, M latents, P PWL units, c input conditions):
Jacobians O(n M^2) memory and time; spectra O(n M^3) (batched ``np.linalg.eig``); fixed points
by the low-rank (Woodbury) route O(M^3 + n (P^3 + P^2 c + M P c)), or O(n M^3) by direct
batched LU. All batches are chunked so peak memory is ``chunk_size * max(P^2, M c)`` floats.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.params import ALRNNParams, code_bits, region_labels

logger = logging.getLogger(__name__)

SINGLE_REGION_NOTE = "P = 0: linear RNN, a single region (code 0)"

__all__ = ["classify_stability", "fixed_points", "region_dynamics", "safe_solve"]

STABILITY_TYPES = (
    "stable node",
    "stable focus",
    "saddle",
    "unstable",
    "line attractor",
    "marginal",
)


def constant_drives(
    params: ALRNNParams, inputs: np.ndarray | xr.DataArray | None
) -> tuple[np.ndarray, str, np.ndarray]:
    """Constant drives ``c = h + C s`` per input condition.

    Parameters
    ----------
    params : ALRNNParams
    inputs : ndarray (K,) or (n_cond, K), or DataArray dims (cond, input), optional
        Constant inputs; None = zero input. A DataArray's other dim (e.g. ``epoch``) names the
        conditions.

    Returns
    -------
    drives : ndarray, shape (latent, cond)
    dim : str
        Name of the condition dim (``"condition"`` unless the DataArray names one).
    labels : ndarray, shape (cond,)
        Condition labels.
    """
    if inputs is None:
        return params.h[:, None], "condition", np.array(["zero_input"])
    if isinstance(inputs, xr.DataArray):
        if inputs.ndim == 1:
            inputs = inputs.expand_dims(condition=["input"])
        dim = next(d for d in inputs.dims if d != "input")
        labels = inputs[dim].values if dim in inputs.coords else np.arange(inputs.sizes[dim])
        S = inputs.transpose(dim, "input").values
    else:
        S = np.atleast_2d(np.asarray(inputs, np.float64))
        dim, labels = "condition", np.arange(S.shape[0])
    return params.drive(S).T, dim, labels


def fixed_points(
    params: ALRNNParams,
    *,
    codes: np.ndarray | None = None,
    inputs: np.ndarray | xr.DataArray | None = None,
    method: str = "auto",
    chunk_size: int = 8192,
) -> xr.Dataset:
    """Fixed point of every region's affine map and whether it is real.

    Parameters
    ----------
    params : ALRNNParams
        The model (``ALRNNParams.from_model(fit)``).
    codes : ndarray of int, shape (n_region,), optional
        Regions to solve (default: all 2**P).
    inputs : ndarray (K,) or (n_cond, K), or DataArray dims (cond, input), optional
        Constant inputs s; default s = 0. A DataArray's other dim (e.g. ``epoch``) is kept.
    method : {"auto", "woodbury", "direct"}
        ``woodbury``: ``I - J_d = B - W_P D_d E_P^T`` is a rank-P update of the region-free
        ``B = I - diag(A) - W E_L E_L^T``, so each region needs one P x P solve after a single
        M x M one; ``direct``: batched LU of every ``I - J_d``; ``auto`` = woodbury unless B is
        ill-conditioned (cond > 1e8).
    chunk_size : int
        Regions per batch (bounds memory).

    Returns
    -------
    Dataset, dims (region, <cond>, latent)
        ``fixed_point`` (NaN where ``I - J_d`` is singular) and ``is_real`` (region, <cond>).
        attrs: ``method``.

    Examples
    --------
    >>> p = ALRNNParams(A=[0.2], W=[[-3.2]], C=np.zeros((1, 0)), h=[1.0], n_pwl=1)
    >>> ds = fixed_points(p)
    >>> ds.fixed_point.values.ravel().round(2).tolist(), ds.is_real.values.ravel().tolist()
    ([1.25, 0.25], [False, True])
    """
    params = _require_params(params, "fixed_points()")
    A, W = params.A, params.W
    M, P = params.latent_dim, params.n_pwl
    codes = params.regions() if codes is None else params.check_codes(codes)
    c, dim, labels = constant_drives(params, inputs)
    n, nc = len(codes), c.shape[1]
    B = np.eye(M) - np.diag(A) - W * (np.arange(M) < M - P)[None, :]
    if method == "auto":
        method = "woodbury" if np.linalg.cond(B) < 1e8 else "direct"
    if method not in ("woodbury", "direct"):
        raise ConfigError(f"method={method!r}; choose 'auto', 'woodbury' or 'direct'.")
    z = np.empty((n, M, nc))
    if method == "woodbury":
        Y = np.linalg.solve(B, np.concatenate([c, W[:, M - P :]], axis=1))
        y, G = Y[:, :nc], Y[:, nc:]
    for lo in range(0, n, chunk_size):
        chunk = codes[lo : lo + chunk_size]
        if method == "woodbury":
            z[lo : lo + len(chunk)] = y[None] + np.matmul(
                G[None], _active_solve(G[M - P :], y[M - P :], chunk, P)
            )
        else:
            cols = np.ones((len(chunk), M))
            cols[:, M - P :] = code_bits(chunk, P)
            IJ = np.eye(M)[None] - np.diag(A)[None] - W[None] * cols[:, None, :]
            z[lo : lo + len(chunk)] = safe_solve(IJ, np.broadcast_to(c, (len(chunk), M, nc)))
    z = z.transpose(0, 2, 1)
    real = np.all((z[..., M - P :] > 0) == code_bits(codes, P)[:, None, :], axis=-1)
    real &= np.all(np.isfinite(z), axis=-1)
    return xr.Dataset(
        {
            "fixed_point": (("region", dim, "latent"), z),
            "is_real": (("region", dim), real),
        },
        coords={"region": codes, dim: labels},
        attrs={"method": method, "n_pwl": P} | ({"note": SINGLE_REGION_NOTE} if P == 0 else {}),
    )


def _require_params(params: object, where: str) -> ALRNNParams:
    """``params`` if it is an :class:`ALRNNParams`, else a ConfigError with the fix (a fit
    result or a run carries them as ``.params``)."""
    if isinstance(params, ALRNNParams):
        return params
    fix = "result.params" if hasattr(params, "params") else "ALRNNParams.from_model(fit)"
    raise ConfigError(
        f"{where} got a {type(params).__name__}, not the model's ALRNNParams; fix: pass {fix}"
    )


def _active_solve(G_pp: np.ndarray, y_p: np.ndarray, codes: np.ndarray, n_pwl: int) -> np.ndarray:
    """``D_d (I - G_PP D_d)^{-1} y_P`` per region, solving only the active block.

    Columns of ``I - G_PP D_d`` for inactive units are unit vectors, so the active units S of a
    region solve ``(I - G_SS) x_S = y_S`` alone (|S| x |S|) and ``x`` is zero elsewhere.
    Regions are grouped by |S| for batched solves (about 2x faster than full P x P).
    """
    bits = code_bits(codes, n_pwl)
    n_active = bits.sum(1)
    x = np.zeros((len(codes), n_pwl, y_p.shape[1]))
    for k in range(1, n_pwl + 1):
        rows = np.nonzero(n_active == k)[0]
        if rows.size:
            idx = np.nonzero(bits[rows])[1].reshape(rows.size, k)
            K = -G_pp[idx[:, :, None], idx[:, None, :]]
            K.reshape(rows.size, -1)[:, :: k + 1] += 1.0
            x[rows[:, None], idx] = safe_solve(K, y_p[idx])
    return x


def safe_solve(K: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched ``np.linalg.solve``; singular systems give NaN instead of aborting the batch.

    Parameters
    ----------
    K : ndarray, shape (batch, n, n)
    rhs : ndarray, shape (batch, n) or (batch, n, k)
    """
    try:
        return np.linalg.solve(K, rhs)
    except np.linalg.LinAlgError:
        out = np.full(rhs.shape, np.nan)
        for i in range(len(K)):
            try:
                out[i] = np.linalg.solve(K[i], rhs[i])
            except np.linalg.LinAlgError:
                logger.info("fixed_points: singular I - J in batch entry %d (no unique point)", i)
        return out


def classify_stability(eigenvalues: np.ndarray, *, tol: float = 1e-2) -> np.ndarray:
    """Stability type of a discrete-time affine map from its eigenvalues.

    Parameters
    ----------
    eigenvalues : ndarray of complex, shape (..., M)
    tol : float
        Moduli within ``tol`` of 1 count as marginal.

    Returns
    -------
    ndarray of str, shape (...)
        ``"stable node"`` (all |lambda| < 1 - tol, all real), ``"stable focus"`` (same, some
        complex), ``"saddle"`` (some > 1 + tol and some < 1 - tol), ``"unstable"`` (some > 1 + tol,
        none < 1 - tol), ``"line attractor"`` (one real eigenvalue within tol of +1, others
        < 1 - tol), ``"marginal"`` (otherwise: largest modulus within tol of 1).
    """
    ev = np.asarray(eigenvalues)
    mod = np.abs(ev)
    big, small = (mod > 1 + tol).any(-1), (mod < 1 - tol).all(-1)
    near_one = (np.abs(ev - 1) <= tol) & (np.abs(ev.imag) <= tol)
    line = (near_one.sum(-1) == 1) & ((mod < 1 - tol) | near_one).all(-1)
    is_real = (np.abs(ev.imag) <= 1e-12 * np.maximum(mod, 1)).all(-1)
    out = np.full(ev.shape[:-1], "marginal", dtype=object)
    out[line & ~big] = "line attractor"
    out[small & is_real] = "stable node"
    out[small & ~is_real] = "stable focus"
    out[big] = "unstable"
    out[big & (mod < 1 - tol).any(-1)] = "saddle"
    return out.astype(str)


def region_dynamics(
    params: ALRNNParams,
    *,
    codes: np.ndarray | None = None,
    visited: np.ndarray | None = None,
    inputs: np.ndarray | xr.DataArray | None = None,
    max_regions: int = 4096,
    tol: float = 1e-2,
) -> xr.Dataset:
    """Jacobian, spectrum, stability and fixed points of each region.

    Parameters
    ----------
    params : ALRNNParams
        The model (``ALRNNParams.from_model(fit)``).
    codes : ndarray of int, optional
        Regions to analyse (e.g. the used ones, ``region_usage(...).region``).
    visited : ndarray of int, optional
        Fallback set when ``codes`` is None and 2**P > ``max_regions``.
    inputs : see :func:`fixed_points`
        E.g. ``epoch_mean_inputs(ds.inputs, ds.epoch, ds.valid)`` (dims epoch, input).
    max_regions : int
        Largest 2**P enumerated exhaustively when ``codes`` is None.
    tol : float
        Marginality tolerance of :func:`classify_stability`.

    Returns
    -------
    Dataset
        ``jacobian`` (region, latent, latent2), ``eigenvalues`` (region, mode; complex, sorted
        by decreasing modulus), ``eigenvectors`` (region, latent, mode; unit columns),
        ``spectral_radius`` (region), ``stability`` (region), ``fixed_point`` (region, <cond>,
        latent), ``is_real`` (region, <cond>). attrs: ``region_set`` ("given", "all" or
        "visited"), ``restricted_to_visited`` (0/1), ``fixed_point_method``.
    """
    params = _require_params(params, "region_dynamics()")
    n_pwl = params.n_pwl
    region_set = "given"
    if codes is None:
        if 2**n_pwl <= max_regions:
            codes, region_set = np.arange(2**n_pwl), "all"
        elif visited is not None:
            codes, region_set = np.asarray(visited), "visited"
            logger.warning(
                "region_dynamics: 2**P = %d > max_regions = %d; analysing the %d visited regions "
                "only",
                2**n_pwl,
                max_regions,
                len(codes),
            )
        else:
            raise ConfigError(
                f"2**P = {2**n_pwl} regions exceed max_regions={max_regions}. Fix: pass "
                "codes= or visited= (e.g. region_usage(bitcode)['region'].values)."
            )
    codes = params.check_codes(codes)
    J = params.region_jacobians(codes)
    ev, vec = np.linalg.eig(J)
    order = np.argsort(-np.abs(ev), axis=-1, kind="stable")
    ev = np.take_along_axis(ev, order, -1)
    vec = np.take_along_axis(vec, order[:, None, :], -1)
    fp = fixed_points(params, codes=codes, inputs=inputs)
    ds = xr.Dataset(
        {
            "jacobian": (("region", "latent", "latent2"), J),
            "eigenvalues": (("region", "mode"), ev),
            "eigenvectors": (("region", "latent", "mode"), vec),
            "spectral_radius": ("region", np.abs(ev).max(-1)),
            "stability": ("region", classify_stability(ev, tol=tol)),
        },
        coords={"region": codes, "bits": ("region", region_labels(codes, n_pwl))},
    )
    ds = ds.merge(fp.drop_vars("region").assign_coords(region=codes))
    ds.attrs = {
        "n_pwl": n_pwl,
        "region_set": region_set,
        "restricted_to_visited": int(region_set == "visited"),
        "fixed_point_method": fp.attrs["method"],
    }
    if n_pwl == 0:
        ds.attrs["note"] = SINGLE_REGION_NOTE
        logger.info("region_dynamics: %s", SINGLE_REGION_NOTE)
    return ds

"""Least-squares latents of linear readout outputs: ``z = pinv(B) (x - b)``, per unit set.

Readouts invert their outputs to infer latents from data (a data-inferred initial state,
teacher-forcing targets). When every unit is observed, one pseudo-inverse serves all trials
(:func:`apply_pinv`, through a QR factorisation where it can). In recordings where trials
see different units (pseudo-populations pooled from single-unit sessions, dropped channels),
each trial is solved on its own units; :func:`observed_pinv` forms the pseudo-inverse of
every distinct unit set in one batched call, from ``B`` with the other units' rows set to 0:
its singular values are those of the observed rows, so its pseudo-inverse is theirs with
columns of (rounding-level) zeros at the unobserved units, whose data are set to 0 before the
product (``torch.linalg.pinv``'s cutoff for negligible singular values scales with the row
count, which matters only for nearly rank-deficient sets).
"""

from __future__ import annotations

import torch


def apply_pinv(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x @ pinv(weight)^T``: the least-squares latents of readout outputs ``x``.

    ``weight`` (..., n, m), ``x`` (..., batch, n) -> (..., batch, m). With full column rank
    (n >= m, no |R_ii| below pinv's cutoff) through a QR factorisation, 4x cheaper than the
    SVD of ``torch.linalg.pinv`` for a stack of readouts (forward and backward); else pinv.

    Examples
    --------
    >>> w, x = torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    >>> bool(torch.allclose(apply_pinv(w, x), x @ torch.linalg.pinv(w).mT))
    True
    """
    n, m = weight.shape[-2:]
    if n >= m:
        q, r = torch.linalg.qr(weight)
        diag = r.diagonal(dim1=-2, dim2=-1).abs()
        cutoff = torch.finfo(r.dtype).eps * n * diag.amax(-1)  # pinv's default rtol
        if bool((diag.amin(-1) > cutoff).all()):
            return torch.linalg.solve_triangular(r, (x @ q).mT, upper=True).mT
    return x @ torch.linalg.pinv(weight).mT


def observed_pinv(weight: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Each trial's pseudo-inverse of the readout rows of its observed units.

    Parameters
    ----------
    weight : Tensor, shape (..., unit, latent)
        Readout matrices ``B`` (leading ensemble dims allowed).
    observed : Tensor of bool, shape (trial, unit)
        Units recorded in each trial.

    Returns
    -------
    Tensor, shape (..., trial, latent, unit)
        ``pinv(B[o])`` of trial i's units ``o = observed[i]``, with columns of zeros (up to
        rounding) at the other units: one batched pseudo-inverse per distinct unit set, see
        the module doc.
    """
    sets, which = torch.unique(observed, dim=0, return_inverse=True)  # (set, unit), (trial,)
    masked = weight.unsqueeze(-3) * sets.unsqueeze(-1).to(weight.dtype)  # (..., set, unit, m)
    return torch.linalg.pinv(masked).index_select(-3, which)


def apply_observed_pinv(
    weight: torch.Tensor, x: torch.Tensor, observed: torch.Tensor
) -> torch.Tensor:
    """Each trial's least-squares latents from its observed units only.

    ``weight`` (..., n, m), ``x`` (..., trial, n), ``observed`` (trial, n) bool ->
    (..., trial, m): row i is ``x_i[o] @ pinv(weight[o])^T`` with ``o = observed[i]``
    (:func:`observed_pinv`); the unobserved entries of ``x`` are never read (NaN there
    stays out).

    Examples
    --------
    >>> w, x = torch.randn(4, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    >>> seen = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 1]], dtype=torch.bool)
    >>> x[0, 3] = float("nan")
    >>> z = apply_observed_pinv(w, x, seen)
    >>> bool(torch.allclose(z[2], x[2, 1:] @ torch.linalg.pinv(w[1:]).mT)), bool(z.isfinite().all())
    (True, True)
    """
    solve = observed_pinv(weight, observed)  # (..., trial, m, n)
    x = torch.where(observed, x, 0.0)
    return (solve @ x.unsqueeze(-1)).squeeze(-1)

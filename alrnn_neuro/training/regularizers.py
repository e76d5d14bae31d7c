"""Manifold-attractor regularisation (MAR; Schmidt et al., ICLR 2021).

For a subset S of latent units, MAR pushes each unit toward a perfect integrator that is
decoupled from the others and has no bias:

    R = tau * sum_{i in S} [ (a_ii - 1)^2 + sum_{j != i} W_ij^2 + h_i^2 ]

so those units can hold information over long times (slow / memory modes) while the rest of
the network stays free. What ``a_ii`` is differs between two definitions
(``FitConfig.mar_definition``):

- ``"toolbox"`` (default): ``a_ii = A_i``, the diagonal self-connection alone (``W_ii`` is
  left free);
- ``"study"``: ``a_ii = W_ii + A_i``, the unit's whole self-coupling, as in the AL-RNN
  study's ``MAR.py`` (Brenner & Koppe, TMLR 2026; fnnrth/Linear_Nonlinear_Memory). With
  ``A`` on the rectified units only (``a_placement="pwl"``, ``A_i = 0`` on linear units) that
  is ``W_ii`` on a linear unit and ``W_ii + A_i`` on a rectified one, exactly the study's
  ``diag_eff``.

Both regularise the *first* ``mar_units`` units (the linear ones come first) and add the
off-diagonal ``sum_{j != i} W_ij^2`` and ``h_i^2``; both are sums (not means) times tau.

The AL-RNN paper's stimulus-selection fits (``PFC1_task``, ``helpers/MAR.py``) use another
penalty, an L1 pull of each regularised unit's self-coupling toward 0:

    R_self = tau * sum_{i in S} |W_ii + A_i|       (:func:`self_coupling_penalty`)

Every penalty takes parameters with optional leading ensemble dims and returns one value per
member, so single fits and stacks of fits share one implementation.
"""

from __future__ import annotations

import torch


def mar_units(latent_dim: int, pwl_units: int, n_units: int = -1) -> list[int]:
    """Indices of the regularised units.

    Parameters
    ----------
    latent_dim : int
        Number of latent states M.
    pwl_units : int
        Number of piecewise-linear units P (the last P states).
    n_units : int
        How many units to regularise, counted from the first; -1 = the M - P linear units.

    Returns
    -------
    list of int

    Examples
    --------
    >>> mar_units(6, 2), mar_units(6, 2, 1)
    ([0, 1, 2, 3], [0])
    """
    count = latent_dim - pwl_units if n_units < 0 else n_units
    return list(range(min(count, latent_dim)))


def mar_penalty(
    A: torch.Tensor,
    W: torch.Tensor,
    h: torch.Tensor,
    units: list[int],
    strength: float,
    *,
    include_w_diagonal: bool = False,
) -> torch.Tensor:
    """Manifold-attractor penalty on the rows ``units`` of the AL-RNN parameters.

    Parameters
    ----------
    A : Tensor, shape (latent,)
        Diagonal of the linear self-connection matrix.
    W : Tensor, shape (latent, latent2)
        Coupling matrix (row i = inputs to unit i).
    h : Tensor, shape (latent,)
        Bias.
    units : list of int
        Regularised units S.
    strength : float
        tau; 0 gives a zero tensor (no graph work).
    include_w_diagonal : bool
        ``a_ii = W_ii + A_i`` (the study's definition) instead of ``A_i`` (the toolbox's).

    Returns
    -------
    Tensor
        Scalar penalty ``tau * sum_{i in S} [(a_ii-1)^2 + sum_{j!=i} W_ij^2 + h_i^2]``.

    Examples
    --------
    >>> A = torch.tensor([1.0, 0.5]); W = torch.tensor([[3.0, 2.0], [1.0, 0.0]])
    >>> float(mar_penalty(A, W, torch.tensor([0.0, 1.0]), [0], 0.5))  # 0.5 * (0 + 2**2 + 0)
    2.0
    >>> float(mar_penalty(A, W, torch.tensor([0.0, 1.0]), [0], 0.5, include_w_diagonal=True))
    6.5
    """
    mask = torch.zeros(A.shape[-1], dtype=A.dtype, device=A.device)
    mask[list(units)] = 1.0
    return mar_member_penalty(A, W, h, mask, strength, include_w_diagonal=include_w_diagonal)


def mar_unit_mask(latent_dim: int, pwl_units: int, n_units: int = -1) -> torch.Tensor:
    """0/1 float mask (latent,) of the regularised units (see :func:`mar_units`).

    Examples
    --------
    >>> mar_unit_mask(4, 2).tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    mask = torch.zeros(latent_dim, dtype=torch.get_default_dtype())
    mask[mar_units(latent_dim, pwl_units, n_units)] = 1.0
    return mask


def mar_member_penalty(
    A: torch.Tensor,
    W: torch.Tensor,
    h: torch.Tensor,
    unit_mask: torch.Tensor,
    strength: float,
    *,
    include_w_diagonal: bool = False,
) -> torch.Tensor:
    """:func:`mar_penalty` of every ensemble member at once.

    Parameters
    ----------
    A : Tensor, shape (..., latent)
    W : Tensor, shape (..., latent, latent2)
    h : Tensor, shape (..., latent)
    unit_mask : Tensor, shape (..., latent)
        1.0 on each member's regularised units (:func:`mar_unit_mask`), else 0.
    strength : float
        tau.
    include_w_diagonal : bool
        ``a_ii = W_ii + A_i`` (the study's definition) instead of ``A_i`` (the toolbox's).

    Returns
    -------
    Tensor, shape (...)
        ``tau * sum_i mask_i [(a_ii-1)^2 + sum_{j!=i} W_ij^2 + h_i^2]`` per member.

    Examples
    --------
    >>> A = torch.tensor([1.0, 0.5]); W = torch.tensor([[3.0, 2.0], [1.0, 0.0]])
    >>> float(mar_member_penalty(A, W, torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]), 0.5))
    2.0
    """
    if strength == 0:
        return A.new_zeros(A.shape[:-1])
    eye = torch.eye(W.shape[-1], dtype=W.dtype, device=W.device)
    coupling = (W**2 * (1 - eye)).sum(-1)
    a = A + torch.diagonal(W, dim1=-2, dim2=-1) if include_w_diagonal else A
    per_unit = (a - 1.0) ** 2 + coupling + h**2
    return strength * (per_unit * unit_mask).sum(-1)


def self_coupling_units(latent_dim: int, n_units: int = -1) -> list[int]:
    """Indices of the units of the self-coupling penalty: the first ``n_units`` (-1 = all M).

    Examples
    --------
    >>> self_coupling_units(6), self_coupling_units(6, 2)
    ([0, 1, 2, 3, 4, 5], [0, 1])
    """
    return list(range(latent_dim if n_units < 0 else min(n_units, latent_dim)))


def self_coupling_penalty(
    A: torch.Tensor, W: torch.Tensor, units: list[int], strength: float
) -> torch.Tensor:
    """L1 self-coupling penalty ``tau * sum_{i in units} |W_ii + A_i|`` (pull toward 0).

    Parameters
    ----------
    A : Tensor, shape (..., latent)
        Diagonal of the linear self-connection matrix (``...`` = ensemble dims).
    W : Tensor, shape (..., latent, latent2)
        Coupling matrix.
    units : list of int
        Regularised units.
    strength : float
        tau; 0 gives zeros.

    Returns
    -------
    Tensor, shape (...)
        The penalty of each member.

    Examples
    --------
    >>> A = torch.tensor([0.5, -1.0]); W = torch.tensor([[0.25, 9.0], [9.0, 0.5]])
    >>> float(self_coupling_penalty(A, W, [0, 1], 0.1))  # 0.1 * (|0.75| + |-0.5|)
    0.125
    """
    if strength == 0 or not units:
        return A.new_zeros(A.shape[:-1])
    idx = torch.as_tensor(units, dtype=torch.long, device=A.device)
    self_coupling = torch.diagonal(W, dim1=-2, dim2=-1) + A
    return strength * self_coupling[..., idx].abs().sum(-1)

"""Manifold-attractor regularisation (MAR; Schmidt et al., ICLR 2021).

For a subset S of latent units, MAR pushes each unit toward a perfect integrator that is
decoupled from the others and has no bias:

    R = tau * sum_{i in S} [ (a_ii - 1)^2 + sum_{j != i} W_ij^2 + h_i^2 ]

so those units can hold information over long times (slow / memory modes) while the rest of
the network stays free.

The AL-RNN paper's stimulus-selection fits (``PFC1_task``, ``helpers/MAR.py``) use another
penalty, an L1 pull of each regularised unit's self-coupling toward 0:

    R_self = tau * sum_{i in S} |W_ii + A_i|       (:func:`self_coupling_penalty`)
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
    A: torch.Tensor, W: torch.Tensor, h: torch.Tensor, units: list[int], strength: float
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

    Returns
    -------
    Tensor
        Scalar penalty ``tau * sum_{i in S} [(a_ii-1)^2 + sum_{j!=i} W_ij^2 + h_i^2]``.

    Examples
    --------
    >>> A = torch.tensor([1.0, 0.5]); W = torch.tensor([[3.0, 2.0], [1.0, 0.0]])
    >>> float(mar_penalty(A, W, torch.tensor([0.0, 1.0]), [0], 0.5))  # 0.5 * (0 + 2**2 + 0)
    2.0
    """
    if strength == 0 or not units:
        return A.new_zeros(())
    idx = torch.as_tensor(units, dtype=torch.long, device=A.device)
    off_diagonal = W[idx].clone()
    off_diagonal[torch.arange(idx.numel(), device=A.device), idx] = 0.0
    total = ((A[idx] - 1.0) ** 2).sum() + (off_diagonal**2).sum() + (h[idx] ** 2).sum()
    return strength * total


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
    A : Tensor, shape (latent,)
        Diagonal of the linear self-connection matrix.
    W : Tensor, shape (latent, latent2)
        Coupling matrix.
    units : list of int
        Regularised units.
    strength : float
        tau; 0 gives a zero tensor.

    Returns
    -------
    Tensor
        Scalar penalty.

    Examples
    --------
    >>> A = torch.tensor([0.5, -1.0]); W = torch.tensor([[0.25, 9.0], [9.0, 0.5]])
    >>> float(self_coupling_penalty(A, W, [0, 1], 0.1))  # 0.1 * (|0.75| + |-0.5|)
    0.125
    """
    if strength == 0 or not units:
        return A.new_zeros(())
    idx = torch.as_tensor(units, dtype=torch.long, device=A.device)
    return strength * (W[idx, idx] + A[idx]).abs().sum()

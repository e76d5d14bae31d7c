"""Forcing of the recurrence toward targets (teacher forcing): checks and terms.

After step t the carried state becomes ``(1 - alpha_t) y_t + alpha_t target_t``; both engines
(:mod:`~alrnn_neuro.models.engine`, the plain loop) and the baselines use these helpers.
"""

from __future__ import annotations

import torch

from alrnn_neuro.errors import ConfigError, DataValidationError


def forcing_terms(target: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(alpha * target, 1 - alpha)`` with the target ignored (even NaN) where alpha == 0.

    The forced state is then ``keep * y + alpha_target`` (exactly ``y`` where alpha == 0).

    Examples
    --------
    >>> forcing_terms(torch.tensor([float("nan"), 2.0]), torch.tensor([0.0, 0.5]))
    (tensor([0., 1.]), tensor([1.0000, 0.5000]))
    """
    on = alpha != 0
    return torch.where(on, alpha * torch.where(on, target, 0.0), 0.0), 1.0 - alpha


def prepare_forcing(
    forcing: tuple[torch.Tensor, torch.Tensor | float],
    batch_time: tuple[int, int],
    latent_dim: int,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``forcing = (targets, alpha)`` and pad both to ``latent_dim`` units.

    Parameters
    ----------
    forcing : (Tensor, Tensor or float)
        ``targets`` ([...,] batch, time, n), n <= latent_dim; ``alpha`` broadcastable to it.
    batch_time : (int, int)
        Expected (batch, time) of the targets.
    latent_dim : int
        M; units n..M-1 are padded with target 0 and alpha 0 (not forced).
    dtype : torch.dtype
        Dtype of the result.

    Returns
    -------
    (Tensor, Tensor)
        Detached ``targets`` and ``alpha`` of the same shape ([...,] batch, time, latent).
    """
    if not (isinstance(forcing, (tuple, list)) and len(forcing) == 2):
        raise ConfigError("forcing must be a pair (targets, alpha), e.g. (z_data, 0.5)")
    target, alpha = forcing
    target = torch.as_tensor(target).detach().to(dtype)
    n = target.shape[-1] if target.dim() else 0
    if target.dim() < 3 or n > latent_dim or tuple(target.shape[-3:-1]) != tuple(batch_time):
        raise DataValidationError(
            f"forcing targets have shape {tuple(target.shape)}; expected ([...,] "
            f"{batch_time[0]}, {batch_time[1]}, n) with n <= latent_dim={latent_dim}"
        )
    alpha = torch.as_tensor(alpha, dtype=dtype, device=target.device).detach()
    if alpha.numel() and not bool(((alpha >= 0) & (alpha <= 1)).all()):
        raise ConfigError("forcing alpha must lie in [0, 1] (0 = free running, 1 = replace)")
    try:
        alpha = torch.broadcast_to(alpha, torch.broadcast_shapes(alpha.shape, target.shape))
    except RuntimeError:
        raise DataValidationError(
            f"forcing alpha has shape {tuple(alpha.shape)}, not broadcastable to the targets' "
            f"shape {tuple(target.shape)}; use a float, (batch, time, 1) or the targets' shape"
        ) from None
    if n < latent_dim:
        target = torch.nn.functional.pad(target, (0, latent_dim - n))
        alpha = torch.nn.functional.pad(alpha, (0, latent_dim - n))
    return target, alpha

"""The linear readout ``latents @ weight^T + bias`` shared by every observation model, and the
masking helpers of their losses (see :mod:`alrnn_neuro.models.observation`)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.fused_poisson import member_linear
from alrnn_neuro.models.least_squares import observed_pinv


def step_entry_masks(mask, observed, device):
    """(step mask (batch, time, 1), entry mask broadcastable to (batch, time, n)); None = all."""
    step = entry = None
    if mask is not None:
        mask = torch.as_tensor(mask, device=device).bool()
        entry = mask.unsqueeze(-1) if mask.dim() == 2 else mask
        step = entry.any(-1, keepdim=True) if mask.dim() == 3 else entry
    if observed is not None:
        obs = torch.as_tensor(observed, device=device).bool().unsqueeze(-2)
        entry = obs if entry is None else entry & obs
    return step, entry


def zero_masked(x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``x`` with entries where ``keep`` is False set to 0; NaN/inf there never propagate."""
    if keep is None:
        return x
    finite = torch.isfinite(x.detach().sum())  # all finite: a product is exact and cheaper
    return x * keep.to(x.dtype) if finite else torch.where(keep, x, 0.0)


def member_mean(values: torch.Tensor, entry: torch.Tensor | None) -> torch.Tensor:
    """Each member's mean of finite ``values`` (..., batch, time, n) over ``entry``.

    Returns
    -------
    Tensor, shape (...)
        The ensemble dims of ``values`` (a 0-d tensor without them).
    """
    if entry is None:
        return values.mean(dim=(-3, -2, -1))
    w = entry.to(values.dtype)
    count = w.expand(values.shape[-3:]).sum().clamp(min=1)
    return (values * w).sum(dim=(-3, -2, -1)) / count


def smooth_time(x: torch.Tensor, mask: torch.Tensor | None, sigma: float) -> torch.Tensor:
    """Gaussian smoothing (width ``sigma`` bins) of x (batch, time, n) over valid steps only.

    ``mask`` (batch, time) marks valid steps; masked steps neither contribute nor keep data.
    """
    w = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device) if mask is None else mask
    w = w.to(x.dtype).unsqueeze(-1)
    x = torch.where(w != 0, x, 0.0)
    if sigma <= 0:
        return x
    half = int(math.ceil(3 * sigma))
    t = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2).view(1, 1, -1)

    def conv(v: torch.Tensor) -> torch.Tensor:
        b, n_t, n = v.shape
        flat = v.permute(0, 2, 1).reshape(b * n, 1, n_t)
        return F.conv1d(flat, kernel, padding=half).reshape(b, n, n_t).permute(0, 2, 1)

    return conv(x) / conv(w).clamp(min=1e-12)


class LinearReadout(nn.Module):
    """Shared parts of linear readouts: ``latents @ weight^T + bias`` with ensemble dims.

    Subclasses define ``predict`` and ``member_loss``; ``loss`` is the sum of the members'
    losses.
    """

    def __init__(self, latent_dim, n_out, *, seed, ensemble_shape, std=0.1):
        super().__init__()
        if latent_dim < 1 or n_out < 1:
            raise ConfigError(f"latent_dim={latent_dim} and n_out={n_out} must be >= 1")
        ens = tuple(ensemble_shape)
        self.latent_dim, self.n_out, self.ensemble_shape = latent_dim, n_out, ens
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else gen.seed())
        weight = torch.randn(*ens, n_out, latent_dim, generator=gen)
        self.weight = nn.Parameter(std * weight.to(torch.get_default_dtype()))
        self.bias = nn.Parameter(torch.zeros(*ens, n_out))

    def linear(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.shape[-1] != self.latent_dim:
            msg = f"latents have {latents.shape[-1]} units in the last dim; this readout expects"
            raise DataValidationError(f"{msg} latent_dim={self.latent_dim}")
        ens = self.ensemble_shape
        if len(ens) == 1 and latents.dim() == 4 and latents.shape[0] == ens[0]:
            return member_linear(latents, self.weight, self.bias)
        weight = self.weight.mT.reshape(*ens, 1, self.latent_dim, self.n_out)
        bias = self.bias.reshape(*ens, 1, 1, self.n_out)
        return torch.matmul(latents, weight) + bias

    def loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Sum over members of :meth:`member_loss` (a scalar)."""
        return self.member_loss(latents, targets, mask, observed=observed).sum()

    def _solve(self, x: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
        """Least-squares latents from x (batch, time, n) ~ latents @ W^T + b, per unit set."""
        x = x - self.bias.unsqueeze(-2).unsqueeze(-2)
        if observed is None:
            return x @ torch.linalg.pinv(self.weight).mT.unsqueeze(-3)
        observed = torch.as_tensor(observed, device=x.device).bool()
        solve = observed_pinv(self.weight, observed)  # (..., batch, latent, n): per unit set
        return torch.where(observed.unsqueeze(-2), x, 0.0) @ solve.mT

    def _check_targets(self, targets: torch.Tensor) -> None:
        if targets.shape[-1] != self.n_out or targets.dim() < 3:
            raise DataValidationError(
                f"targets have shape {tuple(targets.shape)}; expected (batch, time, {self.n_out})"
            )

    def _prepare(self, latents, targets, mask, observed):
        """``(x = B z + b, targets, entry mask)`` with masked latents and targets set to 0."""
        self._check_targets(targets)
        step, entry = step_entry_masks(mask, observed, targets.device)
        x = self.linear(zero_masked(latents, step))
        return x, zero_masked(targets.to(latents.dtype), entry), entry

    def _invert(self, targets, mask, observed, smooth_sigma, inverse_link):  # -> (..., B, T, M)
        targets = torch.as_tensor(targets, dtype=self.weight.dtype, device=self.weight.device)
        valid = None if mask is None else torch.as_tensor(mask, device=targets.device).bool()
        z = self._solve(inverse_link(smooth_time(targets, valid, smooth_sigma)), observed)
        return z if valid is None else torch.where(valid.unsqueeze(-1), z, 0.0)

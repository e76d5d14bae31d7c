"""Observation models (readouts) mapping latents to data, with masked losses.

Every readout has ``predict(latents)``, ``loss(latents, targets, mask=None, *, observed=None)``
(the mean over valid entries: ``mask`` (batch, time) marks valid steps, ``observed`` (batch,
unit) recorded units) and ``invert(targets)`` (a data-inferred latent estimate used as teacher
forcing target or initial state). Masked entries never reach a loss or a gradient: they are 0
*before* any arithmetic, so NaN or garbage there changes nothing. Latents may carry ensemble
dims ``(..., batch, time, latent)``: a readout with that ``ensemble_shape`` has one map per
member; ``member_loss`` returns each member's mean (shape ``ensemble_shape``) and ``loss`` is
their sum. Single fits and ensembles train through ``member_loss``: one formula per loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.fused_poisson import member_rates, readout_member_loss
from alrnn_neuro.models.gaussian_readout import GaussianReadout
from alrnn_neuro.models.linear_readout import (
    LinearReadout,
    member_mean,
    smooth_time,
    step_entry_masks,
    zero_masked,
)

__all__ = [
    "ChoiceHead",
    "GaussianReadout",
    "IdentityReadout",
    "LinearReadout",
    "PoissonReadout",
    "member_mean",
    "smooth_time",
]

RATE_FLOOR = 1e-2


class PoissonReadout(LinearReadout):
    """Poisson spike counts per bin with rate ``softplus(B z + b)`` (or ``exp``).

    Parameters
    ----------
    latent_dim : int
        M.
    n_units : int
        N recorded units.
    link : {"softplus", "exp"}
        Rate nonlinearity.
    seed : int, optional
        Seed of ``B ~ N(0, 0.1^2)``; ``b`` starts at 0 (see :meth:`set_bias_from_rates`).
    ensemble_shape : tuple of int
        One readout per ensemble member.

    Examples
    --------
    >>> readout = PoissonReadout(3, 4, seed=0)
    >>> readout.predict(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 4])
    """

    def __init__(
        self,
        latent_dim: int,
        n_units: int,
        *,
        link: str = "softplus",
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
    ) -> None:
        super().__init__(latent_dim, n_units, seed=seed, ensemble_shape=ensemble_shape)
        if link not in ("softplus", "exp"):
            raise ConfigError(f"link={link!r} is not one of ('softplus', 'exp')")
        self.link = link

    def _nll(self, latents, targets, mask, observed, full=True):
        """Per-entry Poisson NLL (masked entries hold finite junk) and the entry mask."""
        x, y, m = self._prepare(latents, targets, mask, observed)
        if self.link == "exp":
            rate, log_rate = torch.exp(x), x
        else:
            rate = F.softplus(x)
            log_rate = torch.log(rate + torch.finfo(x.dtype).tiny)  # finite where rate = 0
        nll = rate - y * log_rate
        return (nll + torch.lgamma(y + 1) if full else nll), m

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Expected counts per bin, shape (..., batch, time, unit)."""
        stacked = latents.dim() == 4 and self.ensemble_shape == (latents.shape[0],)
        if stacked and not torch.is_grad_enabled() and latents.shape[-1] == self.latent_dim:
            return member_rates(latents, self.weight, self.bias, self.link)  # block by block
        x = self.linear(latents)
        return torch.exp(x) if self.link == "exp" else F.softplus(x)

    def log_likelihood(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Poisson log-likelihood of each entry, shape (..., batch, time, unit); 0 if masked.

        ``latents`` (..., batch, time, latent), counts ``targets`` (batch, time, unit), ``mask``
        (batch, time) or (batch, time, unit) and ``observed`` (batch, unit) as in ``loss``.
        """
        nll, m = self._nll(latents, targets, mask, observed)
        return zero_masked(-nll, m)

    def member_loss(
        self, latents, targets, mask=None, *, observed=None, full=True, log_factorial=None
    ) -> torch.Tensor:
        """Mean Poisson NLL ``rate - y log(rate) + log(y!)`` over valid, observed entries.

        Parameters
        ----------
        latents : Tensor, shape (..., batch, time, latent)
        targets : Tensor, shape (batch, time, unit)
            Counts.
        mask : Tensor of bool, shape (batch, time) or (batch, time, unit), optional
        observed : Tensor of bool, shape (batch, unit), optional
        full : bool
            False leaves out the data-only ``log(y!)``.
        log_factorial : Tensor, shape (batch, time), optional
            That term per step, summed over observed units, computed once per dataset
            (:func:`~alrnn_neuro.models.log_factorial.log_factorial_steps`); used by the
            fused path instead of summing ``log(y!)`` of the batch on every call.

        Returns
        -------
        Tensor, shape ``ensemble_shape``
            With <= 1 ensemble dim and a (batch, time) ``mask`` through the fused
            :func:`~alrnn_neuro.models.fused_poisson.readout_member_loss`.
        """
        args = (latents, targets, mask, observed, log_factorial)
        fast = readout_member_loss(self, *args) if full else None
        if fast is not None:
            return fast
        return member_mean(*self._nll(latents, targets, mask, observed, full))

    def loss(self, latents, targets, mask=None, **kwargs) -> torch.Tensor:
        """Sum over members of :meth:`member_loss` (a scalar; keywords as there)."""
        return self.member_loss(latents, targets, mask, **kwargs).sum()

    def set_bias_from_rates(self, mean_counts: torch.Tensor) -> None:
        """Set ``b`` so that z = 0 predicts ``mean_counts`` (unit,) per bin."""
        with torch.no_grad():
            self.bias.copy_(self.inverse_link(torch.as_tensor(mean_counts).to(self.bias)))

    def invert(self, targets, mask=None, *, observed=None, smooth_sigma: float = 1.0):
        """Data-inferred latents: least squares ``B^+ (link^-1(smoothed rate) - b)``.

        Counts are Gaussian-smoothed along time (``smooth_sigma`` bins, masked steps
        ignored), floored at 0.01 counts/bin, mapped through the inverse link and projected
        with the pseudo-inverse of ``B`` (per set of ``observed`` units if given).

        Returns
        -------
        Tensor, shape (..., batch, time, latent); 0 on masked steps.
        """
        return self._invert(targets, mask, observed, smooth_sigma, self.inverse_link)

    def inverse_link(self, rate: torch.Tensor) -> torch.Tensor:
        """``link^-1`` of rates floored at 0.01 counts/bin (log, or the softplus inverse)."""
        r = rate.clamp(min=RATE_FLOOR)
        return torch.log(r) if self.link == "exp" else r + torch.log(-torch.expm1(-r))


class IdentityReadout(nn.Module):
    """The first ``n_obs`` latents *are* the observations (dynamical-systems reconstruction).

    Parameters
    ----------
    n_obs : int
        N observed channels (N <= latent_dim of the model).
    latent_dim : int, optional
        If given, :meth:`invert` pads its estimate with zeros to this width.
    """

    def __init__(self, n_obs: int, *, latent_dim: int | None = None) -> None:
        super().__init__()
        if n_obs < 1 or (latent_dim is not None and latent_dim < n_obs):
            raise ConfigError(
                f"n_obs={n_obs} must be >= 1 and <= latent_dim={latent_dim} (the readout "
                "copies the first n_obs latents)"
            )
        self.n_obs, self.latent_dim = n_obs, latent_dim

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """The first ``n_obs`` latents, shape (..., batch, time, n_obs)."""
        if latents.shape[-1] < self.n_obs:
            raise DataValidationError(
                f"latents have {latents.shape[-1]} units but IdentityReadout reads the first "
                f"n_obs={self.n_obs}; use latent_dim >= n_obs"
            )
        return latents[..., : self.n_obs]

    def member_loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Mean squared error over valid, observed entries, per member of ``latents``."""
        if targets.shape[-1] != self.n_obs:
            raise DataValidationError(
                f"targets have shape {tuple(targets.shape)}; expected (batch, time, {self.n_obs})"
            )
        step, entry = step_entry_masks(mask, observed, targets.device)
        pred = self.predict(zero_masked(latents, step))
        return member_mean((pred - zero_masked(targets.to(pred.dtype), entry)) ** 2, entry)

    def loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Sum over members of :meth:`member_loss` (a scalar)."""
        return self.member_loss(latents, targets, mask, observed=observed).sum()

    def invert(self, targets, mask=None, *, observed=None):
        """The observations themselves (zero-padded to ``latent_dim`` if set), 0 if masked."""
        z = torch.as_tensor(targets)
        z = zero_masked(z, step_entry_masks(mask, observed, z.device)[1])
        if self.latent_dim is not None:
            z = F.pad(z, (0, self.latent_dim - self.n_obs))
        return z


class ChoiceHead(LinearReadout):
    """Linear softmax classifier of the latents at chosen steps (e.g. a response epoch).

    ``loss(latents, labels, mask)``: cross-entropy averaged over the (batch, time) entries
    where ``mask`` is True and the label is >= 0 (-1 marks a missing label); ``labels`` is
    (batch,) (one class per trial) or (batch, time).

    Parameters
    ----------
    latent_dim : int
        M.
    n_classes : int
        Number of classes (>= 2).
    seed : int, optional
        Seed of the weights ``~ N(0, 0.1^2)``.
    ensemble_shape : tuple of int
        One head per ensemble member.
    """

    def __init__(
        self,
        latent_dim: int,
        n_classes: int,
        *,
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
    ) -> None:
        if n_classes < 2:
            raise ConfigError(f"n_classes={n_classes} must be >= 2 for a choice head")
        super().__init__(latent_dim, n_classes, seed=seed, ensemble_shape=ensemble_shape)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape (..., batch, time, class)."""
        return torch.softmax(self.linear(latents), dim=-1)

    def member_loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Mean cross-entropy over the masked-in steps with a label >= 0, per member."""
        labels = torch.as_tensor(targets, device=latents.device)
        if labels.dim() == 1:
            labels = labels.unsqueeze(-1).expand(latents.shape[-3:-1])
        if labels.shape != latents.shape[-3:-1]:
            raise DataValidationError(
                f"labels have shape {tuple(labels.shape)}; expected (batch,) or (batch, time) "
                f"= {tuple(latents.shape[-3:-1])}"
            )
        labels = torch.nan_to_num(labels.double(), nan=-1).long()
        m = labels >= 0
        if mask is not None:
            m = m & torch.as_tensor(mask, device=latents.device).bool()
        if labels.numel() and int(labels.max()) >= self.n_out:  # -1 = missing label
            raise DataValidationError(f"labels must be < n_classes={self.n_out}")
        logits = self.linear(zero_masked(latents, m.unsqueeze(-1)))
        logp = torch.log_softmax(logits, dim=-1)  # (..., batch, time, class)
        index = torch.where(m, labels, 0).unsqueeze(-1).expand(*logp.shape[:-1], 1)
        return member_mean(-torch.gather(logp, -1, index), m.unsqueeze(-1))

    def invert(self, targets, mask=None, *, observed=None):
        """Not available: class labels do not determine a latent state."""
        raise ConfigError(
            "ChoiceHead cannot produce latent estimates for teacher forcing or z0; invert the "
            "neural observation model (PoissonReadout / GaussianReadout) instead"
        )

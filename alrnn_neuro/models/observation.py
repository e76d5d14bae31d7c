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

import math

import torch
from torch import nn
from torch.nn import functional as F

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.fused_poisson import member_linear, member_rates, readout_member_loss
from alrnn_neuro.models.least_squares import observed_pinv

_LOG_2PI = math.log(2 * math.pi)
RATE_FLOOR = 1e-2


def _masks(mask, observed, device):
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


def _zero(x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
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

    def _prepare(self, latents, targets, mask, observed):
        """``(x = B z + b, targets, entry mask)`` with masked latents and targets set to 0."""
        if targets.shape[-1] != self.n_out or targets.dim() < 3:
            raise DataValidationError(
                f"targets have shape {tuple(targets.shape)}; expected (batch, time, {self.n_out})"
            )
        step, entry = _masks(mask, observed, targets.device)
        return self.linear(_zero(latents, step)), _zero(targets.to(latents.dtype), entry), entry

    def _invert(self, targets, mask, observed, smooth_sigma, inverse_link):  # -> (..., B, T, M)
        targets = torch.as_tensor(targets, dtype=self.weight.dtype, device=self.weight.device)
        valid = None if mask is None else torch.as_tensor(mask, device=targets.device).bool()
        z = self._solve(inverse_link(smooth_time(targets, valid, smooth_sigma)), observed)
        return z if valid is None else torch.where(valid.unsqueeze(-1), z, 0.0)


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
        return _zero(-nll, m)

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


class GaussianReadout(LinearReadout):
    """Linear-Gaussian observations ``x_t = B z_t + b + noise``.

    Parameters
    ----------
    latent_dim : int
        M.
    n_obs : int
        N observed channels.
    noise : {"mse", "fixed", "learned"}
        Loss: plain mean squared error, or the Gaussian negative log-likelihood with a fixed
        or learned per-channel standard deviation (starting at ``noise_std``).
    noise_std : float
        Noise standard deviation for ``"fixed"`` / initial value for ``"learned"``.
    seed : int, optional
        Seed of ``B ~ N(0, 0.1^2)``.
    ensemble_shape : tuple of int
        One readout per ensemble member.
    """

    def __init__(
        self,
        latent_dim: int,
        n_obs: int,
        *,
        noise: str = "mse",
        noise_std: float = 1.0,
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
    ) -> None:
        super().__init__(latent_dim, n_obs, seed=seed, ensemble_shape=ensemble_shape)
        if noise not in ("mse", "fixed", "learned"):
            raise ConfigError(f"noise={noise!r} is not one of ('mse', 'fixed', 'learned')")
        if not noise_std > 0:
            raise ConfigError(f"noise_std={noise_std!r} must be > 0")
        self.noise = noise
        log_std = torch.full((*self.ensemble_shape, n_obs), math.log(noise_std))
        if noise == "learned":
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Predicted observations, shape (..., batch, time, n_obs)."""
        return self.linear(latents)

    def member_loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Mean squared error or Gaussian NLL over valid, observed entries, per member."""
        x, y, m = self._prepare(latents, targets, mask, observed)
        err = x - y  # (..., batch, time, n_obs)
        if self.noise == "mse":
            return member_mean(err**2, m)
        log_std = self.log_std.unsqueeze(-2).unsqueeze(-2)
        nll = 0.5 * (err * torch.exp(-log_std)) ** 2 + log_std + 0.5 * _LOG_2PI
        return member_mean(nll, m)

    def invert(self, targets, mask=None, *, observed=None, smooth_sigma: float = 0.0):
        """Least-squares latents ``B^+ (x - b)``, shape (..., batch, time, latent); 0 if masked.

        Observations are first smoothed over ``smooth_sigma`` bins (0 = not smoothed).
        """
        return self._invert(targets, mask, observed, smooth_sigma, lambda x: x)


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
        step, entry = _masks(mask, observed, targets.device)
        pred = self.predict(_zero(latents, step))
        return member_mean((pred - _zero(targets.to(pred.dtype), entry)) ** 2, entry)

    def loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Sum over members of :meth:`member_loss` (a scalar)."""
        return self.member_loss(latents, targets, mask, observed=observed).sum()

    def invert(self, targets, mask=None, *, observed=None):
        """The observations themselves (zero-padded to ``latent_dim`` if set), 0 if masked."""
        z = torch.as_tensor(targets)
        z = _zero(z, _masks(mask, observed, z.device)[1])
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
        logits = self.linear(_zero(latents, m.unsqueeze(-1)))
        logp = torch.log_softmax(logits, dim=-1)  # (..., batch, time, class)
        index = torch.where(m, labels, 0).unsqueeze(-1).expand(*logp.shape[:-1], 1)
        return member_mean(-torch.gather(logp, -1, index), m.unsqueeze(-1))

    def invert(self, targets, mask=None, *, observed=None):
        """Not available: class labels do not determine a latent state."""
        raise ConfigError(
            "ChoiceHead cannot produce latent estimates for teacher forcing or z0; invert the "
            "neural observation model (PoissonReadout / GaussianReadout) instead"
        )

"""Linear-Gaussian readout of continuous signals (LFP, calcium, firing rates), fitted in
standard units of each channel.

Recordings come in their own units: LFP in volts (values of 1e-4), in microvolts (1e2), or
z-scored. A readout ``x = B z + b`` fitted directly in those units cannot learn at both ends:
Adam moves each weight by about the learning rate per step, whatever the data's scale, so at
1e-8 volts every step overshoots by a factor of 1e5 and at 1e6 the fit never gets there (on a
simulated two-latent signal, 30 epochs gave R^2 = -6e8 at scale 1e-8, -10 at 1 and -16 at 1e6).
:class:`GaussianReadout` therefore predicts ``x = offset + scale * (B z + b)`` with ``offset``
and ``scale`` each channel's mean and standard deviation on the training trials (buffers,
saved with the model; :meth:`~GaussianReadout.standardize`): ``B`` and ``b`` live in standard
units, its loss is the squared error in those units, and :meth:`~GaussianReadout.predict`
returns the signal's own units. A readout saved without them (an older run) loads with offset 0
and scale 1, which is the model it was.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.linear_readout import LinearReadout, member_mean

_LOG_2PI = math.log(2 * math.pi)
#: an SD at or below this fraction of a channel's mean is rounding: the channel is constant
FLAT = 1e-6


def usable_sd(std, mean):
    """Where a channel's SD can serve as its scale: positive and above :data:`FLAT` of its
    mean (NaN, a channel without data, is not). Numpy arrays or tensors alike."""
    return (std > 0) & (std > FLAT * abs(mean))


class GaussianReadout(LinearReadout):
    """Linear-Gaussian observations ``x_t = offset + scale * (B z_t + b) + noise``.

    Parameters
    ----------
    latent_dim : int
        M.
    n_obs : int
        N observed channels.
    noise : {"mse", "fixed", "learned"}
        Loss: plain mean squared error, or the Gaussian negative log-likelihood with a fixed
        or learned per-channel standard deviation (starting at ``noise_std``), all in standard
        units of each channel (see the module doc).
    noise_std : float
        Noise standard deviation (standard units) for ``"fixed"`` / initial value for
        ``"learned"``.
    seed : int, optional
        Seed of ``B ~ N(0, 0.1^2)``.
    ensemble_shape : tuple of int
        One readout per ensemble member.

    Examples
    --------
    >>> readout = GaussianReadout(2, 3, seed=0)
    >>> readout.standardize(torch.tensor([1e-4, 0.0, 5.0]), torch.tensor([1e-5, 1.0, 2.0]))
    >>> readout.predict(torch.zeros(1, 1, 2)).flatten().tolist()  # b = 0: the channel means
    [9.999999747378752e-05, 0.0, 5.0]
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
        self.register_buffer("offset", torch.zeros(*self.ensemble_shape, n_obs))
        self.register_buffer("scale", torch.ones(*self.ensemble_shape, n_obs))

    @torch.no_grad()
    def standardize(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set each channel's ``offset`` and ``scale`` (shape (n_obs,), the same for every
        member).

        A channel without a usable SD borrows one from the others, so that it stays in the
        data's units: a constant channel (SD 0, or below :data:`FLAT` of its mean: float32
        rounding) and a channel never observed on a training trial (``std`` NaN) get the median
        SD of the other channels (1 if none has one); a never-observed channel also gets the
        median mean of the others as its offset.
        """
        mean = torch.as_tensor(mean, dtype=self.offset.dtype)
        std = torch.as_tensor(std, dtype=self.scale.dtype)
        seen = ~torch.isnan(std)
        usable = usable_sd(std, mean)
        spare = std[usable].median() if bool(usable.any()) else torch.tensor(1.0)
        level = mean[seen].median() if bool(seen.any()) else torch.tensor(0.0)
        self.offset.copy_(torch.where(seen, mean, level).expand_as(self.offset))
        self.scale.copy_(torch.where(usable, std, spare).expand_as(self.scale))

    def _standard(self, targets) -> torch.Tensor:
        """Targets (batch, time, n_obs) in standard units, (..., batch, time, n_obs)."""
        targets = torch.as_tensor(targets, dtype=self.weight.dtype, device=self.weight.device)
        shape = (*self.ensemble_shape, 1, 1, self.n_out)
        return (targets - self.offset.reshape(shape)) / self.scale.reshape(shape)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Predicted observations in the signal's units, shape (..., batch, time, n_obs)."""
        shape = (*self.ensemble_shape, 1, 1, self.n_out)
        return self.offset.reshape(shape) + self.scale.reshape(shape) * self.linear(latents)

    def member_loss(self, latents, targets, mask=None, *, observed=None) -> torch.Tensor:
        """Mean squared error or Gaussian NLL over valid, observed entries, per member, in
        standard units of each channel."""
        self._check_targets(targets)
        x, y, m = self._prepare(latents, self._standard(targets), mask, observed)
        err = x - y  # (..., batch, time, n_obs)
        if self.noise == "mse":
            return member_mean(err**2, m)
        log_std = self.log_std.unsqueeze(-2).unsqueeze(-2)
        nll = 0.5 * (err * torch.exp(-log_std)) ** 2 + log_std + 0.5 * _LOG_2PI
        return member_mean(nll, m)

    def invert(self, targets, mask=None, *, observed=None, smooth_sigma: float = 0.0):
        """Least-squares latents ``B^+ ((x - offset) / scale - b)``, shape
        (..., batch, time, latent); 0 if masked.

        Observations are first smoothed over ``smooth_sigma`` bins (0 = not smoothed).
        """
        return self._invert(self._standard(targets), mask, observed, smooth_sigma, lambda x: x)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D102
        for name, fill in (("offset", 0.0), ("scale", 1.0)):  # saved before these existed
            state_dict.setdefault(prefix + name, torch.full_like(getattr(self, name), fill))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

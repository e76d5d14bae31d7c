"""``FitModel``: latent dynamics + observation model (+ choice head) as one trainable module.

The pieces come from :mod:`alrnn_neuro.models`; this module only wires them to the padded
trial tensors of :mod:`~alrnn_neuro.training.batching` and defines the training objective::

    objective = obs_loss(latents, data; loss_mask & observed) + w · choice_loss(latents, label)
    penalty   = MAR(A, W, h) + self-coupling L1 (A, W) (AL-RNN only)

Both losses are means over their valid entries (see :mod:`alrnn_neuro.models.observation`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from alrnn_neuro.models import observation
from alrnn_neuro.models.baselines import make_model
from alrnn_neuro.models.task_readout import TASK_LOSSES, make_task_readout
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.forcing import forcing_targets
from alrnn_neuro.training.regularizers import (
    mar_penalty,
    mar_units,
    self_coupling_penalty,
    self_coupling_units,
)


def make_readout(
    obs: str, latent_dim: int, n_units: int, *, seed: int, ensemble_shape: tuple[int, ...] = ()
) -> nn.Module:
    """The observation model named by a resolved ``config.obs`` (one per ensemble member).

    Examples
    --------
    >>> type(make_readout("mse", 4, 2, seed=0)).__name__
    'MSETaskReadout'
    """
    if obs == "poisson":
        return observation.PoissonReadout(latent_dim, n_units, seed=seed,
                                          ensemble_shape=ensemble_shape)  # fmt: skip
    if obs == "gaussian":
        return observation.GaussianReadout(latent_dim, n_units, seed=seed,
                                           ensemble_shape=ensemble_shape)  # fmt: skip
    if obs in TASK_LOSSES:
        return make_task_readout(obs, latent_dim, n_units, seed=seed, ensemble_shape=ensemble_shape)
    return observation.IdentityReadout(n_units)


def mean_over_valid_steps(z: torch.Tensor, valid: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """Average per-step latent estimates ``z`` (..., trial, time, k) over each trial's valid
    steps and zero-pad to ``latent_dim``: the data-inferred z0 (..., trial, latent)."""
    w = valid[..., None].to(z.dtype)
    z0 = (z * w).sum(-2) / w.sum(-2).clamp(min=1)
    return F.pad(z0, (0, latent_dim - z0.shape[-1]))


class FitModel(nn.Module):
    """Latent dynamics, observation model and optional choice head of one fit.

    Parameters
    ----------
    config : FitConfig
        Resolved configuration (``obs`` and ``inputs`` explicit).
    n_units : int
        Number of observed units N (task datasets: number of outputs).
    n_classes : int
        Number of classes of the choice head (0 = no head).
    unit_mean : Tensor, shape (unit,), optional
        Mean observation per unit on the training trials: initialises the readout bias
        (so z = 0 predicts each unit's mean; task readouts: the mean target, or the log
        class frequencies for cross-entropy).

    Attributes
    ----------
    dynamics : Module
        ``alrnn_neuro.models.baselines.make_model(config.model, ...)``.
    readout : Module
        Poisson / Gaussian / identity observation model, or a task readout
        (:mod:`alrnn_neuro.models.task_readout`) for ``obs`` ``"mse"`` / ``"cross_entropy"``.
    head : Module or None
        Choice head.
    residual_std : buffer, shape (unit,)
        Standard deviation of the training residuals (Gaussian / identity models; used to
        sample observations).

    Examples
    --------
    >>> net = FitModel(FitConfig(obs="poisson", inputs=("a",)), n_units=5)
    >>> type(net.dynamics).__name__, type(net.readout).__name__
    ('ALRNN', 'PoissonReadout')
    """

    def __init__(
        self,
        config: FitConfig,
        n_units: int,
        n_classes: int = 0,
        unit_mean: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        m, seed = config.latent_dim, config.seed
        init_state = config.init_state
        if init_state == "data" and config.model != "alrnn":
            init_state = "zero"  # baselines take the data-inferred z0 as an explicit argument
        self.dynamics = make_model(
            config.model, m, config.pwl_units, len(config.inputs), seed, init_state=init_state
        )
        self.readout = make_readout(config.obs, m, n_units, seed=seed + 1)
        if unit_mean is not None:
            if config.obs == "poisson":
                self.readout.set_bias_from_rates(unit_mean)
            elif config.obs == "gaussian":
                with torch.no_grad():
                    self.readout.bias.copy_(unit_mean)
            elif config.obs in TASK_LOSSES:
                self.readout.set_bias_from_targets(unit_mean)
        self.head = None
        if n_classes:
            self.head = observation.ChoiceHead(m, n_classes, seed=seed + 2)
        self.register_buffer("residual_std", torch.zeros(n_units))
        self._mar_units = mar_units(m, config.pwl_units, config.mar_units)
        self._self_units = self_coupling_units(m, config.self_coupling_units)

    def initial_state(self, batch: TrialTensors) -> torch.Tensor | None:
        """z0 (trial, latent) inferred from data, or None (the model's own z0).

        With ``init_state="data"``: the readout's ``invert`` of each trial's first
        ``init_bins`` bins, averaged over those bins. Gradients flow through the inversion
        into the readout, so the readout learns to make z0 useful (a detached z0 chases a
        moving readout and made training unstable).
        """
        if self.config.init_state != "data":
            return None
        k = self.config.init_bins
        head = batch.first_steps(k)
        z = self.readout.invert(head.data, head.valid, observed=head.observed)
        return mean_over_valid_steps(z, head.valid, self.config.latent_dim)

    def latents(self, batch: TrialTensors, forcing: torch.Tensor | None = None) -> torch.Tensor:
        """Run the dynamics over the batch; ``forcing`` = per-step alpha (trial, time, 1).

        Returns
        -------
        Tensor, shape (trial, time, latent)
            The model's own states (before teacher forcing is applied at a step).
        """
        forced = None
        if forcing is not None:
            forced = (forcing_targets(self.readout, batch), forcing)
        return self.dynamics(batch.inputs, z0=self.initial_state(batch), forcing=forced)

    def loss(self, batch: TrialTensors, forcing: torch.Tensor | None = None) -> dict:
        """Loss terms of a batch, each a scalar tensor: ``objective`` (obs + weighted
        choice), ``obs``, ``choice`` and ``penalty`` (MAR + self-coupling)."""
        z = self.latents(batch, forcing)
        obs = self.readout.loss(z, batch.data, batch.loss_mask, observed=batch.observed)
        choice = obs.new_zeros(())
        if self.head is not None and bool(batch.readout.any()):
            choice = self.head.loss(z, batch.labels, batch.readout)
        penalty = obs.new_zeros(())
        if self.config.mar > 0:
            d = self.dynamics
            penalty = mar_penalty(d.A, d.W, d.h, self._mar_units, self.config.mar)
        if self.config.self_coupling > 0:
            d = self.dynamics
            penalty = penalty + self_coupling_penalty(
                d.A, d.W, self._self_units, self.config.self_coupling
            )
        objective = obs + self.config.behaviour_weight * choice
        return {"objective": objective, "obs": obs, "choice": choice, "penalty": penalty}

    @torch.no_grad()
    def predict(self, batch: TrialTensors) -> dict[str, torch.Tensor]:
        """Free-running latents, predicted observations and choice probabilities.

        Returns
        -------
        dict
            ``latents`` (trial, time, latent), ``prediction`` (trial, time, unit) and, with a
            choice head, ``choice_prob`` (trial, time, class).
        """
        z = self.latents(batch)
        out = {"latents": z, "prediction": self.readout.predict(z)}
        if self.head is not None:
            out["choice_prob"] = self.head.predict(z)
        return out

"""``FitModel``: latent dynamics + observation model (+ choice head) as one trainable module.

The pieces come from :mod:`alrnn_neuro.models`; this module only wires them to the padded
trial tensors of :mod:`~alrnn_neuro.training.batching` and defines the training objective of
each member::

    objective_k = obs_loss_k(latents, data; loss_mask & observed) + w · choice_loss_k(latents)
    penalty_k   = MAR_k(A, W, h) + self-coupling L1_k(A, W) (AL-RNN only)

Both losses are means over their valid entries (see :mod:`alrnn_neuro.models.observation`).

One class serves single fits and ensembles: a single fit has no ensemble dim
(``ensemble_shape == ()``, one member); :meth:`FitModel.stack` builds K AL-RNN fits with the
same M, data and hyperparameters but their own P and initialisation seed as one module whose
parameters carry a leading ``member`` dim, so all members run in one call of the fused engine.
The training loop (:mod:`~alrnn_neuro.training.loop`) sees only members: their losses
(:meth:`FitModel.member_losses`, shape (member,)), their states and their gradient norms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models import observation
from alrnn_neuro.models.alrnn import ALRNN
from alrnn_neuro.models.baselines import make_model
from alrnn_neuro.models.least_squares import apply_observed_pinv, apply_pinv
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.models.task_readout import TASK_LOSSES, make_task_readout
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.forcing import forcing_targets
from alrnn_neuro.training.regularizers import (
    mar_member_penalty,
    mar_unit_mask,
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
        return observation.PoissonReadout(
            latent_dim, n_units, seed=seed, ensemble_shape=ensemble_shape
        )
    if obs == "gaussian":
        return observation.GaussianReadout(
            latent_dim, n_units, seed=seed, ensemble_shape=ensemble_shape
        )
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
    """Latent dynamics, observation model and optional choice head of one fit (or a stack).

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
    unit_std : Tensor, shape (unit,), optional
        Standard deviation per unit on the training trials: with ``unit_mean``, the standard
        units a Gaussian readout is fitted in (:mod:`~alrnn_neuro.models.gaussian_readout`;
        default 1, the signal's own units).

    Attributes
    ----------
    configs : list of FitConfig
        Each member's configuration (one for a single fit).
    config : FitConfig
        The shared hyperparameters (``configs[0]``).
    ensemble_shape : tuple of int
        ``()`` for a single fit, ``(member,)`` for a stack.
    dynamics : Module
        ``alrnn_neuro.models.baselines.make_model(config.model, ...)``.
    readout : Module
        Poisson / Gaussian / identity observation model, or a task readout
        (:mod:`alrnn_neuro.models.task_readout`) for ``obs`` ``"mse"`` / ``"cross_entropy"``.
    head : Module or None
        Choice head.
    residual_std : buffer, shape (..., unit)
        Standard deviation of the training residuals (Gaussian / identity models; used to
        sample observations).

    Examples
    --------
    >>> net = FitModel(FitConfig(obs="poisson", inputs=("a",)), n_units=5)
    >>> type(net.dynamics).__name__, type(net.readout).__name__, net.n_members
    ('ALRNN', 'PoissonReadout', 1)
    """

    def __init__(
        self,
        config: FitConfig,
        n_units: int,
        n_classes: int = 0,
        unit_mean: torch.Tensor | None = None,
        *,
        ensemble: Sequence[FitConfig] = (),
        unit_std: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.configs = list(ensemble) or [config]
        self.config = config
        self.ensemble_shape: tuple[int, ...] = (len(self.configs),) if ensemble else ()
        m, seed, ens = config.latent_dim, config.seed, self.ensemble_shape
        init_state = config.init_state
        if init_state == "data" and config.model != "alrnn":
            init_state = "zero"  # baselines take the data-inferred z0 as an explicit argument
        pwl = [c.pwl_units for c in self.configs] if ens else config.pwl_units
        extra: dict = {"ensemble_shape": ens} if ens else {}
        if config.model == "alrnn":
            extra.update(a_placement=config.a_placement, a_init=config.a_init)
        self.dynamics = make_model(
            config.model, m, pwl, len(config.inputs), seed, init_state=init_state, **extra
        )
        self.readout = make_readout(config.obs, m, n_units, seed=seed + 1, ensemble_shape=ens)
        if unit_mean is not None:
            self._set_readout_bias(unit_mean, unit_std)
        self.head = None
        if n_classes:
            self.head = observation.ChoiceHead(m, n_classes, seed=seed + 2, ensemble_shape=ens)
        self.register_buffer("residual_std", torch.zeros(*ens, n_units))
        masks = [mar_unit_mask(m, c.pwl_units, c.mar_units) for c in self.configs]
        self._mar_mask = torch.stack(masks).reshape(*ens, m)  # not state: derived from configs
        self._self_units = self_coupling_units(m, config.self_coupling_units)

    @classmethod
    def for_session(cls, session, config: FitConfig | None = None) -> FitModel:
        """A fresh model for a prepared session (:func:`~.session.prepare_session`): its
        units, classes and training-trial unit means (and standard deviations); ``config``
        defaults to the session's."""
        return cls(
            session.config if config is None else config,
            session.n_units,
            len(session.classes),
            session.unit_mean,
            unit_std=session.unit_std,
        )

    @classmethod
    def stack(cls, members: Sequence[FitModel]) -> FitModel:
        """K single AL-RNN fits as one module with a leading ``member`` dim.

        Parameters
        ----------
        members : sequence of FitModel
            Freshly initialised single fits (AL-RNN dynamics), identical except for
            ``config.pwl_units`` and ``config.seed``; their parameters are copied, so every
            member starts exactly where the single fit starts.
        """
        first = members[0]
        if first.ensemble_shape or first.config.model != "alrnn":
            raise ConfigError("FitModel.stack takes single AL-RNN fits (model='alrnn')")
        n_classes = first.head.n_out if first.head is not None else 0
        out = cls(
            first.config,
            int(first.residual_std.shape[-1]),
            n_classes,
            ensemble=[net.config for net in members],
        )
        states = [net.state_dict() for net in members]
        out.load_state_dict({k: torch.stack([s[k] for s in states]) for k in states[0]})
        return out

    # ------------------------------------------------------------------ members
    @property
    def n_members(self) -> int:
        """Number of members K (1 for a single fit)."""
        return len(self.configs)

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """``state_dict`` (cloned) of member ``index``, loadable into its single ``FitModel``."""
        state = self.state_dict()
        if not self.ensemble_shape:
            if index != 0:
                raise ConfigError(f"index={index}: a single fit has one member (index 0)")
            return {k: v.detach().clone() for k, v in state.items()}
        return {k: v[index].detach().clone() for k, v in state.items()}

    def load_member_state(self, index: int, state: dict[str, torch.Tensor]) -> None:
        """Put member ``index`` back to ``state`` (as returned by :meth:`member_state`)."""
        with torch.no_grad():
            for name, value in self.state_dict().items():
                if self.ensemble_shape:
                    value[index] = state[name]
                else:
                    value.copy_(state[name])

    def member_gradient_norms(self, max_norm: float) -> torch.Tensor:
        """Clip each member's gradient norm separately (in place); return the norms before.

        For a single fit this is ``torch.nn.utils.clip_grad_norm_`` over all parameters; in a
        stack, member k's norm runs over the k-th slice of every gradient (a global norm
        would let one member's large gradient shrink everybody's steps), scale
        ``min(1, max_norm / (norm + 1e-6))``; ``max_norm = 0`` only measures.

        Returns
        -------
        Tensor, shape (member,)
        """
        params = [p for p in self.parameters() if p.grad is not None]
        if not params:
            return torch.zeros(self.n_members)
        if not self.ensemble_shape:
            if max_norm > 0:
                return torch.nn.utils.clip_grad_norm_(params, max_norm).reshape(1)
            norms = torch.stack([p.grad.norm() for p in params])
            return torch.linalg.vector_norm(norms).reshape(1)
        return clip_members(params, max_norm)

    def params(self, index: int | None = None) -> ALRNNParams:
        """The AL-RNN parameters of the fit (or of member ``index`` of a stack)."""
        if not isinstance(self.dynamics, ALRNN):
            raise ConfigError(
                f"model={self.config.model!r} has no linear regions; fix: fit model='alrnn'"
            )
        if self.ensemble_shape:
            if index is None:
                raise ConfigError("a stack of fits needs params(index=k)")
            return ALRNNParams.from_model(self.dynamics.member(index))
        return ALRNNParams.from_model(self.dynamics)

    # ------------------------------------------------------------------ forward
    def initial_state(self, batch: TrialTensors) -> torch.Tensor | None:
        """z0 (..., trial, latent) inferred from data, or None (the model's own z0).

        With ``init_state="data"``: the readout's ``invert`` of each trial's ``init_mask``
        bins (the first ``init_bins`` valid bins, of ``init_epochs`` if given), averaged over
        those bins. Gradients flow through the inversion
        into the readout, so the readout learns to make z0 useful (a detached z0 chases a
        moving readout and made training unstable). The inversion is affine in the data, so
        when every unit is observed a Poisson readout averages first and solves once per
        trial (or per set of observed units); it inverts the batch's ``init_rate`` (the data
        smoothed once per dataset).
        """
        if self.config.init_state != "data":
            return None
        head = batch.initial_steps()
        readout = self.readout
        if isinstance(readout, observation.PoissonReadout):
            rate = head.init_rate.to(readout.weight.dtype)
            g = readout.inverse_link(rate)
            w = head.valid[..., None].to(g.dtype)
            count = w.sum(-2)
            x = (g * w).sum(-2) - count * readout.bias.unsqueeze(-2)
            if bool(head.observed.all()):
                z0 = apply_pinv(readout.weight, x)
            else:  # e.g. pseudo-populations: each trial's own units
                z0 = apply_observed_pinv(readout.weight, x, head.observed)
            z0 = z0 / count.clamp(min=1)
            return F.pad(z0, (0, self.config.latent_dim - z0.shape[-1]))
        z = readout.invert(head.data, head.valid, observed=head.observed)
        return mean_over_valid_steps(z, head.valid, self.config.latent_dim)

    def latents(self, batch: TrialTensors, forcing: torch.Tensor | None = None) -> torch.Tensor:
        """Run the dynamics over the batch; ``forcing`` = per-step alpha (trial, time, 1).

        Returns
        -------
        Tensor, shape (..., trial, time, latent)
            The model's own states (before teacher forcing is applied at a step).
        """
        forced = None
        if forcing is not None:
            forced = (forcing_targets(self.readout, batch), forcing)
        return self.dynamics(batch.inputs, z0=self.initial_state(batch), forcing=forced)

    def member_losses(
        self, batch: TrialTensors, forcing: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Loss terms of every member, each a tensor of shape (member,).

        ``objective`` (obs + weighted choice), ``obs``, ``choice`` and ``penalty`` (MAR +
        self-coupling);
        ``forcing`` is the per-step alpha (trial, time, 1).
        """
        z = self.latents(batch, forcing)
        extra = {}
        if isinstance(self.readout, observation.PoissonReadout):  # log(y!) precomputed
            extra["log_factorial"] = batch.log_factorial
        obs = self.readout.member_loss(
            z, batch.data, batch.loss_mask, observed=batch.observed, **extra
        )
        choice = torch.zeros_like(obs)
        if self.head is not None and bool(batch.readout.any()):
            choice = self.head.member_loss(z, batch.labels, batch.readout)
        penalty = torch.zeros_like(obs)
        if self.config.mar > 0 and isinstance(self.dynamics, ALRNN):
            d, study = self.dynamics, self.config.mar_definition == "study"
            mask = self._mar_mask.to(d.A.device, d.A.dtype)
            penalty = mar_member_penalty(
                d.self_connection, d.W, d.h, mask, self.config.mar, include_w_diagonal=study
            )
        if self.config.self_coupling > 0 and isinstance(self.dynamics, ALRNN):
            d, tau = self.dynamics, self.config.self_coupling
            a = d.self_connection
            penalty = penalty + self_coupling_penalty(a, d.W, self._self_units, tau)
        objective = obs + self.config.behaviour_weight * choice
        terms = {"objective": objective, "obs": obs, "choice": choice, "penalty": penalty}
        return {k: v.reshape(self.n_members) for k, v in terms.items()}

    def loss(self, batch: TrialTensors, forcing: torch.Tensor | None = None) -> dict:
        """Loss terms summed over members (scalars): see :meth:`member_losses`."""
        return {k: v.sum() for k, v in self.member_losses(batch, forcing).items()}

    @torch.no_grad()
    def predict(self, batch: TrialTensors) -> dict[str, torch.Tensor]:
        """Free-running latents, predicted observations and choice probabilities.

        Returns
        -------
        dict
            ``latents`` (..., trial, time, latent), ``prediction`` (..., trial, time, unit)
            and, with a choice head, ``choice_prob`` (..., trial, time, class).
        """
        z = self.latents(batch)
        out = {"latents": z, "prediction": self.readout.predict(z)}
        if self.head is not None:
            out["choice_prob"] = self.head.predict(z)
        return out

    def _set_readout_bias(self, unit_mean: torch.Tensor, unit_std: torch.Tensor | None) -> None:
        config = self.config
        if config.obs == "poisson":
            self.readout.set_bias_from_rates(unit_mean)
        elif config.obs == "gaussian":  # b = 0 in standard units: z = 0 predicts the means
            self.readout.standardize(
                unit_mean, torch.ones_like(unit_mean) if unit_std is None else unit_std
            )
        elif config.obs in TASK_LOSSES:
            self.readout.set_bias_from_targets(unit_mean)


def clip_members(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip each member's gradient norm separately (in place); return the norms before.

    For member k the norm runs over the k-th slice of every parameter's gradient, exactly as
    ``torch.nn.utils.clip_grad_norm_`` would over that member's own parameters
    (scale ``min(1, max_norm / (norm + 1e-6))``).

    Parameters
    ----------
    params : sequence of Tensor
        Parameters with a leading member dim (those whose ``grad`` is None are skipped).
    max_norm : float
        Maximum norm per member; 0 only measures.

    Returns
    -------
    Tensor, shape (member,)
        Gradient norm of each member before clipping.

    Examples
    --------
    >>> p = torch.zeros(2, 3, requires_grad=True)
    >>> p.grad = torch.tensor([[3.0, 4.0, 0.0], [0.3, 0.4, 0.0]])
    >>> clip_members([p], 1.0).tolist(), p.grad[1].tolist()
    ([5.0, 0.5], [0.30000001192092896, 0.4000000059604645, 0.0])
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    per_param = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1)
    norms = torch.linalg.vector_norm(per_param, dim=1)
    if max_norm > 0:
        scale = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
        for g in grads:
            g.mul_(scale.reshape(-1, *(1,) * (g.dim() - 1)))
    return norms

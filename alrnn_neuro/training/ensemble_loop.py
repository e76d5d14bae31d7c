"""Train K AL-RNN fits as one module: stacked parameters, per-member losses, clipping, stopping.

:class:`EnsembleFitModel` stacks K :class:`~alrnn_neuro.training.network.FitModel` s (same
M, data and hyperparameters; each its own P and initialisation seed) along a leading
``member`` dim, so the recurrence of all members runs in one call of the fused engine.

Why the members stay independent:

* the training loss is ``sum_k (objective_k + penalty_k)``, so member k's parameters receive
  exactly the gradient of its own loss;
* gradient-norm clipping is computed **per member** (a global norm over all members would let
  one member's large gradient shrink everybody's steps) -- :func:`clip_members`;
* Adam / RAdam and weight decay act elementwise with one step counter, which all members share
  because they step together, so one optimiser over the stacked parameters equals K
  optimisers; the learning-rate schedule is the shared ``config``'s, identical for all;
* a member that stopped early (or diverged) is *frozen*: its loss is left out of the sum and
  its parameters are put back after every optimiser step (Adam's momentum would otherwise
  keep moving them); its best-validation state is kept.

All members share one split, batch order and teacher-forcing phase, drawn from ``config.seed``
exactly as a single fit does; only the initialisation comes from each member's own seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from alrnn_neuro.models import observation
from alrnn_neuro.models.alrnn import ALRNN
from alrnn_neuro.models.fused_poisson import poisson_member_loss
from alrnn_neuro.models.task_readout import TASK_LOSSES
from alrnn_neuro.training.batching import TrialTensors, iterate_batches
from alrnn_neuro.training.checkpoint import TrainState, snapshot
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.forcing import alpha_at, forcing_targets, forcing_weights
from alrnn_neuro.training.loop import EpochCallback, learning_rate
from alrnn_neuro.training.network import FitModel, make_readout, mean_over_valid_steps
from alrnn_neuro.training.regularizers import (
    mar_penalty,
    mar_units,
    self_coupling_penalty,
    self_coupling_units,
)


class EnsembleFitModel(nn.Module):
    """K fits stacked along a leading member dim (see module docstring).

    Parameters
    ----------
    members : sequence of FitModel
        Freshly initialised single-fit models (AL-RNN dynamics), identical except for
        ``config.pwl_units`` and ``config.seed``; their parameters are copied, so every member
        starts exactly where a single fit with its seed starts.

    Attributes
    ----------
    configs : list of FitConfig
        Each member's configuration.
    dynamics : ALRNN
        ``ensemble_shape = (member,)``; parameters (member, ...).
    readout, head : Module
        Observation model and optional choice head with the same member dim.
    """

    def __init__(self, members: Sequence[FitModel]) -> None:
        super().__init__()
        self.configs = [net.config for net in members]
        base, n = self.configs[0], len(members)
        m, n_units = base.latent_dim, int(members[0].residual_std.shape[0])
        ens = (n,)
        self.config = base
        self.dynamics = ALRNN(m, [c.pwl_units for c in self.configs], len(base.inputs),
                              init_state=base.init_state, seed=0, ensemble_shape=ens)  # fmt: skip
        self.readout = make_readout(base.obs, m, n_units, seed=0, ensemble_shape=ens)
        self.head = None
        if members[0].head is not None:
            n_classes = members[0].head.n_out
            self.head = observation.ChoiceHead(m, n_classes, seed=0, ensemble_shape=ens)
        self.register_buffer("residual_std", torch.zeros(n, n_units))
        states = [net.state_dict() for net in members]
        self.load_state_dict({k: torch.stack([s[k] for s in states]) for k in states[0]})
        self._mar_units = [mar_units(m, c.pwl_units, c.mar_units) for c in self.configs]
        self._self_units = self_coupling_units(m, base.self_coupling_units)

    @property
    def n_members(self) -> int:
        """Number of members K."""
        return len(self.configs)

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """``state_dict`` of member ``index`` (cloned), loadable into its ``FitModel``."""
        return {k: v[index].detach().clone() for k, v in self.state_dict().items()}

    def initial_state(self, batch: TrialTensors) -> torch.Tensor | None:
        """Data-inferred z0 (member, trial, latent) as in ``FitModel.initial_state``, or None."""
        if self.config.init_state != "data":
            return None
        head = batch.first_steps(self.config.init_bins)
        # every unit recorded in every trial: the per-unit-set loop of ``invert`` is one solve
        observed = None if bool(head.observed.all()) else head.observed
        if observed is None and isinstance(self.readout, observation.PoissonReadout):
            # the solve is affine: average the (data-only) targets over the valid head steps
            # first, then solve once per trial instead of once per step
            g = self.readout._inverse_link(observation.smooth_time(
                head.data.to(self.readout.weight.dtype), head.valid, 1.0))  # fmt: skip
            w = head.valid[..., None].to(g.dtype)
            c = w.sum(-2)
            x = (g * w).sum(-2) - c * self.readout.bias.unsqueeze(-2)
            z0 = x @ torch.linalg.pinv(self.readout.weight).mT / c.clamp(min=1)
            return nn.functional.pad(z0, (0, self.config.latent_dim - z0.shape[-1]))
        z = self.readout.invert(head.data, head.valid, observed=observed)
        return mean_over_valid_steps(z, head.valid, self.config.latent_dim)

    def member_losses(
        self, batch: TrialTensors, forcing: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Loss terms of every member, each a tensor of shape (member,).

        Same terms as :meth:`FitModel.loss`: ``objective`` (obs + weighted choice), ``obs``,
        ``choice``, ``penalty`` (MAR); ``forcing`` is the per-step alpha (trial, time, 1).
        """
        forced = None if forcing is None else (forcing_targets(self.readout, batch), forcing)
        z = self.dynamics(batch.inputs, z0=self.initial_state(batch), forcing=forced)
        obs = _observation_loss(self.readout, self.config.obs, z, batch)
        choice = torch.zeros_like(obs)
        if self.head is not None and bool(batch.readout.any()):
            choice = _choice_loss(self.head, z, batch)
        penalty = torch.zeros_like(obs)
        if self.config.mar > 0:
            d = self.dynamics
            penalty = torch.stack([mar_penalty(d.A[k], d.W[k], d.h[k], units, self.config.mar)
                                   for k, units in enumerate(self._mar_units)])  # fmt: skip
        if self.config.self_coupling > 0:
            d, tau = self.dynamics, self.config.self_coupling
            units = self._self_units
            penalty = penalty + torch.stack(
                [self_coupling_penalty(d.A[k], d.W[k], units, tau) for k in range(len(d.A))]
            )
        objective = obs + self.config.behaviour_weight * choice
        return {"objective": objective, "obs": obs, "choice": choice, "penalty": penalty}


def _observation_loss(readout, obs: str, z: torch.Tensor, batch: TrialTensors) -> torch.Tensor:
    """Per-member mean observation loss over valid, observed entries, shape (member,).

    The same formulas as the readouts' ``loss`` (Poisson NLL with ``log(y!)``, or squared
    error). Poisson: :func:`~alrnn_neuro.models.fused_poisson.poisson_member_loss` (valid
    rows only, chunked over members, gradient formed in its forward pass); squared error: the
    masked sums over (trial, time, unit) are matrix-vector products. Task readouts
    (``obs`` ``"mse"`` / ``"cross_entropy"``) score their ``loss_mask`` steps instead.
    """
    if obs in TASK_LOSSES:
        return readout.member_loss(z, batch.data, batch.loss_mask)
    if obs == "poisson":  # fused loss + hand-written gradient (models/fused_poisson.py)
        return poisson_member_loss(readout.weight, readout.bias, z, batch.data, batch.valid,
                                   batch.observed, link=readout.link)  # fmt: skip
    entry = batch.valid[..., None] & batch.observed[:, None, :]
    w = entry.to(z.dtype)
    count = w.sum().clamp(min=1)
    if not torch.isfinite(z.detach().sum()):  # NaN/inf on masked steps must not leak in
        z = torch.where(batch.valid[..., None], z, 0.0)
    y = torch.where(entry, batch.data.to(z.dtype), 0.0)
    n = z.shape[0]
    err = readout.predict(z) - y
    return (err**2).reshape(n, -1) @ w.flatten() / count


def _choice_loss(head, z: torch.Tensor, batch: TrialTensors) -> torch.Tensor:
    """Per-member mean cross-entropy on the readout steps, shape (member,)."""
    labels = batch.labels.unsqueeze(-1).expand(z.shape[-3:-1])
    m = (labels >= 0) & batch.readout
    logp = torch.log_softmax(head.linear(torch.where(m[..., None], z, 0.0)), dim=-1)
    index = torch.where(m, labels, 0).unsqueeze(-1).expand(*logp.shape[:-1], 1)
    nll = -torch.gather(logp, -1, index) * m[..., None].to(z.dtype)
    return nll.sum(dim=(-3, -2, -1)) / m.sum().clamp(min=1).to(z.dtype)


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


def evaluate_members(
    model: EnsembleFitModel, tensors: TrialTensors, positions: np.ndarray, chunk: int = 256
) -> np.ndarray:
    """Free-running objective of every member on the trials at ``positions``, shape (member,)."""
    total, weight = np.zeros(model.n_members), 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(positions), chunk):
            batch = tensors.take(positions[start : start + chunk])
            values = model.member_losses(batch)["objective"].double().cpu().numpy()
            total += values * batch.n_trials
            weight += batch.n_trials
    model.train()
    return total / max(weight, 1)


def train_ensemble(
    model: EnsembleFitModel,
    optimizer: torch.optim.Optimizer,
    tensors: TrialTensors,
    split: dict[str, np.ndarray],
    config: FitConfig,
    shared: TrainState,
    members: list[TrainState],
    *,
    callback: EpochCallback | None = None,
) -> list[TrainState]:
    """Train all members until ``config.epochs`` or until each has stopped.

    Parameters
    ----------
    model, optimizer
        The ensemble and one optimiser over its stacked parameters.
    tensors : TrialTensors
        All trials; ``split`` holds the ``train`` and ``val`` positions.
    config : FitConfig
        Shared configuration (schedule, batch size, clipping, patience, forcing).
    shared : TrainState
        Supplies the batch order and forcing phases (``TrainState.start(config.seed)``).
    members : list of TrainState
        One per member: history, early stopping, best state (``best_model`` is that member's
        own ``state_dict``) and ``stop_reason`` (``max_epochs``, ``early_stopping`` or
        ``diverged`` -- a member whose loss or gradient became NaN/inf is frozen instead of
        ending the whole ensemble).
    callback : callable, optional
        Called after every epoch with ``epoch``, ``epochs``, ``active`` (members still
        training), ``val_loss`` (list) and ``seconds``.

    Returns
    -------
    list of TrainState
        ``members``, updated.
    """
    train_idx, val_idx = split["train"], split["val"]
    while shared.epoch < config.epochs and any(not s.stop_reason for s in members):
        started = time.perf_counter()
        lr = learning_rate(shared.epoch, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        alpha = alpha_at(
            shared.epoch, alpha=config.tf_alpha, anneal=config.tf_anneal, epochs=config.epochs
        )
        active = np.array([not s.stop_reason for s in members])
        good = snapshot(model)
        losses, norms, ok = _train_epoch(model, optimizer, tensors, train_idx, config, shared,
                                         alpha, active)  # fmt: skip
        val = evaluate_members(model, tensors, val_idx)
        shared.epoch += 1
        for k in np.flatnonzero(active):
            state = members[k]
            if not ok[k] or not math.isfinite(val[k]):
                _freeze_diverged(model, good, state, k)
                continue
            state.epoch += 1
            _update_member(state, model, k, float(val[k]), config)
            record = {"train_loss": losses[k], "val_loss": val[k], "lr": lr,
                      "tf_alpha": alpha if config.tf_interval else 0.0, "grad_norm": norms[k],
                      "seconds": time.perf_counter() - started}  # fmt: skip
            for key, value in record.items():
                state.history.setdefault(key, []).append(float(value))
            if state.epoch >= config.epochs and not state.stop_reason:
                state.stop_reason = "max_epochs"
        if callback is not None:
            callback({"epoch": shared.epoch, "epochs": config.epochs,
                      "active": [not s.stop_reason for s in members], "val_loss": val.tolist(),
                      "seconds": time.perf_counter() - started})  # fmt: skip
    return members


def _train_epoch(model, optimizer, tensors, train_idx, config, shared, alpha, active):
    """One pass; returns per-member (mean objective, mean grad norm, still finite)."""
    dtype = next(model.parameters()).dtype
    params = [p for p in model.parameters()]
    device = params[0].device
    ok = torch.tensor(active, dtype=torch.bool, device=device)  # a copy: `active` stays
    totals, counts = np.zeros(model.n_members), 0
    norm_sum, n_batches = np.zeros(model.n_members), 0
    for positions in iterate_batches(len(train_idx), config.batch_size, shared.batch_rng):
        batch = tensors.take(train_idx[positions])
        weights = forcing_weights(
            batch.valid, config.tf_interval, alpha, shared.forcing_generator, dtype
        )
        terms = model.member_losses(batch, forcing=weights)
        per_member = terms["objective"] + terms["penalty"]
        ok &= torch.isfinite(per_member.detach())
        optimizer.zero_grad(set_to_none=True)
        torch.where(ok, per_member, 0.0).sum().backward()
        norms = clip_members(params, config.grad_clip)
        if norms.numel():
            ok &= torch.isfinite(norms)
        frozen = torch.nonzero(~ok).flatten()
        kept = [p.detach()[frozen].clone() for p in params] if frozen.numel() else None
        if kept is not None:  # frozen members get no gradient, and no update at all
            for p in params:
                if p.grad is not None:
                    p.grad[frozen] = 0.0
        optimizer.step()
        if kept is not None:
            with torch.no_grad():
                for p, value in zip(params, kept, strict=True):
                    p[frozen] = value
        totals += terms["objective"].detach().double().cpu().numpy() * batch.n_trials
        counts += batch.n_trials
        if norms.numel():
            norm_sum += norms.detach().double().cpu().numpy()
        n_batches += 1
    ok_np = ok.cpu().numpy()
    return totals / max(counts, 1), norm_sum / max(n_batches, 1), ok_np


def _update_member(state: TrainState, model, k: int, val_loss: float, config) -> None:
    """Early stopping of member ``k`` (as ``loop._update_early_stopping``)."""
    if val_loss < state.best_loss:
        state.best_loss, state.best_epoch, state.bad_epochs = val_loss, state.epoch, 0
        state.best_model = model.member_state(k)
        return
    state.bad_epochs += 1
    if config.patience and state.bad_epochs >= config.patience:
        state.stop_reason = "early_stopping"


def _freeze_diverged(model, good: dict, state: TrainState, k: int) -> None:
    """Put member ``k`` back to the start of this epoch and stop it (``diverged``)."""
    with torch.no_grad():
        for name, value in model.state_dict().items():
            value[k] = good[name][k]
    if not state.best_model:
        state.best_model = model.member_state(k)
        state.best_epoch = state.epoch
    state.stop_reason = "diverged"

"""The epoch loop, one for single fits and ensembles: masked BPTT over whole ragged trials.

A single fit is an ensemble of one member. Per epoch: set the scheduled learning rate and
forcing strength; for each seeded mini-batch of training trials run every member over the
whole trials (sparse teacher forcing if enabled), take each member's masked loss (+ choice
loss + MAR), back-propagate the sum (member k's parameters get exactly the gradient of its
own loss), clip each member's gradient norm and step the optimiser; then score the validation
trials free-running, update each member's early stopping, and hand the state to ``on_epoch``
(the run directory saves a checkpoint there) and ``callback`` (progress display).

Divergence (a non-finite loss or gradient) follows ``divergence``: ``"raise"`` puts back the
state of the last good epoch and raises :class:`TrainingDivergedError` (single fits);
``"freeze"`` stops only that member (``stop_reason="diverged"``, its best state kept) and the
others train on (grids). A member that stopped is frozen: its loss is left out of the sum and
its parameters are put back after every optimiser step (Adam's momentum would otherwise keep
moving them).

Why stacked members stay independent: the loss is a sum of per-member losses, clipping is
per member, and Adam / RAdam act elementwise with one shared step counter (members step
together), so one optimiser over the stacked parameters equals K optimisers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from alrnn_neuro.errors import AlrnnNeuroError, ConfigError
from alrnn_neuro.training.batching import TrialTensors, iterate_batches
from alrnn_neuro.training.checkpoint import TrainState, snapshot
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.forcing import alpha_at, forcing_weights
from alrnn_neuro.training.network import FitModel

EpochCallback = Callable[[dict[str, Any]], None]
DIVERGENCE_POLICIES = ("raise", "freeze")


class TrainingDivergedError(AlrnnNeuroError, RuntimeError):
    """The loss or gradient became NaN/inf; the model holds the last good epoch's state."""


def make_optimizer(model: torch.nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """Adam or RAdam over all parameters of ``model`` with ``config.lr``.

    Adam runs torch's fused kernel (one pass over all parameters, CPU and CUDA; the same
    update up to rounding), RAdam its multi-tensor (``foreach``) form: for these small models
    the per-tensor form spent more time dispatching a dozen small kernels per parameter than
    computing (0.2-0.6 ms of a 5-10 ms step, ``benchmarks/bench_training.py``).
    """
    if config.optimizer == "radam":
        return torch.optim.RAdam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True
        )
    return fused_adam(model.parameters(), config.lr, config.weight_decay)


def fused_adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """The fit's Adam: torch's fused kernel over ``params`` (see :func:`make_optimizer`)."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)


def learning_rate(epoch: int, config: FitConfig) -> float:
    """Scheduled learning rate of ``epoch`` (0-based), from ``lr`` down to ``lr * lr_final``.

    Examples
    --------
    >>> cfg = FitConfig(lr=1.0, lr_final=0.25, epochs=3)
    >>> [learning_rate(e, cfg) for e in range(3)]
    [1.0, 0.5, 0.25]
    >>> [round(learning_rate(e, cfg.replace(lr_schedule="cosine")), 3) for e in range(3)]
    [1.0, 0.625, 0.25]
    """
    progress = epoch / max(config.epochs - 1, 1)
    if config.lr_schedule == "exponential":
        return config.lr * config.lr_final**progress
    if config.lr_schedule == "cosine":
        low = config.lr * config.lr_final
        return low + (config.lr - low) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.lr


def evaluate_members(
    model: FitModel, tensors: TrialTensors, positions: np.ndarray, chunk: int = 256
) -> np.ndarray:
    """Free-running objective (observation + weighted choice) of every member.

    Parameters
    ----------
    model : FitModel
    tensors : TrialTensors
        All trials.
    positions : ndarray of int
        Trials to score (positions into ``tensors``).

    Returns
    -------
    ndarray, shape (member,)
        Trial-weighted mean objective; NaN without trials.
    """
    if not len(positions):
        return np.full(model.n_members, np.nan)
    total, weight = np.zeros(model.n_members), 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(positions), chunk):
            batch = tensors.take(positions[start : start + chunk])
            values = model.member_losses(batch)["objective"].double().cpu().numpy()
            total += values * batch.n_trials
            weight += batch.n_trials
    model.train()
    return total / weight


def train(
    model: FitModel,
    optimizer: torch.optim.Optimizer,
    tensors: TrialTensors,
    split: dict[str, np.ndarray],
    config: FitConfig,
    shared: TrainState,
    members: list[TrainState] | None = None,
    *,
    divergence: str = "raise",
    on_epoch: Callable[[TrainState], None] | None = None,
    callback: EpochCallback | None = None,
    trial_source: Callable[[int], TrialTensors] | None = None,
) -> list[TrainState]:
    """Train every member of ``model`` in place until ``config.epochs`` or each has stopped.

    Parameters
    ----------
    model : FitModel
        A single fit (one member) or a stack (:meth:`FitModel.stack`).
    optimizer : Optimizer
        Its optimiser (see :func:`make_optimizer`).
    tensors : TrialTensors
        All trials (already on the model's device).
    split : dict of str to ndarray
        Trial *positions* (into ``tensors``) of ``train`` and ``val``.
    config : FitConfig
        Shared configuration (schedule, batch size, clipping, patience, forcing).
    shared : TrainState
        Supplies the epoch count, batch order and forcing phases (``TrainState.start(seed)``,
        or restored from a checkpoint).
    members : list of TrainState, optional
        One per member: history, early stopping, best state (``best_model`` is that member's
        own ``state_dict``) and ``stop_reason``. Default ``[shared]`` (a single fit keeps one
        state).
    divergence : {"raise", "freeze"}
        What a non-finite loss or gradient does (see the module docstring).
    on_epoch : callable, optional
        Called with ``shared`` after each completed epoch (save a checkpoint here).
    callback : callable, optional
        Called after each epoch with a dict: ``epoch``, ``epochs``, ``seconds``, ``lr``,
        ``active`` (members still training) and per member ``train_loss``, ``val_loss``,
        ``best_epoch`` (lists; plain floats for a single member).
    trial_source : callable, optional
        ``trial_source(epoch) -> TrialTensors``: train epoch ``epoch`` (0-based) on all of
        these trials instead of ``split["train"]`` of ``tensors`` (fresh trials every epoch,
        :mod:`~alrnn_neuro.training.fresh_trials`); validation stays ``split["val"]``.

    Returns
    -------
    list of TrainState
        ``members``; each member's kept state (best validation epoch, or the last epoch
        with ``config.keep_epoch="last"``) is in ``best_model`` (and loaded into ``model``
        for a single fit).

    Raises
    ------
    TrainingDivergedError
        With ``divergence="raise"``, on a NaN/inf loss or gradient (the model and optimiser
        are put back to the last good epoch).
    """
    if divergence not in DIVERGENCE_POLICIES:
        raise ConfigError(f"divergence={divergence!r} is not one of {DIVERGENCE_POLICIES}")
    members = [shared] if members is None else members
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
        good = snapshot(model), snapshot(optimizer) if divergence == "raise" else None
        epoch_tensors, epoch_train = tensors, train_idx
        if trial_source is not None:
            epoch_tensors = trial_source(shared.epoch)
            epoch_train = np.arange(epoch_tensors.n_trials)
        losses, norms, ok = _train_epoch(
            model, optimizer, epoch_tensors, epoch_train, config, shared, alpha, active, divergence
        )
        val = evaluate_members(model, tensors, val_idx)
        ok &= np.isfinite(val)
        if divergence == "raise" and not ok[active].all():
            model.load_state_dict(good[0])
            optimizer.load_state_dict(good[1])
            bad = losses[~ok][0] if not np.isfinite(losses[~ok][0]) else val[~ok][0]
            raise TrainingDivergedError(_diverged(shared.epoch, float(bad), lr, config))
        shared.epoch += 1
        record = {"lr": lr, "tf_alpha": alpha if config.tf_interval else 0.0}
        record["seconds"] = time.perf_counter() - started
        for k in np.flatnonzero(active):
            state = members[k]
            if not ok[k]:
                _freeze_diverged(model, good[0], state, k)
                continue
            if state is not shared:
                state.epoch += 1
            _update_early_stopping(state, model, k, float(val[k]), config)
            values = {"train_loss": losses[k], "val_loss": val[k], "grad_norm": norms[k]}
            for key, value in {**values, **record}.items():
                state.history.setdefault(key, []).append(float(value))
            if state.epoch >= config.epochs and not state.stop_reason:
                state.stop_reason = "max_epochs"
        if on_epoch is not None:
            on_epoch(shared)
        if callback is not None:
            callback(_progress(shared, members, config, losses, val, record))
    if not model.ensemble_shape and members[0].best_model:
        model.load_state_dict(members[0].best_model)
    return members


def _progress(shared, members, config, losses, val, record) -> dict[str, Any]:
    """The callback's dict (floats for a single member, lists for a stack)."""
    info = {
        "epoch": shared.epoch,
        "epochs": config.epochs,
        "active": [not s.stop_reason for s in members],
        "train_loss": [float(x) for x in losses],
        "val_loss": [float(x) for x in val],
        "best_epoch": [s.best_epoch for s in members],
        **record,
    }
    if len(members) == 1:
        for key in ("train_loss", "val_loss", "best_epoch"):
            info[key] = info[key][0]
    return info


def _train_epoch(
    model: FitModel,
    optimizer: torch.optim.Optimizer,
    tensors: TrialTensors,
    train_idx: np.ndarray,
    config: FitConfig,
    shared: TrainState,
    alpha: float,
    active: np.ndarray,
    divergence: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the training trials (stops at a divergence with ``"raise"``).

    Returns
    -------
    losses, norms, ok : ndarray, shape (member,)
        Trial-weighted mean objective, mean gradient norm over batches, and whether the
        member stayed finite (False for members that were not active).
    """
    params = list(model.parameters())
    dtype = params[0].dtype
    ok = torch.tensor(active, dtype=torch.bool, device=params[0].device)  # a copy
    totals, count = np.zeros(model.n_members), 0
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
        norms = model.member_gradient_norms(config.grad_clip)
        ok &= torch.isfinite(norms)
        if divergence == "raise" and not bool(ok[torch.as_tensor(active)].all()):
            break
        _step_active(model, optimizer, params, ok)
        totals += terms["objective"].detach().double().cpu().numpy() * batch.n_trials
        count += batch.n_trials
        norm_sum += norms.detach().double().cpu().numpy()
        n_batches += 1
    losses = totals / max(count, 1)
    losses[~ok.cpu().numpy()] = np.nan
    return losses, norm_sum / max(n_batches, 1), ok.cpu().numpy()


def _step_active(model: FitModel, optimizer, params, ok: torch.Tensor) -> None:
    """Optimiser step that leaves stopped or diverged members exactly where they are."""
    if bool(ok.all()):
        optimizer.step()
        return
    if not model.ensemble_shape:  # the single member is not active: no step at all
        return
    frozen = torch.nonzero(~ok).flatten()
    kept = [p.detach()[frozen].clone() for p in params]
    for p in params:
        if p.grad is not None:
            p.grad[frozen] = 0.0
    optimizer.step()
    with torch.no_grad():
        for p, value in zip(params, kept, strict=True):
            p[frozen] = value


def _update_early_stopping(
    state: TrainState, model: FitModel, k: int, val_loss: float, config: FitConfig
) -> None:
    """Track the best validation loss (patience) and keep the best or the last state."""
    last = config.keep_epoch == "last"
    if last:
        state.best_epoch, state.best_model = state.epoch, model.member_state(k)
    if val_loss < state.best_loss:
        state.best_loss, state.bad_epochs = val_loss, 0
        if not last:
            state.best_epoch, state.best_model = state.epoch, model.member_state(k)
        return
    state.bad_epochs += 1
    if config.patience and state.bad_epochs >= config.patience:
        state.stop_reason = "early_stopping"


def _freeze_diverged(model: FitModel, good: dict, state: TrainState, k: int) -> None:
    """Put member ``k`` back to the start of this epoch and stop it (``diverged``)."""
    if model.ensemble_shape:
        model.load_member_state(k, {name: value[k] for name, value in good.items()})
    else:
        model.load_state_dict(good)
    if not state.best_model:
        state.best_model = model.member_state(k)
        state.best_epoch = state.epoch
    state.stop_reason = "diverged"


def _diverged(epoch: int, loss: float, lr: float, config: FitConfig) -> str:
    clip = config.grad_clip or 1.0
    lower = min(config.lr / 10, FitConfig.lr)  # --lr 1000 diverges: suggest 0.005, not 100
    if epoch == 0:  # nothing learned, nothing saved: a resume would have nothing to continue
        return (
            f"training diverged in epoch 1 (loss={loss}, lr={lr:.3g}) before any epoch was "
            f"saved. Fix: start again with a lower learning rate and stronger clipping, e.g. "
            f"--lr {lower:g} --grad-clip {clip / 2:g}"
        )
    return (
        f"training diverged in epoch {epoch + 1} (loss={loss}, lr={lr:.3g}); the model and the "
        f"checkpoint hold the last good epoch ({epoch}). Fix: continue with a lower learning "
        f"rate and stronger clipping, e.g. --resume --lr {lower:g} "
        f"--grad-clip {clip / 2:g}, or start again with --overwrite"
    )

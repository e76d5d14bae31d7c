"""The epoch loop: masked BPTT over whole ragged trials, read top to bottom.

Per epoch: set the scheduled learning rate and forcing strength; for each seeded mini-batch of
training trials run the model over the whole trials (sparse teacher forcing if enabled),
take the masked loss (+ choice loss + MAR), back-propagate through time, clip the gradient
norm and step the optimiser; then score the validation trials free-running, update early
stopping, and hand the state to ``on_epoch`` (the run directory saves a checkpoint there) and
``callback`` (progress display). A non-finite loss or gradient stops training with
:class:`TrainingDivergedError`, after putting back the state of the last good epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.batching import TrialTensors, iterate_batches
from alrnn_neuro.training.checkpoint import TrainState, snapshot
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.forcing import alpha_at, forcing_weights

EpochCallback = Callable[[dict[str, Any]], None]


class TrainingDivergedError(ConfigError):
    """The loss or gradient became NaN/inf; the model holds the last good epoch's state."""


def make_optimizer(model: torch.nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """Adam or RAdam over all parameters of ``model`` with ``config.lr``."""
    kind = torch.optim.RAdam if config.optimizer == "radam" else torch.optim.Adam
    return kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


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


def evaluate_loss(
    model: torch.nn.Module, tensors: TrialTensors, positions: np.ndarray, chunk: int = 256
) -> float:
    """Free-running loss (observation + weighted choice) on the trials at ``positions``."""
    total, weight = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(positions), chunk):
            batch = tensors.take(positions[start : start + chunk])
            n = batch.n_trials
            total += float(model.loss(batch)["objective"]) * n
            weight += n
    model.train()
    return total / max(weight, 1)


def train(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: TrialTensors,
    split: dict[str, np.ndarray],
    config: FitConfig,
    state: TrainState,
    *,
    on_epoch: Callable[[TrainState], None] | None = None,
    callback: EpochCallback | None = None,
) -> TrainState:
    """Train ``model`` in place from ``state`` until ``config.epochs`` or early stopping.

    Parameters
    ----------
    model : Module
        A :class:`~alrnn_neuro.training.network.FitModel` (anything with ``loss(batch,
        forcing=...)`` returning a dict with ``objective`` and ``penalty``).
    optimizer : Optimizer
        Its optimiser (see :func:`make_optimizer`).
    tensors : TrialTensors
        All trials (already on the model's device).
    split : dict of str to ndarray
        Trial *positions* (into ``tensors``) of ``train`` and ``val``.
    config : FitConfig
        Resolved configuration.
    state : TrainState
        Fresh (:meth:`TrainState.start`) or restored from a checkpoint.
    on_epoch : callable, optional
        Called with ``state`` after each completed epoch (save a checkpoint here).
    callback : callable, optional
        Called with a dict (``epoch``, ``epochs``, ``train_loss``, ``val_loss``, ``lr``,
        ``best_epoch``, ``seconds``) after each epoch, for progress displays.

    Returns
    -------
    TrainState
        Final state; ``model`` holds the best-validation parameters and
        ``state.stop_reason`` says why training ended.

    Raises
    ------
    TrainingDivergedError
        On a NaN/inf loss or gradient (the model is put back to the last good epoch).
    """
    train_idx, val_idx = split["train"], split["val"]
    while state.epoch < config.epochs and not state.stop_reason:
        started = time.perf_counter()
        lr = learning_rate(state.epoch, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        alpha = alpha_at(
            state.epoch, alpha=config.tf_alpha, anneal=config.tf_anneal, epochs=config.epochs
        )
        good = snapshot(model), snapshot(optimizer)
        try:
            train_loss, grad_norm = _train_epoch(model, optimizer, tensors, train_idx, config,
                                                 state, alpha)  # fmt: skip
            val_loss = evaluate_loss(model, tensors, val_idx)
            if not math.isfinite(val_loss):
                raise _Diverged(val_loss)
        except _Diverged as error:
            model.load_state_dict(good[0])
            optimizer.load_state_dict(good[1])
            raise TrainingDivergedError(_diverged(state.epoch, error.loss, lr, config)) from None
        state.epoch += 1
        _update_early_stopping(state, model, val_loss, config)
        record = {
            "train_loss": train_loss,
            "val_loss": val_loss,
            "lr": lr,
            "tf_alpha": alpha if config.tf_interval else 0.0,
            "grad_norm": grad_norm,
            "seconds": time.perf_counter() - started,
        }
        for key, value in record.items():
            state.history.setdefault(key, []).append(float(value))
        if state.epoch >= config.epochs and not state.stop_reason:
            state.stop_reason = "max_epochs"
        if on_epoch is not None:
            on_epoch(state)
        if callback is not None:
            info = {"epoch": state.epoch, "epochs": config.epochs, "best_epoch": state.best_epoch}
            callback({**info, **record})
    if state.best_model:
        model.load_state_dict(state.best_model)
    return state


class _Diverged(Exception):
    def __init__(self, loss: float) -> None:
        super().__init__(loss)
        self.loss = loss


def _train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: TrialTensors,
    train_idx: np.ndarray,
    config: FitConfig,
    state: TrainState,
    alpha: float,
) -> tuple[float, float]:
    """One pass over the training trials; returns (mean objective, mean gradient norm)."""
    dtype = next(model.parameters()).dtype
    total, count, norms = 0.0, 0, []
    for positions in iterate_batches(len(train_idx), config.batch_size, state.batch_rng):
        batch = tensors.take(train_idx[positions])
        weights = forcing_weights(
            batch.valid, config.tf_interval, alpha, state.forcing_generator, dtype
        )
        terms = model.loss(batch, forcing=weights)
        loss = terms["objective"] + terms["penalty"]
        if not torch.isfinite(loss):
            raise _Diverged(float(loss.detach()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = _clip(model, config.grad_clip)
        if not math.isfinite(norm):
            raise _Diverged(float(loss.detach()))
        optimizer.step()
        total += float(terms["objective"].detach()) * batch.n_trials
        count += batch.n_trials
        norms.append(norm)
    return total / max(count, 1), float(np.mean(norms)) if norms else 0.0


def _clip(model: torch.nn.Module, max_norm: float) -> float:
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return 0.0
    if max_norm > 0:
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))


def _update_early_stopping(
    state: TrainState, model: torch.nn.Module, val_loss: float, config: FitConfig
) -> None:
    if val_loss < state.best_loss:
        state.best_loss, state.best_epoch, state.bad_epochs = val_loss, state.epoch, 0
        state.best_model = snapshot(model)
        return
    state.bad_epochs += 1
    if config.patience and state.bad_epochs >= config.patience:
        state.stop_reason = "early_stopping"


def _diverged(epoch: int, loss: float, lr: float, config: FitConfig) -> str:
    clip = config.grad_clip or 1.0
    if epoch == 0:  # nothing learned, nothing saved: a resume would have nothing to continue
        return (
            f"training diverged in epoch 1 (loss={loss}, lr={lr:.3g}) before any epoch was "
            f"saved. Fix: start again with a lower learning rate and stronger clipping, e.g. "
            f"--lr {config.lr / 10:g} --grad-clip {clip / 2:g}"
        )
    return (
        f"training diverged in epoch {epoch + 1} (loss={loss}, lr={lr:.3g}); the model and the "
        f"checkpoint hold the last good epoch ({epoch}). Fix: continue with a lower learning "
        f"rate and stronger clipping, e.g. --resume --lr {config.lr / 10:g} "
        f"--grad-clip {clip / 2:g}, or start again with --overwrite"
    )

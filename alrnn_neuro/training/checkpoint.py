"""Save and restore the full training state, atomically, once per epoch.

A checkpoint holds everything needed to continue a fit bit-for-bit on CPU: model, optimiser
and schedule state, the random generators (batch order and teacher-forcing phase), the number
of completed epochs, the per-epoch history and the best state so far (early stopping). It is
written under a temporary name and renamed, so an interrupted write (Ctrl-C, SIGKILL) leaves
the previous checkpoint intact. Files load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training.rundir import load_torch_file

CHECKPOINT_VERSION = 1


@dataclass
class TrainState:
    """Mutable state of a fit between epochs.

    Attributes
    ----------
    epoch : int
        Number of completed epochs.
    history : dict of str to list of float
        Per-epoch curves (``train_loss``, ``val_loss``, ``lr``, ...).
    best_epoch : int
        Epoch (1-based count) with the lowest validation loss; 0 before the first epoch.
    best_loss : float
        That validation loss.
    best_model : dict
        Model ``state_dict`` at ``best_epoch``.
    bad_epochs : int
        Epochs since the last improvement (early-stopping counter).
    batch_rng : numpy.random.Generator
        Batch-order generator.
    forcing_generator : torch.Generator
        Teacher-forcing phase generator.
    stop_reason : str
        Why training ended (``""`` while it runs).
    """

    batch_rng: np.random.Generator
    forcing_generator: torch.Generator
    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    best_loss: float = float("inf")
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)
    bad_epochs: int = 0
    stop_reason: str = ""

    @classmethod
    def start(cls, seed: int) -> TrainState:
        """Fresh state whose generators derive from ``seed`` (independent streams)."""
        batch_seed, forcing_seed = np.random.SeedSequence([seed, 1]).generate_state(2)
        generator = torch.Generator().manual_seed(int(forcing_seed))
        return cls(batch_rng=np.random.default_rng(int(batch_seed)), forcing_generator=generator)


def save_checkpoint(
    path: str | os.PathLike,
    state: TrainState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``state`` + model + optimiser to ``path`` atomically.

    Parameters
    ----------
    path : str or PathLike
        Destination (``checkpoint.pt`` in a run directory).
    state : TrainState
        Training state after a completed epoch.
    model : Module
        The model being trained.
    optimizer : Optimizer
        Its optimiser.
    extra : dict, optional
        Plain data stored alongside (e.g. the resolved config).
    """
    payload = {
        "version": CHECKPOINT_VERSION,
        "epoch": state.epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": {"epoch": state.epoch},
        "rng": {
            "batch": state.batch_rng.bit_generator.state,
            "forcing": state.forcing_generator.get_state(),
        },
        "history": state.history,
        "best": {
            "epoch": state.best_epoch,
            "loss": state.best_loss,
            "model": state.best_model,
            "bad_epochs": state.bad_epochs,
        },
        "stop_reason": state.stop_reason,
        "extra": extra or {},
    }
    final = Path(path)
    with atomic_path(final) as tmp:
        torch.save(payload, tmp)
    return final


def load_checkpoint(
    path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[TrainState, dict[str, Any]]:
    """Restore model and optimiser in place from ``path``; return the state and ``extra``.

    Raises
    ------
    RunDirError
        If the file is missing or unreadable.
    """
    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"{file}: no checkpoint to resume from; fix: start a fresh run")

    try:
        payload = load_torch_file(file)
    except RunDirError as error:
        raise RunDirError(
            f"unreadable checkpoint: {error}; or delete it, or rerun with --overwrite"
        ) from error
    if not isinstance(payload, dict) or "model" not in payload:
        raise RunDirError(f"{file} is not a checkpoint of alrnn-neuro; fix: rerun with --overwrite")
    device = next(iter(model.parameters())).device
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    batch_rng = np.random.default_rng()
    batch_rng.bit_generator.state = payload["rng"]["batch"]
    generator = torch.Generator()
    generator.set_state(payload["rng"]["forcing"])
    best = payload["best"]
    state = TrainState(
        batch_rng=batch_rng,
        forcing_generator=generator,
        epoch=int(payload["epoch"]),
        history={k: list(v) for k, v in payload["history"].items()},
        best_epoch=int(best["epoch"]),
        best_loss=float(best["loss"]),
        best_model={k: v.to(device) for k, v in best["model"].items()},
        bad_epochs=int(best["bad_epochs"]),
        stop_reason=str(payload.get("stop_reason", "")),
    )
    return state, payload["extra"]


def snapshot(module: torch.nn.Module | torch.optim.Optimizer) -> dict[str, Any]:
    """Deep copy of a module's or optimiser's ``state_dict`` (detached from training).

    Tensors are cloned and containers rebuilt; only other values go through
    ``copy.deepcopy``, whose per-tensor cost (tens of µs) made a snapshot before every epoch
    a few percent of a sweep's small fits.

    Examples
    --------
    >>> net = torch.nn.Linear(2, 1)
    >>> copy_ = snapshot(net)
    >>> _ = torch.nn.init.zeros_(net.weight)
    >>> bool(copy_["weight"].abs().sum() > 0)
    True
    """
    return _detached_copy(module.state_dict())


def _detached_copy(value: Any) -> Any:
    """``copy.deepcopy`` of nested dicts, lists and tuples, with tensors cloned."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _detached_copy(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_detached_copy(v) for v in value)
    return copy.deepcopy(value)

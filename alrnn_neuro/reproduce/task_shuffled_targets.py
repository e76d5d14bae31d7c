"""The shuffled-targets controls of the primitives claim: training on targets that the inputs
do not predict must not produce the claim.

The primitives claim compares each trained network with its own initialisation. Training
changes a network whether or not it learns the task, so an excess of primitives could come from
training as such (fitting the targets' statistics, memorising trials) rather than from the
task's computation. Here the task is drawn anew (a control data seed), its targets are permuted
across trials, and every P > 0 network of the reproduction is trained again on the non-held-out
trials of that draw: same config, same initialisation seed, same trial ids, only the pairing
of inputs and targets broken. The claim is then judged exactly as on the reproduction (each
network against its own initialisation, on the held-out trials) and must fail.

Two variants, both controls the claim must fail:

* ``shuffled_targets``: the whole pipeline as the reproduction ran it, early stopping and the
  best validation epoch included (the classic permutation control). On unlearnable targets
  the validation loss stops improving early, so these networks are kept after few epochs;
* ``shuffled_targets_full_budget``: early stopping off and the last epoch kept, so every
  network gets at least the updates its fitted counterpart got: whatever fitting noise for
  that long does to a network's primitives counts against the claim.

Targets are permuted together with their loss mask, within groups of trials with the same
valid steps (trials of one length), so every trial keeps a loss mask that lies within its own
steps and the task's target statistics per step stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import torch_threads
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.ensemble import fit_ensemble

#: variables moved together from trial to trial by :func:`shuffle_targets`
TARGET_VARIABLES = ("targets", "loss_mask")
#: smallest share of trials whose targets must move for the control to test anything
MIN_MOVED = 0.5


def shuffle_targets(ds: xr.Dataset, seed: int) -> xr.Dataset:
    """``ds`` with ``targets`` and ``loss_mask`` permuted across trials of equal valid steps.

    Parameters
    ----------
    ds : xr.Dataset
        A task dataset: ``targets`` (trial, time, output), ``loss_mask`` and ``valid``
        (trial, time).
    seed : int
        Seed of the permutations.

    Returns
    -------
    xr.Dataset
        A copy; ``attrs["shuffled_targets_moved"]`` is the share of trials whose targets came
        from another trial (trials alone in their group keep theirs).

    Raises
    ------
    DataValidationError
        If a variable is missing.

    Examples
    --------
    >>> from alrnn_neuro.simulate.tasks import make_task
    >>> ds = make_task("addition", n_trials=50, seed=0, length=10)
    >>> out = shuffle_targets(ds, seed=1)
    >>> bool((out["targets"] != ds["targets"]).any()), out["inputs"].equals(ds["inputs"])
    (True, True)
    """
    missing = [v for v in (*TARGET_VARIABLES, "valid") if v not in ds]
    if missing:
        raise DataValidationError(
            f"shuffle_targets: the dataset has no {missing}; fix: pass a task dataset "
            "(alrnn-neuro simulate task)"
        )
    valid = ds["valid"].values.astype(bool)
    patterns, group = np.unique(valid, axis=0, return_inverse=True)
    group = group.ravel()
    rng = np.random.default_rng(seed)
    order = np.arange(valid.shape[0])
    for g in range(len(patterns)):
        members = np.flatnonzero(group == g)
        order[members] = rng.permutation(members)
    out = ds.copy()
    for name in TARGET_VARIABLES:
        out[name] = ds[name].copy(data=ds[name].values[order])
    out.attrs["shuffled_targets_moved"] = float(np.mean(order != np.arange(order.size)))
    return out


def shuffled_networks(
    sweep_dir: Path,
    draw: xr.Dataset,
    networks: Sequence[tuple[int, int, Any]],
    seed: int,
    *,
    full_budget: bool = False,
) -> list[tuple[int, int, Any]]:
    """The networks retrained on ``draw`` with shuffled targets, in the order of ``networks``.

    Parameters
    ----------
    sweep_dir : Path
        The task's sweep (``sweep.json``: held-out trial ids, base config).
    draw : xr.Dataset
        The task drawn anew, with the sweep's trial ids.
    networks : sequence of (P, seed, FitResult)
        The reproduction's P > 0 networks (:func:`~alrnn_neuro.reproduce.task_primitives.
        fitted_networks`); each is retrained with its own config and initialisation seed.
    seed : int
        Seed of the target permutation (the control's data seed).
    full_budget : bool
        Train every epoch of the config (``patience=0``) and keep the last one
        (``keep_epoch="last"``), instead of the config's early stopping and epoch choice.

    Returns
    -------
    list of (P, seed, FitResult)
        Trained on the draw's non-held-out trials with targets shuffled, as one ensemble
        (data seed: the sweep's base config's), one torch thread.

    Raises
    ------
    DataValidationError
        If fewer than :data:`MIN_MOVED` of those trials could receive another trial's targets
        (most have a length no other trial has): the control would test nothing.
    """
    if not networks:
        return []
    record = rd.read_json(Path(sweep_dir) / "sweep.json")
    test = np.asarray(record["test_trials"])
    pool = np.setdiff1d(draw["trial"].values, test)
    shuffled = shuffle_targets(draw.sel(trial=pool), seed)
    moved = shuffled.attrs["shuffled_targets_moved"]
    if moved < MIN_MOVED:
        raise DataValidationError(
            f"shuffled targets: only {moved:.0%} of the trials received another trial's "
            f"targets (< {MIN_MOVED:.0%}; most trials have a length no other trial has); fix: "
            "draw the task with shared trial lengths"
        )
    data_seed = FitConfig.from_dict(record["base_config"]).seed
    config = networks[0][2].config.replace(pwl_units=0, seed=data_seed)
    if full_budget:
        config = config.replace(patience=0, keep_epoch="last")
    ps, seeds = [int(p) for p, _, _ in networks], [int(s) for _, s, _ in networks]
    with torch_threads(1):
        fits = fit_ensemble(shuffled, config, pwl_units=ps, seeds=seeds)
    return list(zip(ps, seeds, fits, strict=True))

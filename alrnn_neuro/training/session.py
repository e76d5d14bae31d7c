"""Everything a fit derives from (dataset, config) before training: one checked bundle."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from alrnn_neuro import __version__
from alrnn_neuro.data.split import split_trials
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.training.batching import TrialTensors, channel_dim, dataset_tensors
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.fingerprint import dataset_fingerprint, label_fingerprints
from alrnn_neuro.training.fresh_trials import fresh_trial_source
from alrnn_neuro.training.resolve import resolve_config

logger = logging.getLogger(__name__)


@dataclass
class Session:
    """The checked inputs of one fit.

    Attributes
    ----------
    ds : xr.Dataset
        The dataset (all trials).
    config : FitConfig
        Resolved configuration.
    tensors : TrialTensors
        All trials as left-justified tensors (inputs restricted to ``config.inputs``), on
        ``config.device``.
    classes : list of str
        Choice-head classes (empty without a behaviour head).
    split : dict of str to ndarray
        Trial ids per split.
    positions : dict of str to ndarray
        The same trials as positions along the ``trial`` dim.
    unit_mean : Tensor, shape (unit,)
        Mean observation per unit (task: per output, on ``loss_mask`` steps) on the training
        trials.
    record : dict
        Content of ``config.json``.
    fresh : callable or None
        ``fresh(epoch) -> TrialTensors``: the epoch's freshly drawn training trials
        (``config.fresh_trials > 0``, see :mod:`~alrnn_neuro.training.fresh_trials`); None
        = train on the dataset's training trials.
    unit_std : Tensor, shape (unit,) or None
        Standard deviation per unit on the training trials (the standard units of a Gaussian
        readout; NaN for a unit no training trial observed; None for other observation
        models).
    """

    ds: xr.Dataset
    config: FitConfig
    tensors: TrialTensors
    classes: list[str]
    split: dict[str, np.ndarray]
    positions: dict[str, np.ndarray]
    unit_mean: torch.Tensor
    record: dict[str, Any]
    fresh: Callable[[int], TrialTensors] | None = None
    unit_std: torch.Tensor | None = None

    @property
    def n_units(self) -> int:
        """Number of observed units (task outputs for task datasets)."""
        return int(self.ds.sizes[channel_dim(self.ds)])


def prepare_session(
    ds: xr.Dataset,
    config: FitConfig,
    *,
    split: dict[str, np.ndarray] | None = None,
    dataset_path: str | os.PathLike | None = None,
) -> Session:
    """Resolve ``config`` for ``ds``, build tensors, split the trials and the run record.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset.
    config : FitConfig
        Requested configuration.
    split : dict of str to ndarray, optional
        Trial ids per split (a resumed run's ``split.json``); default: ``split_trials`` with
        ``config.split``, stratified by ``config.conditions``, seeded by ``config.split_seed``.
    dataset_path : str or PathLike, optional
        Recorded in the run record (as an absolute path).

    Raises
    ------
    ConfigError
        If the split leaves no training or validation trials, or ``config.fresh_trials`` is
        set but ``ds`` does not record how to draw more trials.
    """
    cfg = resolve_config(config, ds)
    tensors, classes = _tensors(ds, cfg)
    if split is None:
        names = ("train", "val", "test")[: len(cfg.split)]
        fractions = dict(zip(names, cfg.split, strict=True))
        strata = list(cfg.conditions) or None
        split = split_trials(ds, fractions, stratify=strata, seed=cfg.split_seed)
    positions = _positions(ds, split)
    test = positions.get("test")
    if len(cfg.split) == 3 and (test is None or test.size == 0):
        logger.warning(
            "split=%s leaves no test trials out of %d (stratified by %s, each stratum too "
            "small): the test metrics will be NaN; fix: more trials, fewer --conditions, or a "
            "larger test share",
            list(cfg.split),
            ds.sizes["trial"],
            list(cfg.conditions) or "nothing",
        )
    for name in ("train", "val"):
        if positions.get(name) is None or positions[name].size == 0:
            raise ConfigError(
                f"split={list(cfg.split)} leaves no '{name}' trials out of "
                f"{ds.sizes['trial']}; fix: more trials or larger fractions"
            )
    train = tensors.take(positions["train"], trim=False)
    mask = (train.loss_mask[:, :, None] & train.observed[:, None, :]).to(train.data.dtype)
    count = mask.sum(dim=(0, 1)).clamp(min=1)
    unit_mean = (train.data * mask).sum(dim=(0, 1)) / count
    unit_std = None
    if cfg.obs == "gaussian":  # masked entries may hold anything: weighted, not multiplied
        deviation = torch.where(mask > 0, train.data - unit_mean, 0.0)
        unit_std = (deviation.square().sum(dim=(0, 1)) / count).sqrt()
        unit_std[mask.sum(dim=(0, 1)) == 0] = float("nan")  # never observed in training

    dim = channel_dim(ds)
    record = {
        "config": cfg.to_dict(),
        "data": {
            "path": "" if dataset_path is None else str(Path(dataset_path).resolve()),
            "fingerprint": dataset_fingerprint(ds),
            "label_fingerprints": label_fingerprints(ds),
            "n_trials": int(ds.sizes["trial"]),
            "n_units": int(ds.sizes[dim]),
            "unit_ids": [str(u) for u in ds[dim].values],
            "channel_dim": dim,
            "input_names": list(cfg.inputs),
            "classes": classes,
        },
        "alrnn_neuro_version": __version__,
    }
    tensors = tensors.to(cfg.device)
    fresh = fresh_trial_source(ds, cfg, lambda d: _tensors(d, cfg, classes)[0].to(cfg.device))
    return Session(ds, cfg, tensors, classes, split, positions, unit_mean, record, fresh, unit_std)


def _tensors(
    ds: xr.Dataset, cfg: FitConfig, classes: list[str] | None = None
) -> tuple[TrialTensors, list[str]]:
    """The trials of ``ds`` as the fit's tensors (its inputs, labels and z0 bins), on CPU."""
    label = cfg.behaviour_label if cfg.behaviour else None
    fit_ds = ds.sel(input=list(cfg.inputs)) if cfg.inputs else ds.isel(input=[])
    init = {"init_bins": cfg.init_bins, "init_epochs": cfg.init_epochs}
    if cfg.init_state != "data":
        init = {"init_bins": 0, "init_epochs": ()}
    return dataset_tensors(
        fit_ds, label=label, classes=classes, readout_epoch=cfg.behaviour_epoch, **init
    )


def _positions(ds: xr.Dataset, split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Trial ids -> positions along ``trial``; ids the dataset lacks are a RunDirError."""
    lookup = {int(t): i for i, t in enumerate(ds["trial"].values)}
    out = {}
    for name, ids in split.items():
        missing = [int(t) for t in ids if int(t) not in lookup]
        if missing:
            raise RunDirError(
                f"split '{name}' names trial ids {missing[:5]} that the dataset lacks; fix: "
                "resume with the dataset the run was made from, or --overwrite"
            )
        out[name] = np.array([lookup[int(t)] for t in ids], dtype=np.int64)
    return out

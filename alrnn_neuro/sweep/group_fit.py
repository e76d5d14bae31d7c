"""The config a sweep's cell group is fitted with, and a check, before any fit, that the
group's trials can be split into training and validation trials.

A group (cells of one model, M, train fraction and fold; see
:func:`~alrnn_neuro.sweep.grid.group_cells`) is fitted to the trials ``keep`` of the
sweep's training pool, the held-out trials being the sweep's. Its config is the base config
with the group's model and M, and the base's train/validation shares renormalised to sum to
1. A train fraction so small that those shares leave no validation trial used to be found
by the fit of that group, after the groups before it had been fitted.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.data.split import split_trials
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.resolve import resolve_config


def group_config(base: FitConfig, model: str, latent_dim: int) -> FitConfig:
    """``base`` for one group: its ``model`` and ``latent_dim``, P set per member later
    (``pwl_units = 0`` here), and the split's train/validation shares renormalised.

    Examples
    --------
    >>> group_config(FitConfig(split=(0.5, 0.25, 0.25)), "gru", 4).split
    (0.6666666666666666, 0.3333333333333333)
    """
    train, val = base.split[0], base.split[1]
    return base.replace(
        model=model,
        latent_dim=latent_dim,
        pwl_units=0,
        split=(train / (train + val), val / (train + val)),
    )


def check_group_split(
    ds: xr.Dataset, keep: np.ndarray, config: FitConfig, train_fraction: float
) -> None:
    """Refuse a group whose trials ``keep`` (ids) leave no training or validation trial
    under ``config`` (as the fit would split them: same shares, strata and seed).

    Raises
    ------
    ConfigError
        Naming the train fraction, the trials it keeps, and the fix.
    """
    sub = ds.sel(trial=np.asarray(keep))
    cfg = resolve_config(config, sub)
    fractions = dict(zip(("train", "val"), cfg.split, strict=True))
    split = split_trials(sub, fractions, stratify=list(cfg.conditions) or None, seed=cfg.split_seed)
    empty = [name for name in ("train", "val") if split[name].size == 0]
    if empty:
        raise ConfigError(
            f"--train-fraction {train_fraction:g} keeps {sub.sizes['trial']} trials of the "
            f"training pool, which the split {[round(f, 3) for f in cfg.split]} leaves without "
            f"{' or '.join(repr(n) for n in empty)} trials; fix: a larger --train-fraction "
            "(or more trials), nothing was fitted"
        )

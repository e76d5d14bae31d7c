"""Which trials and bins a model-vs-data RSA may compare.

Two rules keep the comparison from rewarding what the model saw of the compared data:

- **Held-out trials.** A run's ``latents.nc`` carries a ``split`` trial coord (``train``,
  ``val``, ``test``). :func:`select_trials` keeps the trials the model was not fitted on
  (``trials="heldout"``: val + test, the default of :func:`~.pipeline.run_rsa`), only the test
  trials, or all of them (``"all"``, with a warning that training trials are included).
- **Initial-state bins.** With ``init_state="data"`` the model's initial state z0 is inferred
  from the first ``init_bins`` valid bins of each trial, so its latents there are a readout of
  those very spikes. :func:`after_init_bins` removes those bins from the valid mask; the RSA
  applies it to the model *and* the recordings, so both sides compare the same later steps.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError

log = logging.getLogger(__name__)

#: ``trials=`` choices -> split names kept (None: every trial)
TRIALS = {"heldout": ("val", "test"), "test": ("test",), "all": None}
TRAINING_SPLIT = "train"


def select_trials(latents_ds: xr.Dataset, trials: str = "heldout") -> tuple[np.ndarray, dict]:
    """Trial ids of ``latents_ds`` to compare, chosen by the ``split`` trial coord.

    Parameters
    ----------
    latents_ds : xr.Dataset
        A run's ``latents.nc`` (dims ``trial``, ...) with a ``split`` trial coord.
    trials : {"heldout", "test", "all"}
        Held-out trials (val and test: the default), test trials only, or all trials. With
        ``"all"`` training trials enter and a warning says so.

    Returns
    -------
    ids : ndarray, shape (trial,)
        The chosen trial ids, in the order of ``latents_ds``.
    record : dict
        ``trials`` (the choice), ``n_trials`` (chosen), ``n_train_included`` (training trials
        among them) and ``splits`` (split name -> count among the chosen trials).

    Raises
    ------
    ConfigError
        Unknown ``trials``; no ``split`` coord while held-out trials are asked for; no trial
        in the chosen splits.
    """
    if trials not in TRIALS:
        raise ConfigError(f"trials = {trials!r}; choose from {list(TRIALS)}")
    ids = np.asarray(latents_ds["trial"].values)
    has_split = "split" in latents_ds.coords and latents_ds["split"].dims == ("trial",)
    split = np.asarray(latents_ds["split"].values).astype(str) if has_split else None
    wanted = TRIALS[trials]
    if wanted is not None and split is None:
        raise ConfigError(
            f"trials = {trials!r} needs a 'split' trial coord (train/val/test) in the latents, "
            "as a run's latents.nc has; fix: pass the run's latents.nc, or trials='all' "
            "(CLI: --trials all) when the latents were not fitted to these trials"
        )
    keep = np.ones(ids.size, bool) if wanted is None else np.isin(split, wanted)
    if not keep.any():
        present = sorted(set(split.tolist())) if split is not None else []
        raise ConfigError(
            f"trials = {trials!r} keeps no trial (splits present: {present}); fix: "
            "trials='all' (CLI: --trials all), or refit with val/test fractions > 0"
        )
    chosen = split[keep] if split is not None else np.array([], dtype=str)
    n_train = int(np.sum(chosen == TRAINING_SPLIT))
    if trials == "all" and (split is None or n_train):
        log.warning(
            "RSA includes %s training trials of the model: the model was fitted to these "
            "spikes, so model-data similarity is inflated; compare held-out trials "
            "(trials='heldout', CLI: --trials heldout) for evidence",
            n_train if split is not None else "possibly",
        )
    names, counts = np.unique(chosen, return_counts=True)
    record = {
        "trials": trials,
        "n_trials": int(keep.sum()),
        "n_train_included": n_train if split is not None else None,
        "splits": {str(k): int(v) for k, v in zip(names, counts, strict=True)},
    }
    return ids[keep], record


def after_init_bins(valid: xr.DataArray, init_bins: int) -> xr.DataArray:
    """``valid`` without the first ``init_bins`` valid bins of each trial.

    Those are the bins from which a model with ``init_state="data"`` inferred its initial
    state (the same count from each trial's first valid bin as in training).

    Parameters
    ----------
    valid : xr.DataArray of bool, dims (trial, time)
    init_bins : int
        Bins to drop at the start of each trial (0: ``valid`` unchanged).

    Returns
    -------
    xr.DataArray of bool, dims (trial, time)

    Examples
    --------
    >>> v = xr.DataArray([[False, True, True, True]], dims=("trial", "time"))
    >>> after_init_bins(v, 2).values.tolist()
    [[False, False, False, True]]
    """
    if int(init_bins) < 0:
        raise ConfigError(f"init_bins = {init_bins}; choose 0 or more bins")
    if int(init_bins) == 0:
        return valid
    ok = valid.transpose("trial", "time").values.astype(bool)
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), ok.shape[1])
    steps = np.arange(ok.shape[1])[None, :] - first[:, None]
    return valid.transpose("trial", "time").copy(data=ok & (steps >= int(init_bins)))


def init_bins_of(config: Any) -> int:
    """Bins at each trial's start that inferred the model's initial state (0 if none).

    Parameters
    ----------
    config : FitConfig, mapping or None
        A fit's configuration (``FitResult.config``), or the ``config`` mapping of a run's
        ``config.json``; ``init_state="data"`` gives its ``init_bins``, anything else 0.

    Returns
    -------
    int
    """
    if config is None:
        raise ConfigError(
            "the fit's configuration is unknown, so the bins that inferred the model's initial "
            "state cannot be excluded; fix: pass init_bins= (CLI: --init-bins N; the fit's "
            "init_bins with init_state='data', else 0)"
        )
    get = config.get if isinstance(config, Mapping) else lambda k, d=None: getattr(config, k, d)
    if get("init_state", None) != "data":
        return 0
    return int(get("init_bins", 0))

"""``FitResult``: everything a fit produced, in memory or loaded from a run directory.

Built by :func:`~alrnn_neuro.training.api.fit` and
:func:`~alrnn_neuro.training.api.load_run`; its methods encode and score new trials with
the fitted model exactly as in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import encode_trials, score_trials
from alrnn_neuro.training.network import FitModel


class LoadedOnUse:
    """A dataclass field that may be given a loader instead of its value.

    Assigned a callable (e.g. ``functools.partial(read_netcdf, path)``), the field calls it on
    first access and keeps what it returns, so a run directory's outputs are read only by the
    callers that use them (rescoring a sweep's networks on new trials needs the models, not
    their saved latents: 0.10 of the 0.13 s :func:`~alrnn_neuro.training.api.load_run` took
    per run went to reading ``latents.nc`` and ``history.nc``). Any other value is kept as it
    is. No default: the field must be given.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:  # class access: tells the dataclass the field has no default
            raise AttributeError(self.slot)
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class FitResult:
    """Everything a fit produced.

    Attributes
    ----------
    model : FitModel
        Trained model (best validation epoch, or the last with ``keep_epoch="last"``), in
        eval mode, on the CPU.
    config : FitConfig
        Resolved configuration.
    history : xr.Dataset
        Per-epoch curves (dim ``epoch``): ``train_loss``, ``val_loss``, ``lr``, ...
        (a loaded run reads ``history.nc`` on first access).
    latents : xr.Dataset
        ``latents`` (trial, time, latent), ``bitcode`` (trial, time; AL-RNN only),
        ``prediction`` (trial, time, unit) on all trials, with the dataset's trial coords
        (task datasets: ``prediction`` (trial, time, output)); a loaded run reads
        ``latents.nc`` on first access.
    metrics : dict
        Per split (``train``, ``val``, ``test``) metrics, plus ``best_epoch``,
        ``epochs_run``, ``stop_reason`` and (for a saved run) ``run_id``.
    split : dict of str to ndarray
        Trial ids per split.
    run_dir : Path or None
        Where the run was saved (None for an in-memory fit).
    dataset : xr.Dataset or None
        The fitted dataset (kept by an in-memory fit; None when loaded from disk, where
        ``config.json`` records its path): the PSTH baseline of :meth:`score` and the
        inputs of ``analyze_run`` come from it.
    """

    model: FitModel
    config: FitConfig
    history: xr.Dataset | Callable[[], xr.Dataset] = LoadedOnUse()
    latents: xr.Dataset | Callable[[], xr.Dataset] = LoadedOnUse()
    metrics: dict[str, Any]
    split: dict[str, np.ndarray]
    run_dir: Path | None = None
    dataset: xr.Dataset | None = field(default=None, repr=False)

    @property
    def params(self) -> ALRNNParams:
        """The fitted AL-RNN's parameters (:class:`~alrnn_neuro.models.params.ALRNNParams`)."""
        return self.model.params().with_input_names(tuple(self.config.inputs))

    def encode(self, ds: xr.Dataset, *, init_epochs: tuple[str, ...] | None = None) -> xr.Dataset:
        """Latents of (new) trials, the initial state inferred exactly as in training.

        Parameters
        ----------
        ds : xr.Dataset
            Canonical dataset with the fit's units (same ids, same order) and input channels.
        init_epochs : tuple of str, optional
            Read a data-inferred initial state from the bins of these epochs instead of the
            fit's choice (e.g. ``("iti",)`` to keep later epochs' spikes out of z0).

        Returns
        -------
        xr.Dataset
            As :attr:`latents`: ``latents`` (trial, time, latent), ``bitcode`` (AL-RNN),
            ``prediction``, ``valid``, ``epoch`` with the dataset's trial coords.
        """
        return encode_trials(self.model, ds, self._record_data(), init_epochs=init_epochs)

    def score(self, ds: xr.Dataset) -> dict[str, float]:
        """Held-out metrics of the trials of ``ds``: bits/spike against the fit's PSTH baselines.

        The PSTH baselines are estimated on the fit's *training* trials (from
        :attr:`dataset`, or the dataset the run directory recorded), exactly as for
        ``metrics.json``: scoring the test trials reproduces ``metrics["test"]``.

        Parameters
        ----------
        ds : xr.Dataset
            Trials to score (e.g. ``full.sel(trial=result.split["test"])`` or new sessions
            of the same units).

        Returns
        -------
        dict
            As one split of :attr:`metrics` (``bits_per_spike``, ``r2_condition``, ...).
        """
        base = self.dataset
        if base is None and self.run_dir is not None:
            path = rd.recorded_dataset_path(self.run_dir)
            base = None if path is None else load_dataset(path)
        if base is None:
            raise DataValidationError(
                "score() needs the fitted dataset for its PSTH baseline; fix: set "
                "result.dataset = load_dataset(PATH) (the file the run was fitted to)"
            )
        train = base.sel(trial=np.asarray(self.split["train"]))
        return score_trials(self.model, train, ds, self._record_data())

    def _record_data(self) -> dict[str, Any]:
        if self.run_dir is not None and (Path(self.run_dir) / rd.CONFIG).is_file():
            return rd.read_json(Path(self.run_dir) / rd.CONFIG)["data"]
        return {}

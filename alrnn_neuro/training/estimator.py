"""``ALRNN``: a scikit-learn-style estimator over :func:`~alrnn_neuro.training.fit`.

For labs whose analyses are scikit-learn pipelines: hyperparameters (the fields of
:class:`~alrnn_neuro.training.FitConfig`) go to ``__init__``, the data to :meth:`ALRNN.fit`,
and what was learned ends in ``_`` (``result_``, ``params_``, ``config_``). ``X`` is a
canonical dataset (``xr.Dataset`` with dims trial, time, unit), not a 2-D array: trials are
sequences of different lengths. The engine, the run record and the numbers are those of
``fit``; ``ALRNN(...).fit(ds).result_`` *is* a :class:`~alrnn_neuro.training.FitResult`.

The torch module of one AL-RNN step is a different thing and stays at
:class:`alrnn_neuro.models.ALRNN`.

Examples
--------
>>> from sklearn.base import clone
>>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
>>> ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False)
>>> est = ALRNN(latent_dim=3, pwl_units=1, epochs=2, init_bins=5).fit(ds)
>>> est.transform(ds).dims, est.params_.n_pwl
(('trial', 'time', 'latent'), 1)
>>> clone(est).get_params()["latent_dim"]
3
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, TransformerMixin

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.result import FitResult

OUTPUTS = ("xarray", "numpy")


class ALRNN(TransformerMixin, BaseEstimator):
    """Fit an AL-RNN (or a baseline) to trials; transform trials into latents; score them.

    Parameters
    ----------
    model, latent_dim, pwl_units, obs, init_state, init_bins, init_epochs, behaviour, \
behaviour_label, behaviour_epoch, behaviour_weight, epochs, batch_size, lr, lr_schedule, \
lr_final, optimizer, weight_decay, grad_clip, patience, keep_epoch, tf_interval, tf_alpha, \
tf_anneal, mar, mar_units, mar_definition, a_placement, a_init, fresh_trials, self_coupling, \
self_coupling_units, inputs, split, conditions, seed, split_seed, device, threads
        The fields of :class:`~alrnn_neuro.training.FitConfig`, with its defaults and meaning
        (M = ``latent_dim`` latents, P = ``pwl_units`` of them ReLU units, ...).
    output : {"xarray", "numpy"}
        What :meth:`transform` returns: a labelled DataArray or a plain array.
    progress : bool
        Show the epochs while fitting (bar or periodic lines; see ``fit(progress=...)``).

    Attributes
    ----------
    result_ : FitResult
        The fit: model, metrics, latents of the fitted trials, split, history.
    params_ : ALRNNParams or None
        The AL-RNN's parameters (A, W, C, h, n_pwl); None for a baseline model.
    config_ : FitConfig
        The resolved configuration (``obs``, ``inputs`` and ``conditions`` made explicit).
    """

    def __init__(
        self,
        model: str = "alrnn",
        latent_dim: int = 6,
        pwl_units: int = 2,
        obs: str = "auto",
        init_state: str = "data",
        init_bins: int = 20,
        init_epochs: tuple[str, ...] = (),
        behaviour: bool = False,
        behaviour_label: str = "choice",
        behaviour_epoch: str = "",
        behaviour_weight: float = 0.01,
        epochs: int = 200,
        batch_size: int = 32,
        lr: float = 0.005,
        lr_schedule: str = "exponential",
        lr_final: float = 0.1,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        grad_clip: float = 1.0,
        patience: int = 40,
        keep_epoch: str = "best",
        tf_interval: int = 0,
        tf_alpha: float = 0.5,
        tf_anneal: float = 0.5,
        mar: float = 0.0,
        mar_units: int = -1,
        mar_definition: str = "toolbox",
        a_placement: str = "all",
        a_init: tuple[float, ...] = (),
        fresh_trials: int = 0,
        self_coupling: float = 0.0,
        self_coupling_units: int = -1,
        inputs: tuple[str, ...] = ("all",),
        split: tuple[float, ...] = (0.7, 0.15, 0.15),
        conditions: tuple[str, ...] = (),
        seed: int = 0,
        split_seed: int = 0,
        device: str = "cpu",
        threads: int = 1,
        output: str = "xarray",
        progress: bool = False,
    ) -> None:
        self.model = model
        self.latent_dim = latent_dim
        self.pwl_units = pwl_units
        self.obs = obs
        self.init_state = init_state
        self.init_bins = init_bins
        self.init_epochs = init_epochs
        self.behaviour = behaviour
        self.behaviour_label = behaviour_label
        self.behaviour_epoch = behaviour_epoch
        self.behaviour_weight = behaviour_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.lr_final = lr_final
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.patience = patience
        self.keep_epoch = keep_epoch
        self.tf_interval = tf_interval
        self.tf_alpha = tf_alpha
        self.tf_anneal = tf_anneal
        self.mar = mar
        self.mar_units = mar_units
        self.mar_definition = mar_definition
        self.a_placement = a_placement
        self.a_init = a_init
        self.fresh_trials = fresh_trials
        self.self_coupling = self_coupling
        self.self_coupling_units = self_coupling_units
        self.inputs = inputs
        self.split = split
        self.conditions = conditions
        self.seed = seed
        self.split_seed = split_seed
        self.device = device
        self.threads = threads
        self.output = output
        self.progress = progress

    def fit_config(self) -> FitConfig:
        """The hyperparameters as a validated :class:`FitConfig` (raises ConfigError)."""
        names = [f.name for f in dataclasses.fields(FitConfig)]
        return FitConfig.from_dict({name: getattr(self, name) for name in names})

    def fit(self, X: xr.Dataset, y: Any = None) -> ALRNN:
        """Fit to the trials of ``X`` (split into train/val/test as ``split`` says).

        Parameters
        ----------
        X : xr.Dataset
            Canonical dataset (``spikes``/``signal``/task ``targets``, ``inputs``, ``valid``).
        y : None
            Ignored (the observations are in ``X``); there for scikit-learn's API.

        Returns
        -------
        ALRNN
            ``self``, with ``result_``, ``params_`` and ``config_`` set.
        """
        _check_dataset(X, "fit")
        if self.output not in OUTPUTS:
            raise ConfigError(f"output={self.output!r} is invalid; fix: use one of {OUTPUTS}")
        self.result_: FitResult = fit(X, self.fit_config(), progress=bool(self.progress))
        self.config_: FitConfig = self.result_.config
        self.params_ = self.result_.params if self.config_.model == "alrnn" else None
        return self

    def transform(self, X: xr.Dataset) -> xr.DataArray | np.ndarray:
        """Latents of the trials of ``X``, z0 inferred as in training.

        Returns
        -------
        xr.DataArray or ndarray, dims (trial, time, latent)
            NaN on padded bins; a DataArray with the trial coords (``output="xarray"``) or
            its values (``output="numpy"``).
        """
        latents = self._result("transform").encode(_check_dataset(X, "transform"))["latents"]
        return latents.values if self.output == "numpy" else latents

    def score(self, X: xr.Dataset, y: Any = None) -> float:
        """Held-out quality of the trials of ``X``; higher is better.

        Recordings with spike counts: bits per spike against the fit's condition PSTH (the
        ``bits_per_spike`` of ``metrics.json`` when ``X`` holds the test trials); continuous
        recordings: R² of the condition-averaged rates; task datasets: accuracy.
        """
        scores = self._result("score").score(_check_dataset(X, "score"))
        for name in ("bits_per_spike", "accuracy", "r2_condition"):
            if name in scores and scores[name] is not None:
                return float(scores[name])
        return -float(scores["loss"])

    def _result(self, method: str) -> FitResult:
        if not hasattr(self, "result_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"ALRNN.{method}() before fit(); fix: call .fit(ds) first")
        return self.result_


def _check_dataset(X: Any, method: str) -> xr.Dataset:
    if not isinstance(X, xr.Dataset):
        raise ConfigError(
            f"ALRNN.{method}() got {type(X).__name__}; fix: pass a canonical xr.Dataset "
            "(load_dataset(PATH), or make_dataset(...) from arrays): trials are sequences, "
            "not rows of a 2-D array"
        )
    return X

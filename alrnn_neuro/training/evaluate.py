"""Evaluate a finished fit: latents on every trial, and per-split metrics.

The model runs free (no teacher forcing) on all trials, from its initial state, driven by the
trials' inputs; outputs are put back on the dataset's own time axis (NaN / -1 on padded steps).
Recordings are scored by :mod:`~alrnn_neuro.training.metrics` (bits/spike against PSTH
baselines, R², choice accuracy); task datasets by their loss and the task's own accuracy,
:func:`alrnn_neuro.simulate.tasks.metrics.task_accuracy` (classification accuracy per scored
step for cross-entropy tasks, the angular criterion for the multi-task suite, regression
accuracy within 0.04 for other MSE tasks; MSE tasks also report the ``mse`` on ``loss_mask``
steps).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import TASK_LOSSES, observation_variable
from alrnn_neuro.data.validation import require_dataset
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.alrnn import ALRNN
from alrnn_neuro.models.params import has_region_codes
from alrnn_neuro.simulate.tasks.metrics import mse, task_accuracy
from alrnn_neuro.training.batching import (
    TrialTensors,
    channel_dim,
    dataset_tensors,
    initial_state_bins,
    shift_in_time,
)
from alrnn_neuro.training.latents_output import latents_dataset
from alrnn_neuro.training.loop import evaluate_members
from alrnn_neuro.training.metrics import PSTHBaseline, channel_scales, condition_keys
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.rate_losses import RateLosses
from alrnn_neuro.training.rate_losses import applies as applies_to_rates
from alrnn_neuro.training.split_scorer import SplitScorer, split_metrics

CHUNK = 256


def predict_all(model: FitModel, tensors: TrialTensors) -> dict[str, np.ndarray]:
    """Free-running predictions for every trial (left-justified), in the model's dtype.

    Keys: ``latents`` (trial, time, latent), ``prediction`` (trial, time, unit),
    ``choice_prob`` (with a choice head), and for AL-RNNs ``n_pwl`` (a 0-d array) and
    ``bitcode`` (trial, time; only up to P = 62, :func:`~alrnn_neuro.models.params.
    has_region_codes`).
    """
    parts: dict[str, list[np.ndarray]] = {}
    params = model.params() if isinstance(model.dynamics, ALRNN) else None
    model.eval()
    for start in range(0, tensors.n_trials, CHUNK):
        batch = tensors.take(np.arange(start, min(start + CHUNK, tensors.n_trials)), trim=False)
        for name, value in model.predict(batch).items():
            parts.setdefault(name, []).append(value.detach().cpu().numpy())
        if params is not None and has_region_codes(params.n_pwl):
            parts.setdefault("bitcode", []).append(params.bitcode(parts["latents"][-1]))
    model.train()
    out = {name: np.concatenate(values) for name, values in parts.items()}
    if params is not None:
        out["n_pwl"] = np.asarray(params.n_pwl)
    return out


def compute_metrics(
    model: FitModel,
    ds: xr.Dataset,
    tensors: TrialTensors,
    predicted: dict[str, np.ndarray],
    positions: dict[str, np.ndarray],
    *,
    losses: dict[str, float] | None = None,
    scoring: RecordingScoring | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of every split (see :func:`~alrnn_neuro.training.split_scorer.split_metrics`, and
    :func:`task_split_metrics` for task datasets).

    With ``init_state="data"`` the bins the initial state was inferred from are left out.
    The PSTH baselines come from the ``train`` trials. Recordings are scored over chunks of
    trials (no full-size float64 copies). ``losses`` (per split, as
    :func:`~alrnn_neuro.training.loop.evaluate_members` gives them) and ``scoring`` (the
    data-only parts, :class:`RecordingScoring`) may be passed in when they are shared, e.g.
    by the members of an ensemble; by default they are computed here.
    """
    config = model.config
    losses = dict(losses or {})
    missing = {name: idx for name, idx in positions.items() if name not in losses}
    losses.update(split_losses(model, tensors, predicted["prediction"], missing))
    if config.obs in TASK_LOSSES:
        prediction = tensors.restore_time(predicted["prediction"], ds.sizes["time"], 0.0)
        return {
            name: task_split_metrics(prediction, ds, idx, losses[name])
            for name, idx in positions.items()
        }
    scoring = RecordingScoring(ds, tensors, config, positions) if scoring is None else scoring
    prediction = predicted["prediction"]  # left-justified, as the scorers read it
    correct = _choice_correct(tensors, predicted)
    labels = tensors.labels.cpu().numpy()
    out = {}
    for name, idx in positions.items():
        members = np.zeros(ds.sizes["trial"], bool)
        members[idx] = True
        labelled = members & (labels >= 0)
        choice = None if correct is None else correct[labelled[: correct.size]]
        out[name] = scoring.splits[name].score(prediction, losses[name], choice)
    return out


class RecordingScoring:
    """The data-only parts of the metrics of every split of a recording (shared by all
    models fitted to it with the same split and config): scored entries, PSTH baselines of
    the ``train`` trials, one :class:`~alrnn_neuro.training.split_scorer.SplitScorer` per split.
    """

    def __init__(self, ds: xr.Dataset, tensors: TrialTensors, config, positions) -> None:
        self.rows = RecordingRows(ds, tensors, None, config)
        baseline = self.rows.baseline(positions["train"]) if config.obs == "poisson" else None
        scale = None
        if config.obs == "gaussian":
            scale = channel_scales(self.rows.data, self.rows.mask, positions["train"])
        self.splits = {
            name: SplitScorer(
                obs=config.obs,
                counts=self.rows.data,
                mask=self.rows.mask,
                keys=self.rows.keys,
                members=idx,
                baseline=baseline,
                steps=(tensors.offset, int(tensors.valid.shape[1])),
                unit_scale=scale,
            )
            for name, idx in positions.items()
        }


class RecordingRows:
    """Chunks of a recording, its predictions and its scored entries, by trial position.

    The scored entries are the valid steps of observed units, without the bins the initial
    state was inferred from (:func:`~alrnn_neuro.training.batching.initial_state_bins`).
    """

    def __init__(self, ds: xr.Dataset, tensors: TrialTensors, prediction, config) -> None:
        self.ds, self.tensors, self.prediction, self.config = ds, tensors, prediction, config
        self.counts = ds[observation_variable(ds)].values
        self.valid = ds["valid"].values.astype(bool)
        n_units = ds.sizes[channel_dim(ds)]
        self.observed = (
            ds["observed"].values.astype(bool)
            if "observed" in ds
            else np.ones((ds.sizes["trial"], n_units), bool)
        )
        self.keys = condition_keys(ds, list(config.conditions))
        epoch = ds["epoch"].values if "epoch" in ds else np.full(self.valid.shape, "")
        bins = config.init_bins if config.init_state == "data" else 0
        self.initial = initial_state_bins(self.valid, epoch, bins, tuple(config.init_epochs))

    def data(self, rows: np.ndarray) -> np.ndarray:
        return self.counts[rows]

    def predicted(self, rows: np.ndarray) -> np.ndarray:
        """Predictions of ``rows`` on the dataset's time axis (0 outside the trial)."""
        return self.predictor(self.prediction)(rows)

    def predictor(self, prediction: np.ndarray):
        """``f(rows)``: the left-justified ``prediction`` (trial, time, unit) of ``rows`` on the
        dataset's time axis (0 outside the trial)."""
        n_time, offset = self.valid.shape[1], self.tensors.offset

        def rows_of(rows: np.ndarray) -> np.ndarray:
            return shift_in_time(prediction[rows], offset[rows], n_time, 0.0, np.float64)

        return rows_of

    def mask(self, rows: np.ndarray) -> np.ndarray:
        """Scored entries (trial, time, unit) of ``rows``: valid bins of observed units, without
        the bins that inferred the initial state."""
        valid = self.valid[rows] & ~self.initial[rows]
        return valid[:, :, None] & self.observed[rows, None, :]

    def baseline(self, train: np.ndarray) -> PSTHBaseline:
        return PSTHBaseline.fit(self.data, self.mask, self.keys, train)

    def metrics(
        self, members, baseline, loss: float, choice=None, unit_scale=None
    ) -> dict[str, float]:
        return split_metrics(
            obs=self.config.obs,
            counts=self.data,
            prediction=self.predicted,
            mask=self.mask,
            keys=self.keys,
            members=members,
            baseline=baseline,
            loss=loss,
            choice_correct=choice,
            unit_scale=unit_scale,
        )


def fit_tensors(
    model: FitModel,
    ds: xr.Dataset,
    record_data: dict | None = None,
    *,
    init_epochs: tuple[str, ...] | None = None,
) -> TrialTensors:
    """``ds`` as the fitted model reads it: its input channels, on the model's device.

    ``init_epochs`` (default: the fit's) chooses the bins a data-inferred z0 is read from.

    Raises
    ------
    DataValidationError
        If ``ds`` lacks an input channel of the fit, or (when ``record_data`` names them) its
        units differ from the fitted ones.
    """
    config = model.config
    have = [str(x) for x in ds["input"].values] if "input" in ds.dims else []
    missing = [n for n in config.inputs if n not in have]
    if missing:
        raise DataValidationError(
            f"the dataset lacks the fit's input channels {missing} (it has {have}); fix: give "
            "trials with the inputs the model was fitted with"
        )
    dim = channel_dim(ds)
    units = [str(u) for u in ds[dim].values]
    fitted = (record_data or {}).get("unit_ids")
    if fitted is not None and units != list(fitted):
        fitted = list(fitted)
        at = next(
            (i for i, (a, b) in enumerate(zip(units, fitted, strict=False)) if a != b),
            min(len(units), len(fitted)),
        )
        raise DataValidationError(
            f"the dataset has {len(units)} {dim}s, the fit {len(fitted)}, and they differ "
            f"from position {at} on (there: {units[at] if at < len(units) else 'none'!r}, "
            f"fitted: {fitted[at] if at < len(fitted) else 'none'!r}); fix: give trials of "
            f"the same {dim}s, in the same order"
        )
    fit_ds = ds.sel(input=list(config.inputs)) if config.inputs else ds.isel(input=[])
    epochs = config.init_epochs if init_epochs is None else tuple(init_epochs)
    init = {"init_bins": config.init_bins, "init_epochs": epochs}
    if config.init_state != "data":
        init = {"init_bins": 0, "init_epochs": ()}
    tensors, _ = dataset_tensors(fit_ds, **init)
    return tensors.to(next(model.parameters()).device)


def encode_trials(
    model: FitModel,
    ds: xr.Dataset,
    record_data: dict | None = None,
    *,
    init_epochs: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """Latents (and bitcodes, predictions) of the trials of ``ds`` under a fitted model.

    The initial state is inferred as in training (or from the bins of ``init_epochs``); the
    dataset's own trial coords are kept (``split`` is empty). See :func:`latents_dataset`.
    """
    ds = require_dataset(ds, "encode()")
    tensors = fit_tensors(model, ds, record_data, init_epochs=init_epochs)
    return latents_dataset(ds, tensors, predict_all(model, tensors), {})


def score_trials(
    model: FitModel, train_ds: xr.Dataset, ds: xr.Dataset, record_data: dict | None = None
) -> dict[str, float]:
    """Metrics of the trials of ``ds``, with PSTH baselines estimated on ``train_ds``.

    Parameters
    ----------
    model : FitModel
        A fitted model (recordings: Poisson / Gaussian observations).
    train_ds : xr.Dataset
        The fit's training trials (their PSTH is the baseline, as in ``metrics.json``).
    ds : xr.Dataset
        Trials to score, on the same time bins.

    Returns
    -------
    dict
        As one split of ``metrics.json``.
    """
    ds = require_dataset(ds, "score()")
    if model.config.obs in TASK_LOSSES:
        tensors = fit_tensors(model, ds, record_data)
        prediction = tensors.restore_time(
            predict_all(model, tensors)["prediction"], ds.sizes["time"], 0.0
        )
        idx = np.arange(ds.sizes["trial"])
        return task_split_metrics(prediction, ds, idx, _split_loss(model, tensors, idx))
    if not np.array_equal(train_ds["time"].values, ds["time"].values):
        raise DataValidationError(
            "the scored trials have other time bins than the fitted dataset; fix: bin them "
            "the same way (bin_size, alignment, window)"
        )
    config = model.config
    baseline = scale = None
    if config.obs in ("poisson", "gaussian"):
        train_tensors = fit_tensors(model, train_ds, record_data)
        train_rows = RecordingRows(train_ds, train_tensors, np.zeros((0, 0, 0)), config)
        every = np.arange(train_ds.sizes["trial"])
        if config.obs == "poisson":
            baseline = train_rows.baseline(every)
        else:  # r2_condition in the training trials' standard units, as in the fit's metrics
            scale = channel_scales(train_rows.data, train_rows.mask, every)
    tensors = fit_tensors(model, ds, record_data)
    prediction = predict_all(model, tensors)["prediction"]
    rows = RecordingRows(ds, tensors, prediction, config)
    idx = np.arange(ds.sizes["trial"])
    loss = split_losses(model, tensors, prediction, {"scored": idx})["scored"]
    return rows.metrics(idx, baseline, loss, unit_scale=scale)


def split_losses(
    model: FitModel, tensors: TrialTensors, prediction: np.ndarray, positions: dict
) -> dict[str, float]:
    """Each split's free-running loss (as optimised, without regularisation): read from the
    model's left-justified ``prediction`` where :mod:`~alrnn_neuro.training.rate_losses`
    applies (a softplus Poisson readout without choice head), else by running the model
    over the split's trials again (:func:`~alrnn_neuro.training.loop.evaluate_members`)."""
    if positions and applies_to_rates(model):
        return RateLosses(tensors, positions).losses(prediction)
    return {name: _split_loss(model, tensors, idx) for name, idx in positions.items()}


def _split_loss(model: FitModel, tensors: TrialTensors, idx: np.ndarray) -> float:
    return float(evaluate_members(model, tensors, idx)[0])


def _choice_correct(tensors: TrialTensors, predicted: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per trial: is the class with the highest mean probability over readout steps right?"""
    if "choice_prob" not in predicted:
        return None
    prob = predicted["choice_prob"]
    steps = tensors.readout.cpu().numpy()[:, : prob.shape[1], None]
    mean_prob = (prob * steps).sum(axis=1) / np.maximum(steps.sum(axis=1), 1)
    return mean_prob.argmax(axis=1) == tensors.labels.cpu().numpy()


def residual_std(
    tensors: TrialTensors, predicted: dict[str, np.ndarray], train: np.ndarray
) -> np.ndarray:
    """Per-unit standard deviation (unit,) of data − prediction on the training trials
    (on the ``loss_mask`` steps: all valid steps of recordings)."""
    data = tensors.data.cpu().double().numpy()[train]
    mask = (tensors.loss_mask[:, :, None] & tensors.observed[:, None, :]).cpu().numpy()[train]
    resid = np.where(mask, data - predicted["prediction"][train], 0.0)
    return np.sqrt((resid**2).sum(axis=(0, 1)) / np.maximum(mask.sum(axis=(0, 1)), 1))


def task_split_metrics(
    prediction: np.ndarray, ds: xr.Dataset, members: np.ndarray, loss: float
) -> dict[str, float]:
    """Metrics of the trials at positions ``members`` of a task dataset.

    Parameters
    ----------
    prediction : ndarray, shape (trial, time, output)
        Model outputs on the dataset's time axis for all trials (probabilities for
        cross-entropy tasks); values on unscored steps are ignored.
    ds : xr.Dataset
        The task dataset (``targets``, ``loss_mask``, ``epoch``, ``attrs["task_loss"]``).
    members : ndarray of int
        Positions along ``trial`` of the split's trials.
    loss : float
        Loss of the split (as optimised, without regularisation).

    Returns
    -------
    dict
        ``loss``, ``n_trials``, ``accuracy`` (NaN without scored steps), for MSE tasks
        ``mse``, and for datasets of several tasks (trial coord ``task``, e.g. the multi-task
        suite) ``accuracy_<task>`` per task.

    Examples
    --------
    >>> from alrnn_neuro.simulate.tasks import make_task
    >>> ds = make_task("copy", n_trials=4, seed=0, seq_len=2, delay=2, n_symbols=3)
    >>> task_split_metrics(ds["targets"].values, ds, np.arange(4), 0.0)["accuracy"]
    1.0
    """
    members = np.asarray(members, dtype=np.int64)
    out = {"loss": float(loss), "n_trials": int(members.size)}
    sub = ds.isel(trial=members)
    pred = np.asarray(prediction)[members]
    mask = sub["loss_mask"].values
    out["accuracy"] = _accuracy(pred, sub)
    if ds.attrs.get("task_loss") == "mse":
        out["mse"] = mse(pred, sub["targets"].values, mask) if mask.any() else float("nan")
    if "task" in ds.coords and np.unique(ds["task"].values).size > 1:
        tasks = sub["task"].values.astype(str)
        for name in np.unique(ds["task"].values.astype(str)):
            rows = np.flatnonzero(tasks == name)
            out[f"accuracy_{name}"] = _accuracy(pred[rows], sub.isel(trial=rows))
    return out


def _accuracy(prediction: np.ndarray, ds: xr.Dataset) -> float:
    """``task_accuracy``, NaN when no step is scored."""
    return float(task_accuracy(prediction, ds)) if ds["loss_mask"].values.any() else float("nan")

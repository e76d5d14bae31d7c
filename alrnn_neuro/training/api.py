"""Notebook API: ``fit`` a model to a dataset and ``load_run`` it back, as ``FitResult``.

These are what the ``alrnn-neuro fit`` command calls (``simulate_model`` is in
:mod:`~alrnn_neuro.training.simulation`); everything a run
directory holds is described in :mod:`alrnn_neuro.training.rundir`.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.data.validation import check_is_dataset
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.checkpoint import TrainState, load_checkpoint, save_checkpoint
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import (
    RecordingScoring,
    compute_metrics,
    predict_all,
    residual_std,
)
from alrnn_neuro.training.latents_output import LatentsFrame
from alrnn_neuro.training.loop import EpochCallback, make_optimizer, train
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.progress import EpochProgress
from alrnn_neuro.training.result import FitResult
from alrnn_neuro.training.resume_record import record_resume
from alrnn_neuro.training.runlock import lock_run_dir
from alrnn_neuro.training.session import Session, prepare_session
from alrnn_neuro.training.threads import check_threads, torch_threads

logger = logging.getLogger(__name__)
#: when ``fit`` writes the run directory's checkpoint (its ``checkpoints`` argument)
CHECKPOINT_TIMES = ("epoch", "end")


def fit(
    ds: xr.Dataset,
    config: FitConfig | None = None,
    *,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    callback: EpochCallback | None = None,
    dataset_path: str | os.PathLike | None = None,
    progress: bool = False,
    checkpoints: str = "epoch",
) -> FitResult:
    """Fit an AL-RNN (or a baseline) to the trials of ``ds``.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset (``spikes`` or ``signal``, ``inputs``, ``valid``, ...).
    config : FitConfig, optional
        Hyperparameters (default ``FitConfig()``).
    out : str or PathLike, optional
        Run directory; a checkpoint is saved there after every epoch. None = in memory only.
    resume : bool
        Continue the run in ``out`` from its last checkpoint (bit-identical on CPU).
    overwrite : bool
        Replace a different or finished run in ``out``.
    callback : callable, optional
        Called after every epoch with a dict (``epoch``, ``epochs``, ``train_loss``,
        ``val_loss``, ``lr``, ``best_epoch``, ``seconds``).
    dataset_path : str or PathLike, optional
        Recorded in ``config.json`` (as an absolute path and relative to ``out``), so that
        ``analyze`` and ``rsa`` find the dataset from any folder.
    progress : bool
        Show the epochs as a progress bar (terminal, Jupyter with ipywidgets) or as a plain
        line every 10 s (elsewhere); see :mod:`alrnn_neuro.training.progress`. Off by
        default: the library itself only calls ``callback`` and logs.
    checkpoints : {"epoch", "end"}
        When ``out``'s ``checkpoint.pt`` is written: after every epoch (a killed fit resumes
        from its last epoch), or once, after the last epoch (the same file; for run
        directories that are discarded when a fit is interrupted, like a sweep's staging
        folders, where a checkpoint per epoch costs a few ms each and is never read).

    Returns
    -------
    FitResult

    Raises
    ------
    ConfigError, DataValidationError, RunDirError
        For bad settings, data or run directories; nothing is written in that case.
    TrainingDivergedError
        If the loss became NaN/inf (the checkpoint of the last good epoch is kept; with
        ``checkpoints="end"`` there is none, and a new run directory is removed).

    Examples
    --------
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False)
    >>> result = fit(ds, FitConfig(latent_dim=4, pwl_units=1, epochs=3))
    >>> result.latents["latents"].dims, int(result.history.sizes["epoch"])
    (('trial', 'time', 'latent'), 3)
    """
    ds = check_is_dataset(ds, "fit()")  # validated with the config (resolve_config)
    config = FitConfig() if config is None else config
    if not isinstance(config, FitConfig):
        raise ConfigError(
            f"fit() got config as a {type(config).__name__}; fix: FitConfig(...) (e.g. "
            "FitConfig(**settings) for a dict, or FitConfig.from_toml(PATH))"
        )
    check_threads(config.threads)
    if checkpoints not in CHECKPOINT_TIMES:
        raise ConfigError(
            f"checkpoints={checkpoints!r} is not one of {CHECKPOINT_TIMES}; fix: 'epoch' (after "
            "every epoch, the default) or 'end' (once, after the last epoch)"
        )
    display = EpochProgress() if progress else None
    on_epoch = _both(callback, display)
    try:
        with torch_threads(config.threads):
            return _fit(ds, config, out, resume, overwrite, on_epoch, dataset_path, checkpoints)
    finally:
        if display is not None:
            display.stop()


def _both(callback: EpochCallback | None, display: EpochCallback | None) -> EpochCallback | None:
    """One epoch callback that calls the user's and then the display's."""
    if callback is None or display is None:
        return callback or display

    def both(info: dict[str, Any]) -> None:
        callback(info)
        display(info)

    return both


def _fit(ds, config, out, resume, overwrite, callback, dataset_path, checkpoints) -> FitResult:
    if out is None:
        return _fit_in(ds, config, None, resume, overwrite, callback, dataset_path, checkpoints)
    with lock_run_dir(out):  # one writer per run directory, for the whole fit
        return _fit_in(
            ds, config, Path(out), resume, overwrite, callback, dataset_path, checkpoints
        )


def _fit_in(ds, config, run, resume, overwrite, callback, dataset_path, checkpoints) -> FitResult:
    if run is not None and resume and (run / rd.CONFIG).is_file():
        split = rd.read_split(run / rd.SPLIT)
    else:
        split = None
    session = prepare_session(ds, config, split=split, dataset_path=dataset_path)
    if run is not None and dataset_path is not None:
        session.record["data"]["path_from_run"] = os.path.relpath(
            Path(dataset_path).resolve(), run.resolve()
        )
    mode = "new"
    if run is not None:
        mode = rd.prepare_run_dir(run, session.record, resume=resume, overwrite=overwrite)
        if mode == "finished":
            logger.info("%s already holds this finished run; loading it", run)
            return load_run(run)
        if mode == "new":
            session.record[rd.RUN_ID] = rd.new_run_id()
        else:  # resuming keeps the run's id (a run of old versions gets one now)
            old = rd.read_json(run / rd.CONFIG).get(rd.RUN_ID)
            session.record[rd.RUN_ID] = old or rd.new_run_id()
    model, optimizer, state = _build(session, run if mode == "resume" else None)
    if mode == "resume":  # changed settings: checked, and kept in config.json's history
        record_resume(session.record, rd.read_json(run / rd.CONFIG), session.config, state, run)
    on_epoch = None
    if run is not None:
        created = not run.exists()
        run_id = session.record[rd.RUN_ID]
        if mode == "new":
            run.mkdir(parents=True, exist_ok=True)
            rd.clear_run_dir(run)  # --overwrite: the old run goes only now, after all checks
            rd.write_split(
                run / rd.SPLIT,
                session.split,
                run_id,
                split_seed=session.config.split_seed,
                fractions=session.config.split,
                conditions=session.config.conditions,
            )
        else:  # resuming (maybe with more epochs): the run is unfinished until it ends again
            (run / rd.METRICS).unlink(missing_ok=True)
        rd.write_json(run / rd.CONFIG, session.record)

        def on_epoch(current: TrainState) -> None:
            if checkpoints == "epoch" or current.stop_reason:  # "end": the last epoch only
                save_checkpoint(run / rd.CHECKPOINT, current, model, optimizer, {rd.RUN_ID: run_id})

    try:
        train(
            model,
            optimizer,
            session.tensors,
            session.positions,
            session.config,
            state,
            divergence="raise",
            on_epoch=on_epoch,
            callback=callback,
            trial_source=session.fresh,
        )
    except BaseException:
        if run is not None and created and not (run / rd.CHECKPOINT).exists():
            rd.clear_run_dir(run)  # nothing learned yet: leave nothing behind
            if not any(run.iterdir()):
                run.rmdir()
        raise
    return finish_fit(session, model, state, run)


def _build(session: Session, resume_from: Path | None):
    """Model, optimiser and training state: fresh, or restored from a checkpoint."""
    config = session.config
    device = torch.device(config.device)
    model = FitModel.for_session(session, config)
    model.to(device)
    optimizer = make_optimizer(model, config)
    state = TrainState.start(config.seed)
    if resume_from is not None and (resume_from / rd.CHECKPOINT).is_file():
        state, extra = load_checkpoint(resume_from / rd.CHECKPOINT, model, optimizer)
        saved_id = extra.get(rd.RUN_ID) if isinstance(extra, dict) else None
        if saved_id and saved_id != session.record.get(rd.RUN_ID):
            raise RunDirError(
                f"{resume_from / rd.CHECKPOINT} belongs to another run than "
                f"{resume_from / rd.CONFIG}; fix: --overwrite to start again"
            )
        if state.stop_reason == "max_epochs" and state.epoch < config.epochs:
            state.stop_reason = ""  # resumed with more epochs
        logger.info("resuming %s after epoch %d", resume_from, state.epoch)
    return model, optimizer, state


def finish_fit(
    session: Session,
    model: FitModel,
    state: TrainState,
    run: Path | None,
    *,
    predicted: dict[str, np.ndarray] | None = None,
    losses: dict[str, float] | None = None,
    scoring: RecordingScoring | None = None,
    frame: LatentsFrame | None = None,
) -> FitResult:
    """Score the best model, build the outputs and (with ``run``) write the run files.

    ``predicted`` (:func:`~alrnn_neuro.training.evaluate.predict_all`), the per-split
    ``losses``, ``scoring`` (see :func:`~alrnn_neuro.training.evaluate.compute_metrics`) and
    the latents dataset's data-only ``frame`` may be passed in when they were computed for
    several fits at once (ensembles).
    """
    if predicted is None:
        predicted = predict_all(model, session.tensors)
    if session.config.obs not in ("poisson", "cross_entropy"):
        std = residual_std(session.tensors, predicted, session.positions["train"])
        model.residual_std.copy_(torch.as_tensor(std))
    metrics: dict[str, Any] = compute_metrics(
        model,
        session.ds,
        session.tensors,
        predicted,
        session.positions,
        losses=losses,
        scoring=scoring,
    )
    metrics.update(
        best_epoch=state.best_epoch, epochs_run=state.epoch, stop_reason=state.stop_reason
    )
    if frame is None:
        frame = LatentsFrame(session.ds, session.tensors, session.split)
    latents = frame.build(predicted)
    history = rd.history_dataset(state.history)
    model = model.cpu().eval()
    if run is not None:
        run_id = session.record.setdefault(rd.RUN_ID, rd.new_run_id())
        rd.write_model(run / rd.MODEL, model, session.record)
        rd.write_netcdf(run / rd.HISTORY, history, run_id)
        rd.write_netcdf(run / rd.LATENTS, latents, run_id)
        metrics[rd.RUN_ID] = run_id
        rd.write_json(run / rd.METRICS, metrics)
    return FitResult(
        model, session.config, history, latents, metrics, session.split, run, session.ds
    )


def initial_fit(ds: xr.Dataset, config: FitConfig | None = None) -> FitResult:
    """The model at its initialisation, scored and returned like a fit (nothing is trained).

    A control for claims about fitted models: whatever an untrained network with the same
    inputs, initial-state inference and readout already shows is not a finding of training.

    Examples
    --------
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> ds = simulate_stimulus_selection(n_trials=30, n_units=5, seed=0, lfp=False)
    >>> initial_fit(ds, FitConfig(latent_dim=3, pwl_units=1)).metrics["epochs_run"]
    0
    """
    config = FitConfig() if config is None else config
    with torch_threads(config.threads):
        session = prepare_session(ds, config)
        model, _, state = _build(session, None)
        return finish_fit(session, model, state, None)


def initial_model(ds: xr.Dataset, config: FitConfig | None = None) -> FitModel:
    """The network a fit of ``ds`` with ``config`` starts from, in eval mode on the CPU.

    :func:`initial_fit` without the scoring and outputs (about two thirds of its time on a
    task dataset), for controls that only run the untrained network, e.g. on held-out trials
    through :func:`~alrnn_neuro.training.evaluate.encode_trials`.
    """
    config = FitConfig() if config is None else config
    with torch_threads(config.threads):
        model, _, _ = _build(prepare_session(ds, config), None)
    return model.cpu().eval()


def load_run(path: str | os.PathLike) -> FitResult:
    """Load a finished run directory written by :func:`fit` / ``alrnn-neuro fit``.

    Parameters
    ----------
    path : str or PathLike
        Run directory.

    Returns
    -------
    FitResult

    Raises
    ------
    RunDirError
        If the directory is missing files or the run is unfinished (resume it first).

    Examples
    --------
    >>> import tempfile
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> ds = simulate_stimulus_selection(n_trials=30, n_units=5, seed=0, lfp=False)
    >>> out = tempfile.mkdtemp() + "/run"
    >>> _ = fit(ds, FitConfig(latent_dim=3, pwl_units=1, epochs=2), out=out)
    >>> load_run(out).config.latent_dim
    3
    """
    run = Path(path)
    if run.exists() and not run.is_dir():
        raise RunDirError(
            f"{run} is a file, not a run directory; fix: give the folder `alrnn-neuro fit "
            f"--out` wrote (here perhaps {run.parent})"
        )
    record = rd.read_json(run / rd.CONFIG)
    if not (run / rd.METRICS).is_file():
        raise RunDirError(
            f"{run} holds an unfinished run; fix: resume it with `alrnn-neuro fit DATASET "
            f"--out {run} --resume` (or fit(ds, config, out=..., resume=True))"
        )
    run_id = rd.check_run_ids(run)
    try:
        config = FitConfig.from_dict(record["config"])
        n_units, n_classes = int(record["data"]["n_units"]), len(record["data"]["classes"])
    except (KeyError, TypeError, ValueError) as error:
        raise RunDirError(
            f"{run / rd.CONFIG} lacks or garbles {error} (not written by alrnn-neuro fit?); "
            "fix: refit the run"
        ) from error
    model = FitModel(config, n_units, n_classes)
    try:
        model.load_state_dict(rd.read_model(run / rd.MODEL)["state_dict"])
    except RuntimeError as error:
        raise RunDirError(
            f"{run / rd.MODEL} does not fit {run / rd.CONFIG} (other shapes or names); fix: "
            "refit the run"
        ) from error
    split = rd.read_split(run / rd.SPLIT)
    for name in (rd.HISTORY, rd.LATENTS):  # read on first use (FitResult), checked now
        rd.require_file(run / name)
    return FitResult(
        model=model.eval(),
        config=config,
        history=partial(rd.read_run_output, run / rd.HISTORY, run_id),
        latents=partial(rd.read_run_output, run / rd.LATENTS, run_id),
        metrics=rd.read_json(run / rd.METRICS),
        split=split,
        run_dir=run,
    )

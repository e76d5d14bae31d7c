"""Write and load the files of ``alrnn-neuro analyze``; load a run and its dataset's inputs.

:func:`write_analysis` saves an :class:`~alrnn_neuro.analysis.pipeline.AnalysisResult` as

=====================  =====================================================================
file                   content
=====================  =====================================================================
``regimes.nc``         ``region_usage`` (region), ``transition_count`` / ``_probability``
                       (region_from, region_to), ``epoch_transition_*`` (epoch, ...),
                       ``region_epoch`` (region, epoch), ``dwell_*`` (run),
                       ``switch_latency`` (trial, event), nonlinearity usage
``dynamics.nc``        per used region: Jacobian, eigenvalues (real/imag parts), stability,
                       fixed points under each epoch's mean input and whether they are real;
                       period-k cycles (dims ``cycle``, ``cycle_step``, ``latent``; see
                       :func:`~alrnn_neuro.analysis.cycles.cycle_dataset`)
``primitives.json``    one record per tested primitive (integration, gating, rule-based
                       integration; see ``detect_primitives``)
``alignment.json``     AMI of region vs epoch / trial variables with null p-values, summary
=====================  =====================================================================

The ``.nc`` files are written with :func:`alrnn_neuro.data.h5.write_netcdf`; read them with
:func:`alrnn_neuro.data.h5.read_netcdf` (or ``xarray.load_dataset(path, engine="h5netcdf")``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import write_entries
from alrnn_neuro._json import dumps
from alrnn_neuro.data.h5 import load_dataset, write_netcdf
from alrnn_neuro.errors import DataValidationError, RunDirError
from alrnn_neuro.training.api import load_run
from alrnn_neuro.training.fingerprint import changed_labels, dataset_fingerprint
from alrnn_neuro.training.rundir import recorded_dataset_path

__all__ = [
    "FILES",
    "load_fit",
    "load_inputs",
    "recorded_dataset",
    "write_analysis",
]

FILES = ("regimes.nc", "dynamics.nc", "primitives.json", "alignment.json")


def write_analysis(
    result: Any,
    out_dir: str | os.PathLike,
    *,
    extra: Callable[[Path], list[Path]] | None = None,
) -> list[Path]:
    """Write ``regimes.nc``, ``dynamics.nc``, ``primitives.json``, ``alignment.json``.

    All files are first written into a temporary folder; they replace those in ``out_dir``
    only when every one succeeded, so a failure (or Ctrl-C) leaves ``out_dir`` as it was.

    Parameters
    ----------
    result : AnalysisResult
        Output of :func:`~alrnn_neuro.analysis.pipeline.analyze_run`.
    out_dir : str or PathLike
        Output folder (created if needed).
    extra : callable, optional
        Writes further outputs (e.g. ``figures/``) into the folder it is given and returns
        their paths; they are staged and moved with the rest, all or nothing.

    Returns
    -------
    list of Path
        The written files.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; fix: give a directory path")

    def fill(folder: Path) -> list[Path]:
        _netcdf(result.regimes, folder / "regimes.nc")
        _netcdf(result.dynamics, folder / "dynamics.nc")
        (folder / "primitives.json").write_text(dumps(result.primitives))
        (folder / "alignment.json").write_text(dumps({**result.alignment, **result.summary}))
        written = [folder / name for name in FILES]
        if extra is not None:
            written += extra(folder)
        return [p.relative_to(folder) for p in written]

    return [out / name for name in write_entries(out, fill)]


def _netcdf(ds: xr.Dataset, path: Path) -> None:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, str | int | float | np.number)}
    write_netcdf(ds, path)


def load_fit(run: str | os.PathLike | Any) -> Any:
    """A FitResult from a run directory (checked file by file) or passed through as is."""
    if not isinstance(run, str | os.PathLike):
        return run
    path = Path(run)
    if not path.is_dir():
        raise RunDirError(f"RUN_DIR {path} is not a directory; fix: give a run directory")
    missing = [f for f in ("config.json", "model.pt", "latents.nc") if not (path / f).is_file()]
    if missing:
        raise RunDirError(
            f"RUN_DIR {path} lacks {', '.join(missing)}; fix: point to a finished run "
            "directory written by `alrnn-neuro fit` (or finish it with --resume)"
        )
    return load_run(path)


def recorded_dataset(fit: Any) -> xr.Dataset | None:
    """The dataset a fit was made from, found without being told where it is.

    An in-memory fit carries it (``fit.dataset``); a run directory records its path
    (:func:`~alrnn_neuro.training.rundir.recorded_dataset_path`) and the dataset's
    fingerprint, checked here.

    Returns
    -------
    xr.Dataset or None
        None when nothing was recorded or the recorded file is not found.

    Raises
    ------
    DataValidationError
        A file exists at the recorded path but holds other data (fingerprint differs).
    """
    carried = getattr(fit, "dataset", None)
    if carried is not None:
        return carried
    run_dir = getattr(fit, "run_dir", None)
    path = None if run_dir is None else recorded_dataset_path(run_dir)
    if path is None:
        return None
    dataset = load_dataset(path)
    check_fitted_dataset(run_dir, dataset, path)
    return dataset


def check_fitted_dataset(
    run_dir: str | os.PathLike, dataset: xr.Dataset, path: object, fingerprint: str | None = None
) -> None:
    """Refuse ``dataset`` (read from ``path``) unless it is the one run ``run_dir`` was
    fitted to: the fingerprint recorded in its ``config.json`` (runs that recorded none pass),
    of the whole dataset or of the trials the run holds (a sweep cell's training pool).
    ``fingerprint``: the dataset's, when the caller checks it against several runs.

    Raises
    ------
    DataValidationError
        Names both fingerprints, as ``fit --resume`` does; or names the trial labels (rule,
        choice, epoch, ...) whose values differ from those recorded at fit time.
    """
    config = json.loads((Path(run_dir) / "config.json").read_text())
    expected = config.get("data", {}).get("fingerprint")
    found = (fingerprint or dataset_fingerprint(dataset)) if expected else None
    fitted = dataset
    if expected and found != expected:
        fitted = _fitted_subset(run_dir, dataset, expected)
        if fitted is None:
            raise DataValidationError(
                f"the dataset {str(path)!r} is not the one run {str(run_dir)!r} was fitted to "
                f"(fingerprint {found!r} here, {expected!r} in its config.json); fix: pass "
                "--dataset with the file the run was fitted to"
            )
    relabelled = changed_labels(config.get("data", {}).get("label_fingerprints"), fitted)
    if relabelled:
        raise DataValidationError(
            f"the dataset {str(path)!r} holds the recordings run {str(run_dir)!r} was fitted to, "
            f"but its labels {relabelled} have other values than then; fix: pass --dataset with "
            "the file the run was fitted to (labels added since are fine)"
        )


def _fitted_subset(run_dir: str | os.PathLike, dataset: xr.Dataset, expected: str):
    """The trials of ``dataset`` that the run's ``latents.nc`` holds (in that order) if the run
    was fitted to them (a sweep cell is fitted to the sweep's training pool, a subset in
    memory), else None."""
    latents = Path(run_dir) / "latents.nc"
    if not latents.is_file():
        return None
    with xr.open_dataset(latents, engine="h5netcdf") as saved:
        trials = saved["trial"].values
    if trials.size >= dataset.sizes["trial"] or not np.isin(trials, dataset["trial"]).all():
        return None
    subset = dataset.sel(trial=trials)
    return subset if dataset_fingerprint(subset) == expected else None


def fitted_dataset(dataset: str | os.PathLike | xr.Dataset | None, fit: Any) -> xr.Dataset | None:
    """The fitted dataset in memory: ``dataset`` itself, loaded from its path, or (None
    given) the one the fit carries or recorded; None when it cannot be found. A given path is
    checked against the run by :func:`load_inputs` (``path=``), after the trials and bins."""
    if isinstance(dataset, xr.Dataset):
        return dataset
    return recorded_dataset(fit) if dataset is None else load_dataset(dataset)


def load_inputs(
    dataset: str | os.PathLike | xr.Dataset | None,
    fit: Any,
    *,
    path: str | os.PathLike | None = None,
) -> xr.DataArray | None:
    """The dataset's ``inputs`` on the run's trials and time bins.

    Parameters
    ----------
    dataset : str, PathLike, xr.Dataset or None
        The fitted dataset; None = the one the run recorded (:func:`recorded_dataset`).
    fit : FitResult
    path : str or PathLike, optional
        Where an in-memory ``dataset`` was loaded from (checked against the run's
        fingerprint, as a path given as ``dataset`` is).

    Returns
    -------
    DataArray, dims (trial, time, input), or None
        None only for a model fitted without inputs (``inputs = []``) and no dataset given.

    Raises
    ------
    DataValidationError
        The model has inputs but its dataset cannot be found (names ``--dataset``), or the
        dataset does not match the run.
    """
    names = list(fit.config.inputs)
    if dataset is None:
        dataset = recorded_dataset(fit)
        if dataset is None:
            if not names:
                return None
            raise DataValidationError(
                f"the run's dataset cannot be found from here (recorded: "
                f"{_recorded_path(fit) or 'nothing'}); it is needed for the inputs "
                f"{names}; fix: pass --dataset PATH (dataset= in analyze_run)"
            )
    if not isinstance(dataset, xr.Dataset):
        path, dataset = dataset, load_dataset(dataset)
    lat = fit.latents
    if "inputs" not in dataset:
        raise DataValidationError("dataset has no `inputs` variable; fix: pass the fitted dataset")
    run_trials, data_trials = lat["trial"].values, dataset["trial"].values
    missing = np.setdiff1d(run_trials, data_trials)
    if len(missing):
        raise DataValidationError(
            f"dataset trials do not match the run: trial ids {missing[:5].tolist()} "
            f"({len(missing)} of {len(run_trials)}) are missing; fix: pass --dataset with the "
            "file the run was fitted to"
        )
    have = [str(x) for x in dataset["input"].values]
    if any(n not in have for n in names):
        raise DataValidationError(
            f"dataset inputs {have} lack the run's input channels {names}; fix: pass --dataset "
            "with the file the run was fitted to"
        )
    t_run, t_data = lat["time"].values, dataset["time"].values
    idx = np.clip(np.searchsorted(t_data, t_run), 0, len(t_data) - 1)
    near = np.where(np.abs(t_data[idx - 1] - t_run) < np.abs(t_data[idx] - t_run), idx - 1, idx)
    tol = 0.25 * float(np.median(np.diff(t_data))) if len(t_data) > 1 else 1e-9
    if np.any(np.abs(t_data[near] - t_run) > tol):
        raise DataValidationError(
            f"dataset time bins ({t_data[0]:.3f}..{t_data[-1]:.3f} s, {len(t_data)} bins) do not "
            f"cover the run's ({t_run[0]:.3f}..{t_run[-1]:.3f} s); fix: pass the fitted dataset "
            "(same bin_size and alignment)"
        )
    if path is not None and getattr(fit, "run_dir", None) is not None:
        check_fitted_dataset(fit.run_dir, dataset, path)  # same shape, other recordings
    inputs = dataset["inputs"].sel(trial=run_trials, input=names).isel(time=near)
    inputs = inputs.assign_coords(time=t_run).transpose("trial", "time", "input")
    return inputs.where(lat["valid"], 0.0)


def _recorded_path(fit: Any) -> str:
    run_dir = getattr(fit, "run_dir", None)
    if run_dir is None or not (Path(run_dir) / "config.json").is_file():
        return ""
    return str(json.loads((Path(run_dir) / "config.json").read_text())["data"].get("path", ""))

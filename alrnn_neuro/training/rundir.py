"""The run directory: what a fit leaves on disk, and the rules for reusing a directory.

=================  ==========================================================================
file               content
=================  ==========================================================================
``config.json``    the fully resolved config, the data it needs (units, inputs, classes,
                   dataset fingerprint and path) and the package version; written first
``split.json``     trial ids of each split (``train``, ``val``, ``test``)
``checkpoint.pt``  full training state, rewritten after every epoch (resume point)
``model.pt``       ``{"state_dict", "config", "data", "alrnn_neuro_version"}`` of the final
                   (best-validation) model; ``torch.load(path, weights_only=True)`` reads it
``history.nc``     per-epoch curves, dim ``epoch``
``latents.nc``     ``latents`` (trial, time, latent), ``bitcode`` (trial, time; AL-RNN only),
                   ``prediction`` (trial, time, unit; ``output`` for task datasets) on all
                   trials, with the dataset's trial coords and ``epoch``
``metrics.json``   per-split metrics; written last, so its presence marks a finished run
=================  ==========================================================================

Every file is written atomically (temporary name, then rename).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro._json import dumps, to_jsonable
from alrnn_neuro.data import h5
from alrnn_neuro.errors import RunDirError

CONFIG, SPLIT, CHECKPOINT, MODEL = "config.json", "split.json", "checkpoint.pt", "model.pt"
HISTORY, LATENTS, METRICS = "history.nc", "latents.nc", "metrics.json"
RUN_FILES = (CONFIG, SPLIT, CHECKPOINT, MODEL, HISTORY, LATENTS, METRICS)
#: config keys that may change when resuming (they do not change what was learned so far)
RESUMABLE_KEYS = ("epochs", "patience", "lr", "grad_clip", "device", "threads")


def prepare_run_dir(
    path: str | os.PathLike, record: dict[str, Any], *, resume: bool, overwrite: bool
) -> str:
    """Decide what to do with ``path`` before a fit writes anything; raise if it is unsafe.

    Parameters
    ----------
    path : str or PathLike
        Run directory.
    record : dict
        The new run's ``config.json`` content (keys ``config`` and ``data``).
    resume : bool
        Continue the run in ``path`` from its checkpoint.
    overwrite : bool
        Replace a run already in ``path``.

    Returns
    -------
    str
        ``"new"`` (fresh run), ``"resume"`` (continue from the checkpoint, if any) or
        ``"finished"`` (``resume`` on a finished run with the same config: nothing to do).

    Raises
    ------
    RunDirError
        If ``path`` is a file or a non-run folder, holds another run without ``overwrite``,
        or ``resume`` finds no run or a run with other config keys (listed in the message).
    """
    run = Path(path)
    if run.exists() and not run.is_dir():
        raise RunDirError(f"--out {run} is a file; fix: give a directory path")
    contents = sorted(p.name for p in run.iterdir()) if run.is_dir() else []
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite exclude each other; fix: choose one")
    if not contents:
        if resume:
            raise RunDirError(f"--resume: {run} holds no run to resume; fix: drop --resume")
        return "new"
    if CONFIG not in contents:
        raise RunDirError(
            f"{run} is not a run directory (it holds {', '.join(contents[:5])}); fix: choose an "
            "empty or new --out directory"
        )
    old = read_json(run / CONFIG)
    changed = _differences(old, record)
    finished = (run / METRICS).is_file()
    if overwrite:
        return "new"
    if resume:
        fixed = {k: v for k, v in changed.items() if k not in RESUMABLE_KEYS}
        if fixed:
            raise RunDirError(
                f"cannot resume {run}: it was made with another config ({_describe(fixed)}); "
                "fix: use the same settings, another --out, or --overwrite"
            )
        return "finished" if finished and not changed else "resume"
    if changed:
        raise RunDirError(
            f"{run} already holds a different run ({_describe(changed)}); fix: choose another "
            "--out, or pass --overwrite to replace it"
        )
    if finished:
        raise RunDirError(
            f"{run} already holds this finished run; fix: load it with load_run(), choose "
            "another --out, or pass --overwrite to refit"
        )
    raise RunDirError(
        f"{run} holds an unfinished run of this config; fix: pass --resume to continue it, "
        "or --overwrite to start again"
    )


def clear_run_dir(path: str | os.PathLike) -> None:
    """Remove the run files (and only those) from ``path``; keep the folder."""
    run = Path(path)
    for name in RUN_FILES:
        target = run / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before = {**old.get("config", {}), "dataset": old.get("data", {}).get("fingerprint")}
    after = {**new.get("config", {}), "dataset": new.get("data", {}).get("fingerprint")}
    keys = sorted(set(before) | set(after))
    return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}


def _describe(changed: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in changed.items())


def recorded_dataset_path(run_dir: str | os.PathLike) -> Path | None:
    """The dataset file a run directory recorded, if it can be found from here.

    ``config.json`` records the path relative to the run directory (``path_from_run``) and
    as an absolute path (``path``); the first that exists wins.

    Returns
    -------
    Path or None
    """
    config = Path(run_dir) / CONFIG
    if not config.is_file():
        return None
    data = read_json(config).get("data", {})
    candidates = []
    if data.get("path_from_run"):
        candidates.append(Path(run_dir) / data["path_from_run"])
    if data.get("path"):
        candidates.append(Path(data["path"]))
    return next((c for c in candidates if c.is_file()), None)


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically (NaN/inf are written as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(value))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file of a run directory; a missing or broken file is a RunDirError."""
    file = Path(path)
    try:
        return json.loads(file.read_text())
    except FileNotFoundError as error:
        raise RunDirError(f"{file} is missing; fix: point to a complete run directory") from error
    except json.JSONDecodeError as error:
        raise RunDirError(f"{file} is not valid JSON ({error}); fix: refit the run") from error


def write_model(path: str | os.PathLike, model: Any, record: dict[str, Any]) -> None:
    """Save ``model.pt``: state_dict plus the config record, readable with weights_only."""
    import torch  # here, not at the top: reading a run's JSON / NetCDF files needs no torch

    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": to_jsonable(record["config"]),
        "data": to_jsonable(record["data"]),
        "alrnn_neuro_version": str(record["alrnn_neuro_version"]),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_model(path: str | os.PathLike) -> dict[str, Any]:
    """Load ``model.pt`` (weights only; no code is executed)."""
    import torch

    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"{file} is missing; fix: point to a finished run directory")
    return torch.load(file, map_location="cpu", weights_only=True)


def write_netcdf(path: str | os.PathLike, ds: xr.Dataset) -> None:
    """Write ``ds`` with h5netcdf, atomically (see :func:`alrnn_neuro.data.h5.write_netcdf`)."""
    h5.write_netcdf(ds, path)


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Load a ``.nc`` file of a run directory into memory; strings come back as ``str``."""
    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"{file} is missing; fix: point to a finished run directory")
    return h5.read_netcdf(file)


def history_dataset(history: dict[str, list[float]]) -> xr.Dataset:
    """Per-epoch curves as a Dataset with dim ``epoch`` (coordinate 1, 2, ...)."""
    n = len(next(iter(history.values()), []))
    data_vars = {k: ("epoch", np.asarray(v, dtype=float)) for k, v in history.items()}
    return xr.Dataset(data_vars, coords={"epoch": np.arange(1, n + 1)})

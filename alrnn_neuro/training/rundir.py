"""The run directory: what a fit leaves on disk, and the rules for reusing a directory.

=================  ==========================================================================
file               content
=================  ==========================================================================
``config.json``    the fully resolved config, the data it needs (units, inputs, classes,
                   dataset fingerprint and path) and the package version; written first
``split.json``     trial ids of each split (``train``, ``val``, ``test``), ``run_id``, a
                   ``description``, the ``split_seed``, ``fractions`` and ``conditions``
``checkpoint.pt``  full training state, rewritten after every epoch (resume point)
``model.pt``       ``{"state_dict", "config", "data", "alrnn_neuro_version", "run_id"}`` of
                   the final (best-validation) model; ``torch.load(path,
                   weights_only=True)`` reads it
``history.nc``     per-epoch curves, dim ``epoch``
``latents.nc``     ``latents`` (trial, time, latent), ``bitcode`` (trial, time; AL-RNN only),
                   ``prediction`` (trial, time, unit; ``output`` for task datasets) on all
                   trials, with the dataset's trial coords and ``epoch``
``metrics.json``   per-split metrics; written last, so its presence marks a finished run
=================  ==========================================================================

Every file is written atomically (temporary name, then rename), by one process at a time
(:func:`~alrnn_neuro.training.runlock.lock_run_dir`), and carries the run's id (``run_id``: a
JSON key, a ``.nc`` attribute, a ``.pt`` entry), so that :func:`check_run_ids` can refuse a
folder that mixes files of two runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro._json import dumps, to_jsonable
from alrnn_neuro.data import h5
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.fingerprint import relabelled

CONFIG, SPLIT, CHECKPOINT, MODEL = "config.json", "split.json", "checkpoint.pt", "model.pt"
HISTORY, LATENTS, METRICS = "history.nc", "latents.nc", "metrics.json"
#: a sweep's record and its own dataset file (the sweep layout, :mod:`alrnn_neuro.sweep.layout`)
SWEEP_RECORD, SWEPT_DATASET = "sweep.json", "dataset.h5"
RUN_FILES = (CONFIG, SPLIT, CHECKPOINT, MODEL, HISTORY, LATENTS, METRICS)
#: key / attribute naming the run a file belongs to
RUN_ID = "run_id"
#: what ``torch.load(weights_only=True)`` raises on truncated, corrupt or malicious files
#: (and ``OSError`` "Invalid argument" for most truncated zip archives, caught beside these)
TORCH_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    ValueError,
    zipfile.BadZipFile,
    KeyError,
    AttributeError,
    TypeError,
    IndexError,
)
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
    saved = old.get("config", {})
    if saved:  # fields added after the run was made held their defaults then
        saved = {**{k: v for k, v in FitConfig().to_dict().items() if k not in saved}, **saved}
    before = {**saved, "dataset": old.get("data", {}).get("fingerprint")}
    after = {**new.get("config", {}), "dataset": new.get("data", {}).get("fingerprint")}
    keys = sorted(set(before) | set(after))
    changed = {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}
    labels = [record.get("data", {}).get("label_fingerprints") for record in (old, new)]
    if other := relabelled(*labels):  # added labels are fine; changed values are another dataset
        changed["trial labels"] = ("as fitted", f"other values of {other}")
    return changed


def _describe(changed: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in changed.items())


def recorded_dataset_path(run_dir: str | os.PathLike) -> Path | None:
    """The dataset file a run directory recorded, if it can be found from here.

    ``config.json`` records the path relative to the run directory (``path_from_run``) and
    as an absolute path (``path``); the first that exists wins. A sweep cell (fitted in
    memory, ``SWEEP/cells/NAME``) records neither: its sweep's ``sweep.json`` path, or the
    sweep's own ``dataset.h5`` (generated task data), stands in.

    Returns
    -------
    Path or None
    """
    run = Path(run_dir)
    config = run / CONFIG
    if not config.is_file():
        return None
    data = read_json(config).get("data", {})
    candidates = []
    if data.get("path_from_run"):
        candidates.append(run / data["path_from_run"])
    if data.get("path"):
        candidates.append(Path(data["path"]))
    sweep = run.resolve().parent.parent
    if not candidates and run.resolve().parent.name == "cells" and (sweep / SWEEP_RECORD).is_file():
        candidates = swept_dataset_candidates(sweep, read_json(sweep / SWEEP_RECORD))
    return next((c for c in candidates if c.is_file()), None)


def swept_dataset_candidates(root: Path, record: dict) -> list[Path]:
    """Where the dataset of the sweep in ``root`` may lie, in order: the path its
    ``sweep.json`` (``record``) recorded, then the sweep's own ``dataset.h5`` (generated task
    data). Here, below the sweeps, so that a sweep's cells find it too."""
    recorded = record.get("data", {}).get("path")
    return ([Path(recorded)] if recorded else []) + [root / SWEPT_DATASET]


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically (NaN/inf are written as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(value))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file of a run directory; a missing or broken file is a RunDirError."""
    file = Path(path)
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RunDirError(f"{file} is missing; fix: point to a complete run directory") from error
    except IsADirectoryError as error:
        raise RunDirError(f"{file} is a folder, not a JSON file; fix: remove it") from error
    except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, absurd nesting
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:80]
        raise RunDirError(f"{file} is not valid JSON ({reason}); fix: refit the run") from error
    if not isinstance(value, dict):
        raise RunDirError(
            f"{file} holds a JSON {type(value).__name__}, not an object; fix: refit the run"
        )
    return value


def write_model(path: str | os.PathLike, model: Any, record: dict[str, Any]) -> None:
    """Save ``model.pt``: state_dict plus the config record, readable with weights_only."""
    import torch  # here, not at the top: reading a run's JSON / NetCDF files needs no torch

    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": to_jsonable(record["config"]),
        "data": to_jsonable(record["data"]),
        "alrnn_neuro_version": str(record["alrnn_neuro_version"]),
        RUN_ID: str(record.get(RUN_ID, "")),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_model(path: str | os.PathLike) -> dict[str, Any]:
    """Load ``model.pt`` (weights only; no code is executed).

    Raises
    ------
    RunDirError
        If the file is missing, truncated, or not a weights-only model file.
    """
    file = require_file(path)
    payload = load_torch_file(file)
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise RunDirError(f"{file} is not a model file of alrnn-neuro; fix: refit the run")
    return payload


def load_torch_file(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)``; a corrupt or unsafe file is a RunDirError."""
    import torch  # here, not at the top: reading a run's JSON / NetCDF files needs no torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (*TORCH_LOAD_ERRORS, OSError) as error:
        if isinstance(error, PermissionError | FileNotFoundError | IsADirectoryError):
            raise  # the path, not the content (the CLI names it)
        if isinstance(error, pickle.UnpicklingError):  # torch's text is about its own defaults
            reason = "it holds objects other than tensors and plain data, so it was not loaded"
        else:
            reason = " ".join(str(error).split())[:120] or type(error).__name__
        raise RunDirError(
            f"{path} is truncated, corrupt or not a weights-only torch file ({reason}); fix: "
            "refit the run (alrnn-neuro never loads code from .pt files)"
        ) from error


def write_netcdf(path: str | os.PathLike, ds: xr.Dataset, run_id: str | None = None) -> None:
    """Write ``ds`` with h5netcdf, atomically (see :func:`alrnn_neuro.data.h5.write_netcdf`);
    ``run_id`` is stored as the attribute ``run_id``."""
    if run_id is not None:
        ds = ds.copy()
        ds.attrs[RUN_ID] = run_id
    h5.write_netcdf(ds, path)


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Load a ``.nc`` file of a run directory into memory; strings come back as ``str``."""
    return h5.read_netcdf(require_file(path))


def require_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path; :class:`RunDirError` if no such file (a run directory's file)."""
    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"{file} is missing; fix: point to a finished run directory")
    return file


def read_run_output(path: str | os.PathLike, run_id: str | None) -> xr.Dataset:
    """:func:`read_netcdf` of a run's output that must still belong to run ``run_id`` (a run
    loaded earlier may have been refitted in place since; None: written before run ids)."""
    ds = read_netcdf(path)
    found = ds.attrs.get(RUN_ID)
    if run_id is not None and found != run_id:
        raise RunDirError(
            f"{path} now belongs to run {str(found)[:8]}, not to the loaded run {run_id[:8]} "
            "(refitted in place since it was loaded); fix: load the run again"
        )
    return ds


def history_dataset(history: dict[str, list[float]]) -> xr.Dataset:
    """Per-epoch curves as a Dataset with dim ``epoch`` (coordinate 1, 2, ...)."""
    n = len(next(iter(history.values()), []))
    data_vars = {k: ("epoch", np.asarray(v, dtype=float)) for k, v in history.items()}
    return xr.Dataset(data_vars, coords={"epoch": np.arange(1, n + 1)})


def new_run_id() -> str:
    """A fresh random run id (32 hex digits)."""
    return uuid.uuid4().hex


#: the trial-id lists of ``split.json`` (its other keys describe them)
SPLIT_NAMES = ("train", "val", "test")
SPLIT_DESCRIPTION = (
    "Trial ids (the dataset's trial coord) of each split of this fit: train = fitted, "
    "val = early stopping and model choice, test = held out for metrics.json. Drawn by "
    "alrnn_neuro.data.split.split_trials with split_seed, stratified by the conditions, in the "
    "fractions given (train, val[, test]); in a sweep cell the sweep's test trials are held "
    "out before (sweep.json), so only train and val appear here."
)


def write_split(
    path: str | os.PathLike,
    split: dict[str, np.ndarray],
    run_id: str,
    *,
    split_seed: int | None = None,
    fractions: tuple[float, ...] | None = None,
    conditions: tuple[str, ...] | None = None,
) -> None:
    """Write ``split.json``: a ``description``, the split's seed, fractions and conditions,
    the run id and the trial ids of each split (``train``, ``val``, ``test``)."""
    record: dict[str, Any] = {"description": SPLIT_DESCRIPTION, RUN_ID: run_id}
    if split_seed is not None:
        record["split_seed"] = int(split_seed)
    if fractions is not None:
        names = SPLIT_NAMES[: len(fractions)]
        record["fractions"] = dict(zip(names, map(float, fractions), strict=True))
    if conditions is not None:
        record["conditions"] = list(conditions)
    record.update({k: np.asarray(v).tolist() for k, v in split.items()})
    write_json(path, record)


def read_split(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Trial ids per split from ``split.json`` (the describing keys are skipped)."""
    record = read_json(path)
    return {
        k: np.asarray(v)
        for k, v in record.items()
        if isinstance(v, list) and k not in ("conditions",)
    }


def run_ids(path: str | os.PathLike) -> dict[str, str | None]:
    """The run id each run file in ``path`` records (None: the file records none)."""
    run = Path(path)
    ids: dict[str, str | None] = {}
    for name in RUN_FILES:
        file = run / name
        if not file.is_file():
            continue
        if name.endswith(".json"):
            value = read_json(file).get(RUN_ID)
        elif name.endswith(".pt"):
            payload = load_torch_file(file)
            extra = payload.get("extra", {}) if isinstance(payload, dict) else {}
            value = payload.get(RUN_ID) or (extra.get(RUN_ID) if isinstance(extra, dict) else None)
        else:
            value = h5.read_attribute(file, RUN_ID)
        ids[name] = str(value) if value else None
    return ids


def check_run_ids(path: str | os.PathLike) -> str | None:
    """Refuse a run directory whose files belong to different runs; return its run id.

    Runs written before run ids existed (no file records one) pass, with None returned.

    Raises
    ------
    RunDirError
        If two files record different run ids, or some record one and others none.
    """
    ids = run_ids(path)
    distinct = set(ids.values())
    if distinct <= {None}:
        return None
    if len(distinct) == 1:
        return distinct.pop()
    groups: dict[str | None, list[str]] = {}
    for name, value in ids.items():
        groups.setdefault(value, []).append(name)
    described = "; ".join(
        f"{', '.join(names)} of run {value[:8] if value else '(none recorded)'}"
        for value, names in groups.items()
    )
    raise RunDirError(
        f"{path} mixes files of different runs ({described}); fix: refit into a new --out, "
        "or pass --overwrite to replace the run"
    )


#: the key under which analyses record the model they describe (:func:`model_digest`)
MODEL_DIGEST = "model_digest"


def model_digest(path: str | os.PathLike | None) -> str | None:
    """A digest of a run's ``model.pt`` (first 16 hex digits of its SHA-256), or None.

    Outputs derived from a model (``analyze``, ``rsa``) record it, so that a report can tell
    them from outputs of a model that was refitted or resumed since (same folder, same run
    id, other parameters).
    """
    file = None if path is None else Path(path) / MODEL
    if file is None or not file.is_file():
        return None
    return hashlib.sha256(file.read_bytes()).hexdigest()[:16]

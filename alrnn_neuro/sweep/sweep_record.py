"""``sweep.json``: written when a sweep starts, checked when it resumes.

It records the grid, the base config, the dataset (fingerprint, trial count, task name, file
path) and the held-out trials (the split seed and ``test_trials`` or ``fold_test_trials``), so
a resumed sweep can refuse other data, other fit settings or other held-out trials.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.sweep.folds import held_out_sets
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.layout import DATASET_FILE, SWEEP_FILE
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.fingerprint import (
    changed_labels,
    dataset_fingerprint,
    label_fingerprints,
)
from alrnn_neuro.training.resolve import resolve_config

logger = logging.getLogger(__name__)


def prepare_sweep_dir(
    root: Path,
    ds: xr.Dataset,
    grid: SweepGrid,
    base: FitConfig,
    resume: bool,
    split_seed: int,
    path: str | None = None,
) -> list[np.ndarray]:
    """Check or write ``sweep.json``; return the held-out trial ids of each fold.

    ``path`` (the dataset file, if the sweep was given one) is recorded so that
    ``alrnn-neuro analyze SWEEP_DIR`` finds the inputs.
    """

    resolved = resolve_config(base, ds)
    fingerprint = dataset_fingerprint(ds)
    stratify = list(resolved.conditions) or None
    held_out = held_out_sets(ds, grid.folds, base.split, stratify=stratify, seed=split_seed)
    n_pool = min(ds.sizes["trial"] - ids.size for ids in held_out)
    if min(round(f * n_pool) for f in grid.train_fractions) < 2:
        raise ConfigError(
            f"train_fractions={list(grid.train_fractions)} leave fewer than 2 of the "
            f"{n_pool} trials that are not held out; fix: use larger fractions or more trials"
        )
    split = {"folds": grid.folds, "split_seed": int(split_seed)}
    data = {
        "fingerprint": fingerprint,
        "label_fingerprints": label_fingerprints(ds),
        "n_trials": int(ds.sizes["trial"]),
        "task": str(ds.attrs.get("task", "")),
        "path": path or "",
    }
    record = {"grid": grid.to_dict(), "base_config": base.to_dict(), "data": data, "split": split}
    if grid.folds == 1:
        record["test_trials"] = held_out[0].tolist()
    else:
        record["fold_test_trials"] = [ids.tolist() for ids in held_out]
    path = root / SWEEP_FILE
    if path.is_file():
        old = rd.read_json(path)
        if not resume:
            raise RunDirError(
                f"{root} already holds a sweep; fix: resume it (drop --no-resume / resume=True) "
                "or choose another --out"
            )
        changed = FitConfig.from_dict(old["base_config"]).diff(base)
        relabelled = changed_labels(old["data"].get("label_fingerprints"), ds)
        if changed or old["data"]["fingerprint"] != fingerprint or relabelled:
            what = ", ".join(f"{_NAMES.get(k, k)}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
            if not what and relabelled:
                what = f"a dataset whose labels {relabelled} had other values"
            raise RunDirError(
                f"{root} holds a sweep of {what or 'another dataset'}; fix: use the same "
                "dataset and fit settings, or another --out"
            )
        old_split = old.get("split", {"folds": 1, "split_seed": old["base_config"]["seed"]})
        if old_split != split:
            raise RunDirError(
                f"{root} holds a sweep with held-out trials {old_split}, not {split}; fix: "
                "resume with the same --folds and --split-seed, or choose another --out"
            )
        if old["grid"] != grid.to_dict():
            logger.info("resuming %s with a new grid; finished cells are kept", root)
    elif root.is_dir() and any(p.name not in ("staging", DATASET_FILE) for p in root.iterdir()):
        raise RunDirError(f"{root} is not empty and holds no sweep; fix: choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "staging", ignore_errors=True)  # leftovers of killed runs
    rd.write_json(path, record)
    return held_out


#: base-config keys whose sweep flag has another name (the message names the flag to change)
_NAMES = {"seed": "seed (batch order, --data-seed)"}

"""Replication across model seeds: the fits of one configuration, from run dirs or a sweep.

:func:`~alrnn_neuro.analysis.replication.replication_table` analyses several fits of one
configuration and counts in how many each finding holds. This module finds those fits:

* :func:`replicate_runs` -- run directories written by ``alrnn-neuro fit`` that differ only
  in the model seed (checked: settings, data and split must agree);
* :func:`replicate_sweep` -- a sweep folder: one group per (M, P, train fraction, fold) of
  its AL-RNN cells, each group's fits being the model seeds.

Both return a :class:`ReplicationReport`, written by
:func:`~alrnn_neuro.sweep.replication_files.write_replication`.

Notebook use::

    from alrnn_neuro.sweep.replication import replicate_runs, replicate_sweep
    report = replicate_runs(["runs/s0", "runs/s1", "runs/s2"])
    report.groups[0].summary["slow_hold"]  # {"n_fits": 3, "n_holds": 2, "rate": 0.67, ...}
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from alrnn_neuro.analysis.files import check_fitted_dataset
from alrnn_neuro.analysis.primitives.gating import MIN_READOUT_RATIO, MIN_TARGET_TRIALS
from alrnn_neuro.analysis.replication import (
    FINDINGS,
    HOLD_AUC,
    HOLD_MODULUS,
    replication_table,
)
from alrnn_neuro.analysis.untrained_reference import AMI_MARGIN
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError, RunDirError
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.layout import SWEEP_FILE, require_complete
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.fingerprint import changed_labels, dataset_fingerprint

__all__ = [
    "EXECUTION_KEYS",
    "ReplicationGroup",
    "ReplicationReport",
    "criteria",
    "epoch_null_too_small",
    "replicate_runs",
    "replicate_sweep",
    "same_configuration",
]

#: config keys that say how a fit was run, not what was fitted (ignored when comparing runs)
EXECUTION_KEYS = ("seed", "threads", "device")
#: keys of a group (a configuration); ``fold`` is None outside K-fold sweeps
GROUP_KEYS = ("latent_dim", "pwl_units", "train_fraction", "fold")


def criteria(alpha: float) -> dict[str, str]:
    """When each finding holds in one fit (the words written beside every rate)."""
    return {
        "epoch_regions": (
            f"region/epoch AMI beyond its circular-shift null (p < {alpha:g}) and >= "
            f"{AMI_MARGIN:g} "
            "above the AMI of the network the fit started from (same seed and inputs)"
        ),
        "integration": (
            "a used region has a slow, non-expanding mode (|lambda - 1| <= 0.05, "
            "lambda <= 1.01) aligned with an evidence input (detect_integration)"
        ),
        "gating": (
            "an input onset flips the region and changes an input's gain on the integrating "
            "direction >= 2x and its readout response (what the recordings see) >= "
            f"{MIN_READOUT_RATIO:g}x (detect_gating, Holm-corrected p_flip < 0.05); testable "
            f"where that input arrives in both regions in >= {MIN_TARGET_TRIALS} trials"
        ),
        "rule_routing": (
            "each rule's stimulus-epoch region is distinct and routes that rule's relevant "
            "sound to the choice (rule_routing pair_found)"
        ),
        "slow_hold": (
            f"the hold epoch's dominant region has a mode with |lambda| >= {HOLD_MODULUS:g} "
            f"along which the rule reads out with AUC >= {HOLD_AUC:g} (hold_mode)"
        ),
    }


@dataclass
class ReplicationGroup:
    """The fits of one configuration and what replicated across them.

    Attributes
    ----------
    key : dict
        ``latent_dim``, ``pwl_units``, ``train_fraction`` (None for run dirs), ``fold``
        (None outside K-fold sweeps).
    runs : list of str
        The run directories (one per model seed).
    seeds : list of int
        Their model seeds.
    table : xr.Dataset
        dims (fit, finding): ``found``, ``testable``, ``effect``, ``region``;
        ``integration_same_region`` (fit). See
        :func:`~alrnn_neuro.analysis.replication.replication_table`.
    summary : dict
        Per finding: ``n_fits``, ``n_testable``, ``n_holds``, ``rate`` (holds / testable,
        None if never testable); integration adds ``same_region_rate`` (None when no fit
        integrates) and ``region``.
    """

    key: dict[str, Any]
    runs: list[str]
    seeds: list[int]
    table: xr.Dataset = field(repr=False)
    summary: dict[str, Any]


@dataclass
class ReplicationReport:
    """Replication over one or more configurations.

    Attributes
    ----------
    kind : {"runs", "sweep"}
        What was given.
    source : list of str
        The run directories, or the sweep folder.
    groups : list of ReplicationGroup
        One per configuration (one for run dirs).
    parameters : dict
        ``alpha``, ``n_null``, ``seed``, ``evidence_inputs``, ``dataset``, ``notes`` (what
        could not be tested with these settings).
    """

    kind: str
    source: list[str]
    groups: list[ReplicationGroup]
    parameters: dict[str, Any]

    @property
    def criteria(self) -> dict[str, str]:
        """When each finding holds in one fit."""
        return criteria(self.parameters["alpha"])


def replicate_runs(
    runs: Sequence[str | os.PathLike],
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    alpha: float = 0.01,
    n_null: int = 100,
    seed: int = 0,
    evidence_inputs: Sequence[str] | None = None,
) -> ReplicationReport:
    """Replication across run directories of one configuration (different model seeds).

    Parameters
    ----------
    runs : sequence of str or PathLike
        Two or more run directories written by ``fit``.
    dataset : str, PathLike or xr.Dataset, optional
        The fitted dataset (default: the one each run recorded).
    alpha, n_null, seed, evidence_inputs
        As in :func:`~alrnn_neuro.analysis.replication.replication_table`.

    Returns
    -------
    ReplicationReport
        One group.

    Raises
    ------
    RunDirError
        Fewer than two runs, a path given twice, a folder that is not a finished run.
    ConfigError
        Runs that differ in anything but the model seed (settings, data or split), or two
        runs with the same seed.
    """
    if isinstance(runs, str | os.PathLike):
        raise RunDirError(
            f"runs={str(runs)!r} is one path; replication needs a list of >= 2 run "
            "directories; fix: replicate_runs([run_a, run_b, ...]) (or sorted(Path(folder)."
            "glob('seed*')))"
        )
    paths = [Path(r) for r in runs]
    if len(paths) < 2:
        raise RunDirError(
            f"replication needs >= 2 run directories, got {len(paths)}; fix: fit the same "
            "config with several --seed values and give all their run directories"
        )
    resolved = [p.resolve() for p in paths]
    twice = [str(p) for i, p in enumerate(paths) if resolved[i] in resolved[:i]]
    if twice:
        raise RunDirError(
            f"run directory {twice[0]} is given twice; fix: give each run directory once"
        )
    records = [_run_record(p) for p in paths]
    seeds = same_configuration(paths, records)
    config = records[0]["config"]
    key = {
        "latent_dim": config["latent_dim"],
        "pwl_units": config["pwl_units"],
        "train_fraction": None,
        "fold": None,
    }
    data = dataset if dataset is None or isinstance(dataset, xr.Dataset) else load_dataset(dataset)
    if data is not None:  # as for one run: other recordings of the same shape are refused
        label = "dataset=" if isinstance(dataset, xr.Dataset) else dataset
        fingerprint = dataset_fingerprint(data)
        for path in paths:
            check_fitted_dataset(path, data, label, fingerprint)
    options = {"alpha": alpha, "n_null": n_null, "seed": seed, "evidence_inputs": evidence_inputs}
    group = _group(key, paths, seeds, data, options)
    parameters = {
        **options,
        "evidence_inputs": _evidence_label(evidence_inputs),
        "dataset": _dataset_label(dataset),
        "notes": _notes(options),
    }
    return ReplicationReport("runs", [str(p) for p in paths], [group], parameters)


def same_configuration(paths: Sequence[Path], records: Sequence[dict]) -> list[int]:
    """Check that run records differ only in the model seed; return the seeds.

    Raises
    ------
    ConfigError
        Naming the first run that differs from the first one, the keys and both values.
    """
    first, reference = paths[0], records[0]
    for path, record in zip(paths[1:], records[1:], strict=True):
        changed = _differences(reference, record)
        if changed:
            shown = "; ".join(f"{k} = {a!r} vs {b!r}" for k, (a, b) in list(changed.items())[:3])
            more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
            raise ConfigError(
                f"run {path} is not the configuration of {first}: {shown}{more}; fix: give "
                "runs that differ only in --seed (same dataset, settings and split)"
            )
    seeds = [int(r["config"]["seed"]) for r in records]
    for i, s in enumerate(seeds):
        if s in seeds[:i]:
            raise ConfigError(
                f"runs {paths[seeds.index(s)]} and {paths[i]} have the same seed {s}: one fit "
                "would count twice; fix: give runs with different --seed values"
            )
    return seeds


def _differences(a: dict, b: dict) -> dict[str, tuple[Any, Any]]:
    out = {
        k: (a["config"].get(k), b["config"].get(k))
        for k in sorted(set(a["config"]) | set(b["config"]))
        if k not in EXECUTION_KEYS and a["config"].get(k) != b["config"].get(k)
    }
    fa, fb = a.get("data", {}).get("fingerprint"), b.get("data", {}).get("fingerprint")
    if fa != fb:
        out["dataset fingerprint"] = (fa, fb)
    return out


def _run_record(path: Path) -> dict:
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory; fix: give run directories of `fit`")
    if (path / SWEEP_FILE).is_file():
        raise RunDirError(
            f"{path} is a sweep folder; fix: give it alone (`alrnn-neuro analyze {path}`), "
            "or give several run directories"
        )
    if not (path / rd.CONFIG).is_file():
        raise RunDirError(
            f"{path} holds no {rd.CONFIG}: it is neither a run directory nor a sweep folder; "
            "fix: give run directories written by `alrnn-neuro fit`"
        )
    record = rd.read_json(path / rd.CONFIG)
    if not isinstance(record.get("config"), dict):
        raise RunDirError(f"{path / rd.CONFIG} has no 'config' block; fix: refit the run")
    return record


def replicate_sweep(
    sweep_dir: str | os.PathLike,
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    alpha: float = 0.01,
    n_null: int = 100,
    seed: int = 0,
    evidence_inputs: Sequence[str] | None = None,
) -> ReplicationReport:
    """Replication across the model seeds of every configuration of a sweep.

    A configuration is one (M, P, train fraction, fold) of the AL-RNN cells; its fits are
    the grid's model seeds (same data, split and settings by construction).

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by ``alrnn-neuro sweep`` with >= 2 model seeds.
    dataset : str, PathLike or xr.Dataset, optional
        The swept dataset (default: the path recorded in ``sweep.json``, else the sweep's
        ``dataset.h5``); checked against the sweep's fingerprint.
    alpha, n_null, seed, evidence_inputs
        As in :func:`~alrnn_neuro.analysis.replication.replication_table`.

    Returns
    -------
    ReplicationReport
        One group per configuration, in grid order (M, train fraction, fold, P).

    Raises
    ------
    RunDirError
        No sweep, no AL-RNN cells, one model seed, unfinished cells, dataset not found.
    DataValidationError
        A dataset that is not the swept one.
    """
    root = Path(sweep_dir)
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(
            f"{root} holds no {SWEEP_FILE}; fix: give a folder written by `alrnn-neuro sweep`"
        )
    record = rd.read_json(root / SWEEP_FILE)
    grid = SweepGrid.from_dict(record["grid"])
    if "alrnn" not in grid.models:
        raise RunDirError(f"sweep {root} has no AL-RNN cells; fix: sweep with --model alrnn")
    if len(grid.seeds) < 2:
        raise RunDirError(
            f"sweep {root} has one model seed ({grid.seeds[0]}): nothing to replicate; fix: "
            f"run the same sweep command with --seeds 3 --out {root} (finished cells are kept)"
        )
    cells = [c for c in grid.cells() if c.model == "alrnn"]
    require_complete(root, [c.name for c in cells])
    data = _sweep_dataset(root, record, dataset)
    options = {"alpha": alpha, "n_null": n_null, "seed": seed, "evidence_inputs": evidence_inputs}
    groups: dict[tuple, list] = {}
    for cell in cells:
        key = (cell.latent_dim, cell.pwl_units, cell.train_fraction, cell.fold)
        groups.setdefault(key, []).append(cell)
    out = []
    for key, members in groups.items():
        paths = [root / "cells" / c.name for c in members]
        seeds = [c.seed for c in members]
        out.append(_group(dict(zip(GROUP_KEYS, key, strict=True)), paths, seeds, data, options))
    parameters = {
        **options,
        "evidence_inputs": _evidence_label(evidence_inputs),
        "dataset": _dataset_label(dataset) or record["data"].get("path"),
        "notes": _notes(options),
    }
    return ReplicationReport("sweep", [str(root)], out, parameters)


def _sweep_dataset(root: Path, record: dict, dataset) -> xr.Dataset:
    """The swept dataset: given, recorded in sweep.json, or the sweep's own dataset.h5."""
    if isinstance(dataset, xr.Dataset):
        data, where = dataset, "the dataset given"
    else:
        path = _sweep_dataset_path(root, record, dataset)
        data, where = load_dataset(path), str(path)
    expected = record["data"].get("fingerprint")
    other = bool(expected) and dataset_fingerprint(data) != expected
    relabelled = [] if other else changed_labels(record["data"].get("label_fingerprints"), data)
    if other or relabelled:
        what = "its fingerprint differs" if other else f"its labels {relabelled} differ"
        raise DataValidationError(
            f"{where} is not the dataset of sweep {root} ({what}); fix: pass --dataset with "
            "the swept file"
        )
    return data


def _sweep_dataset_path(root: Path, record: dict, dataset) -> Path:
    if dataset is not None:
        return Path(dataset)
    recorded = record["data"].get("path")
    for candidate in rd.swept_dataset_candidates(root, record):
        if candidate.is_file():
            return candidate
    raise RunDirError(
        f"the dataset of sweep {root} is not found (recorded: {recorded or 'nothing'}); it is "
        "needed for the inputs; fix: pass --dataset PATH (the swept file)"
    )


def _evidence_label(evidence_inputs: Sequence[str] | None) -> list[str] | str:
    """The evidence channels as given, or what the default picks (for the record)."""
    if evidence_inputs is not None:
        return list(evidence_inputs)
    return "default: the stimulus-selection sounds when present, else every channel"


def epoch_null_too_small(n_null: int, alpha: float) -> bool:
    """Whether ``n_null`` draws are too few for a circular-shift p-value below ``alpha``
    (the smallest p of ``n_null`` draws is ``1 / (n_null + 1)``)."""
    return 1.0 / (n_null + 1) >= alpha


def _group(key: dict, paths: list[Path], seeds: list[int], data, options: dict):
    table, summary = replication_table([str(p) for p in paths], data, **options)
    if epoch_null_too_small(options["n_null"], options["alpha"]):
        # no p-value of so few draws can fall below alpha: "not shown" is not "does not hold"
        where = {"finding": "epoch_regions"}
        table["testable"].loc[where] = False
        table["found"].loc[where] = False
        summary["epoch_regions"].update(n_testable=0, n_found=0, rate=None)
    findings = {}
    for name in FINDINGS:
        s = summary[name]
        findings[name] = {
            "n_fits": s["n_fits"],
            "n_testable": s["n_testable"],
            "n_holds": s["n_found"],
            "rate": s["rate"],
        }
        if "same_region_rate" in s:
            findings[name]["same_region_rate"] = s["same_region_rate"]
            findings[name]["region"] = s["region"]
    return ReplicationGroup(key, [str(p) for p in paths], seeds, table, findings)


def _notes(options: dict) -> list[str]:
    n_null, alpha = options["n_null"], options["alpha"]
    if not epoch_null_too_small(n_null, alpha):
        return []
    return [
        f"epoch_regions not tested: with n_null={n_null} the smallest p-value is "
        f"1/{n_null + 1} >= alpha = {alpha:g}; use n_null >= {math.ceil(1 / alpha)}"
    ]


def _dataset_label(dataset) -> str | None:
    if dataset is None:
        return None
    if isinstance(dataset, xr.Dataset):
        return "in memory"
    return str(dataset)

"""Find the report's inputs in a folder: a reproduce dir, a sweep, a run, an analysis or RSA.

The layout of a reproduce output directory (``reproduce.json``, ``sweep/``, ``model/``,
``analysis/``, ``rsa/``, ``tasks/<task>/sweep/``, ``multitask/``) is the contract between
``alrnn-neuro reproduce`` and ``alrnn-neuro report``. Each input is also accepted when the
folder *is* that part (a plain sweep folder, a run dir, an analysis or RSA output folder), and
analyses written beside a run (``model/analysis``, ``model/rsa``) are found too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training.rundir import MODEL_DIGEST, check_run_ids, model_digest

logger = logging.getLogger(__name__)

#: what :func:`discover` looks for, relative to the folder (for messages and notes)
LOOKED_FOR = {
    "claims": "reproduce.json",
    "sweep": "sweep/results.nc (or sweep/sweep.json with cells), results.nc",
    "tasks": "tasks/<task>/sweep/results.nc",
    "multitask": "multitask/multitask.nc, multitask.nc",
    "cost": "cost/cost.nc",
    "baselines": "baselines/baselines.nc",
    "regimes": "analysis/alignment.json or regimes.nc (also model/analysis/)",
    "primitives": "analysis/primitives.json (also model/analysis/)",
    "rsa": "rsa/rsa.json or rsa/rsa.nc (also model/rsa/)",
    "run": "model/config.json + metrics.json, config.json + metrics.json",
}


@dataclass
class Inputs:
    """Paths of the report's inputs (None / empty where absent).

    Attributes
    ----------
    root : Path
        The folder given.
    reproduce : Path or None
        ``reproduce.json``.
    sweep : Path or None
        A sweep folder (holds ``results.nc`` or ``sweep.json``).
    tasks : dict of str to Path
        Task name -> its sweep folder.
    multitask : Path or None
        ``multitask.nc``.
    cost : Path or None
        ``cost/cost.nc`` (cost vs P of ``reproduce tasks``).
    baselines : Path or None
        ``baselines/baselines.nc`` (the low-data comparison of ``reproduce tasks``).
    analysis : Path or None
        Folder of ``alrnn-neuro analyze`` output.
    rsa : Path or None
        Folder of ``alrnn-neuro rsa`` output.
    stale : dict of str to str
        ``"analysis"`` / ``"rsa"`` -> why that output was left out: it records another model
        than the run's ``model.pt`` (refitted or resumed since it was made).
    run : Path or None
        A run directory (``config.json`` + ``metrics.json``).
    """

    root: Path
    reproduce: Path | None = None
    sweep: Path | None = None
    tasks: dict[str, Path] = field(default_factory=dict)
    multitask: Path | None = None
    cost: Path | None = None
    baselines: Path | None = None
    analysis: Path | None = None
    rsa: Path | None = None
    stale: dict[str, str] = field(default_factory=dict)
    run: Path | None = None

    def found(self) -> list[str]:
        """Names of the inputs present."""
        names = (
            "reproduce",
            "sweep",
            "tasks",
            "multitask",
            "cost",
            "baselines",
            "analysis",
            "rsa",
            "run",
        )
        return [n for n in names if getattr(self, n)]


def _is_sweep(path: Path) -> bool:
    return (path / "results.nc").is_file() or (
        (path / "sweep.json").is_file() and (path / "cells").is_dir()
    )


def _is_analysis(path: Path) -> bool:
    if (path / "alignment.json").is_file() or (path / "primitives.json").is_file():
        return True
    return (path / "regimes.nc").is_file()


def _is_rsa(path: Path) -> bool:
    return (path / "rsa.json").is_file() or (path / "rsa.nc").is_file()


def _is_run(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "metrics.json").is_file()


def _first(candidates: list[Path], test) -> Path | None:
    return next((c for c in candidates if c.is_dir() and test(c)), None)


def discover(directory: str | Path) -> Inputs:
    """Locate every known input under ``directory``.

    Parameters
    ----------
    directory : str or Path
        A reproduce output folder, a sweep folder, a run dir, or an analysis / RSA folder.

    Returns
    -------
    Inputs

    Raises
    ------
    RunDirError
        If ``directory`` is not a folder, or holds none of the known inputs (the message lists
        what was looked for), or its run directory mixes files of different runs.
    """
    root = Path(directory)
    if not root.is_dir():
        raise RunDirError(
            f"DIR = {str(root)!r} is not a directory; fix: pass the output folder of "
            "`alrnn-neuro reproduce`, `sweep`, `fit`, `analyze` or `rsa`"
        )
    found = Inputs(root=root)
    if (root / "reproduce.json").is_file():
        found.reproduce = root / "reproduce.json"
    found.sweep = _first([root / "sweep", root], _is_sweep)
    tasks = root / "tasks"
    if tasks.is_dir():
        for task in sorted(p for p in tasks.iterdir() if p.is_dir()):
            sweep = _first([task / "sweep", task], _is_sweep)
            if sweep is not None:
                found.tasks[task.name] = sweep
    for candidate in (root / "multitask" / "multitask.nc", root / "multitask.nc"):
        if candidate.is_file():
            found.multitask = candidate
            break
    if (root / "cost" / "cost.nc").is_file():
        found.cost = root / "cost" / "cost.nc"
    if (root / "baselines" / "baselines.nc").is_file():
        found.baselines = root / "baselines" / "baselines.nc"
    model = root / "model"
    found.analysis = _first([root / "analysis", model / "analysis", root], _is_analysis)
    found.rsa = _first([root / "rsa", model / "rsa", root], _is_rsa)
    found.run = _first([model, root], _is_run)
    if found.run is not None:
        check_run_ids(found.run)  # a folder mixing two runs' files is refused, not reported
        _leave_out_stale(found)
    if not found.found():
        looked = "; ".join(LOOKED_FOR.values())
        raise RunDirError(
            f"DIR = {str(root)!r} holds none of the report's inputs (looked for {looked}); "
            "fix: pass the output folder of `alrnn-neuro reproduce` (or of sweep, fit, analyze "
            "or rsa)"
        )
    logger.info("report inputs in %s: %s", root, ", ".join(found.found()))
    return found


def _leave_out_stale(found: Inputs) -> None:
    """Drop an analysis or RSA that records another model than the run's ``model.pt``.

    Refitting (``--overwrite``) or resuming a run replaces its model but leaves ``analysis/``
    and ``rsa/`` in place; reporting them beside the new model's configuration would present
    one model's regimes as another's. Outputs that record no model (older versions) are kept.
    """
    current = model_digest(found.run)
    if current is None:
        return
    for key, file, command in (
        ("analysis", "alignment.json", "analyze"),
        ("rsa", "rsa.json", "rsa"),
    ):
        folder = getattr(found, key)
        if folder is None or not (folder / file).is_file():
            continue
        try:
            recorded = json.loads((folder / file).read_text()).get(MODEL_DIGEST)
        except (OSError, ValueError, AttributeError):
            continue  # unreadable: the section reports that itself
        if recorded is not None and recorded != current:
            found.stale[key] = (
                f"{folder / file} describes another model (model.pt {recorded[:8]}; the run's "
                f"is now {current[:8]}: refitted or resumed since); fix: alrnn-neuro {command} "
                f"{found.run} --overwrite"
            )
            setattr(found, key, None)

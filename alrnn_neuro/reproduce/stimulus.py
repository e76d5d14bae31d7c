"""``reproduce stimulus-selection``: the nonlinearity sweep, regimes and RSA on one session.

Steps (each writes one part of ``DIR``; see docs/reproduce.md):

1. ``dataset.h5``: simulate the task (:func:`simulate_stimulus_selection`, seed ``--seed``) or
   copy the given recordings (``--dataset``);
2. ``sweep/``: :func:`alrnn_neuro.sweep.run_sweep` over P x seeds x train fractions, plus the
   baselines, all with M = ``settings.latent_dim``;
3. ``model/``: the chosen model, the sparse regime-recovery recipe (M=7, P=2, MAR 1.0 on one
   unit; ``examples/configs/stimulus_selection.toml`` when present), fitted on the same split;
4. ``analysis/``: regimes, dynamics, primitives and figures (as ``alrnn-neuro analyze``);
5. ``rsa/``: model vs recorded RDMs by epoch (as ``alrnn-neuro rsa``);
6. the claims (:mod:`alrnn_neuro.reproduce.claims`), ``reproduce.json`` and ``report.html``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alrnn_neuro.analysis import analyze_run, write_analysis
from alrnn_neuro.analysis.rsa.files import write_rsa_outputs
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.analysis.rsa.selection import init_bins_of
from alrnn_neuro.data.h5 import load_dataset, save_dataset
from alrnn_neuro.errors import AlrnnNeuroError, FileFormatError
from alrnn_neuro.plotting import plot_analysis
from alrnn_neuro.plotting.rsa import save_rsa_figures
from alrnn_neuro.reproduce import claims as cl
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce.regime import SOUNDS, hold_facts, routing_facts
from alrnn_neuro.reproduce.settings import StimulusSettings, stimulus_settings
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import fit, load_run
from alrnn_neuro.training.config import FitConfig, read_toml
from alrnn_neuro.training.resolve import resolve_config

logger = logging.getLogger(__name__)

#: the regime-recovery recipe (docs/notes/regime-recovery.md), used when the TOML is absent
RECIPE = {"latent_dim": 7, "pwl_units": 2, "mar": 1.0, "mar_units": 1}
RECIPE_FILE = (
    Path(__file__).resolve().parents[2] / "examples" / "configs" / "stimulus_selection.toml"
)
RSA_CONDITIONS = ("rule", "location", "pitch")


def reproduce_stimulus_selection(
    out: str | os.PathLike,
    *,
    settings: StimulusSettings | str = "quick",
    dataset: str | os.PathLike | None = None,
    seed: int = 2014,
    resume: bool = False,
    command: str = "",
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the whole stimulus-selection reproduction into ``out``.

    Parameters
    ----------
    out : str or PathLike
        Output folder (see the module docstring for its layout).
    settings : StimulusSettings or str
        ``quick``, ``full``, ``tiny`` or a custom :class:`StimulusSettings`.
    dataset : str or PathLike, optional
        A lab's recordings (any format ``load_dataset`` reads) instead of the simulation.
    seed : int
        Seed of the simulation and of the trial split (data seed of every fit).
    resume : bool
        Continue a reproduction with the same settings in ``out`` (finished cells are kept).
    command : str
        The command line, recorded in ``reproduce.json``.
    progress : callable, optional
        The sweep's progress callback (see :func:`~alrnn_neuro.sweep.run_sweep`).

    Returns
    -------
    dict
        The ``reproduce.json`` record.

    Raises
    ------
    FileFormatError
        ``dataset`` does not exist.
    RunDirError
        ``out`` holds something else (see :func:`~alrnn_neuro.reproduce.common.prepare_out`).
    """

    started = time.perf_counter()
    s = stimulus_settings(settings) if isinstance(settings, str) else settings
    if dataset is not None and not Path(dataset).is_file():
        raise FileFormatError(
            f"--dataset {str(dataset)!r} does not exist; fix: give the path of a recordings file"
        )
    source = str(Path(dataset).resolve()) if dataset is not None else "simulated"
    identity = {
        "target": "stimulus-selection",
        "setting": s.name,
        "settings": s.to_dict(),
        "dataset": source,
        "seed": seed,
    }
    if dataset is not None:
        ds = load_dataset(dataset)
    else:
        ds = simulate_stimulus_selection(
            n_trials=s.n_trials, n_units=s.n_units, seed=seed, lfp=False
        )
    base, chosen, grid = _configs(s, seed)
    base, chosen = _fit_trial_length(base, ds), _fit_trial_length(chosen, ds)

    resolve_config(base, ds)  # a dataset the fit cannot use fails here, before anything is written
    root = common.prepare_out(out, identity, resume=resume)
    times: dict[str, float] = {}
    data = root / "dataset.h5"
    if not data.is_file():
        save_dataset(ds, data)
    tick = time.perf_counter()
    results = common.sweep(data, grid, base, root / "sweep", s.workers, progress)
    times["sweep"] = time.perf_counter() - tick
    tick = time.perf_counter()
    fit = _chosen_model(ds, chosen, root / "model", data)
    times["model"] = time.perf_counter() - tick
    tick = time.perf_counter()
    analysis = _analysis(root, ds, s)
    times["analysis"] = time.perf_counter() - tick
    tick = time.perf_counter()
    rsa_summary = _rsa(root, fit, ds, s)
    times["rsa"] = time.perf_counter() - tick
    claims = cl.sweep_claims(results, latent_dim=s.latent_dim)
    n_epochs = len(set(ds["epoch"].values[ds["valid"].values].tolist()))
    summary = {**analysis.summary, "n_epochs": n_epochs}
    claims += cl.regime_claims(summary, _safe(routing_facts, fit), _safe(hold_facts, fit))
    claims.append(cl.rsa_claim(rsa_summary))
    record = {
        "command": command,
        "target": "stimulus-selection",
        "setting": s.name,
        "seconds": time.perf_counter() - started,
        "step_seconds": times,
        "fit_config": chosen.to_dict(),
        "sweep_config": base.to_dict(),
        "grid": grid.to_dict(),
        "settings": s.to_dict(),
        "dataset": _describe(dataset, s, seed),
        "seed": seed,
        "chosen_model_test": fit.metrics.get("test", {}),
        "identity": identity,
        "claims": claims,
    }
    common.write_record(root, record)
    common.write_report(root)
    return record


def _configs(s: StimulusSettings, seed: int):
    base = FitConfig(
        latent_dim=s.latent_dim,
        pwl_units=0,
        epochs=s.epochs,
        patience=s.patience,
        batch_size=s.batch_size,
        lr=s.lr,
        seed=seed,
    )
    recipe = dict(RECIPE)
    if RECIPE_FILE.is_file():
        recipe.update(read_toml(RECIPE_FILE))
        logger.info("chosen model: recipe from %s", RECIPE_FILE)
    recipe.update(
        latent_dim=s.latent_dim,
        epochs=s.chosen_epochs,
        patience=s.chosen_patience,
        seed=seed,
        split=list(base.split),
    )
    recipe["pwl_units"] = min(int(recipe["pwl_units"]), s.latent_dim)
    chosen = FitConfig.from_dict(recipe)
    grid = SweepGrid(
        models=("alrnn", *s.baselines),
        pwl_units=s.pwl_units,
        seeds=tuple(range(s.n_seeds)),
        train_fractions=s.train_fractions,
        latent_dims=(s.latent_dim,),
    )
    return base, chosen, grid


def _fit_trial_length(config, ds):
    """Shrink ``init_bins`` when the shortest trial is not longer (short recorded trials).

    The data-driven initial state reads each trial's first ``init_bins`` bins; recordings such
    as the pfc-1 conversions have trials of ~10 bins, so a quarter of the shortest trial is
    used instead (recorded in ``reproduce.json`` with the configs).
    """
    shortest = int(ds["valid"].sum("time").min())
    if config.init_state != "data" or config.init_bins < shortest:
        return config
    bins = max(1, shortest // 4)
    logger.warning(
        "init_bins %d -> %d: the shortest trial has %d bins", config.init_bins, bins, shortest
    )
    return config.replace(init_bins=bins)


def _chosen_model(ds, config, out: Path, data: Path):

    if (out / rd.METRICS).is_file():
        logger.info("chosen model: reusing the finished run in %s", out)
        return load_run(out)
    logger.info(
        "chosen model: fitting M=%d, P=%d into %s", config.latent_dim, config.pwl_units, out
    )
    fit(ds, config, out=out, overwrite=True, dataset_path=data)
    return load_run(out)


def _analysis(root: Path, ds, s: StimulusSettings):

    inputs = {str(x) for x in ds["input"].values}
    evidence = SOUNDS if set(SOUNDS) <= inputs else None
    result = analyze_run(root / "model", ds, n_null=s.n_null, seed=0, evidence_inputs=evidence)
    write_analysis(result, root / "analysis")
    plot_analysis(result, root / "analysis" / "figures")
    return result


def _rsa(root: Path, fit, ds, s: StimulusSettings) -> dict[str, Any] | None:

    conditions = [c for c in RSA_CONDITIONS if c in ds.coords]
    if not conditions:
        logger.warning("RSA skipped: the data have none of the trial labels %s", RSA_CONDITIONS)
        return None
    keep = _populated(ds, conditions)
    latents, ds = fit.latents.sel(trial=keep), ds.sel(trial=keep)
    try:
        rsa, summary = run_rsa(
            latents,
            ds,
            conditions=conditions,
            by="epoch",
            init_bins=init_bins_of(fit.config),  # held-out trials, bins after the z0 bins
            n_perm=s.rsa_n_perm,
            n_boot=s.rsa_n_boot,
            seed=0,
        )
    except AlrnnNeuroError as error:
        logger.warning("RSA skipped: %s", error)
        return None
    summary.update(run_dir=str(root / "model"), dataset=str(root / "dataset.h5"))
    rsa.attrs.update(run_dir=str(root / "model"), dataset=str(root / "dataset.h5"))
    write_rsa_outputs(root / "rsa", rsa, summary, draw=lambda f: save_rsa_figures(rsa, f, seed=0))
    return summary


def _populated(ds, conditions: list[str]):
    """Trial ids whose condition (combination of labels) has >= 2 trials (crossnobis folds)."""
    import numpy as np

    labels = [ds[c].values.astype(str) for c in conditions]
    keys = np.array(["|".join(row) for row in zip(*labels, strict=True)])
    names, counts = np.unique(keys, return_counts=True)
    rare = names[counts < 2]
    if rare.size:
        logger.info("RSA: conditions %s have < 2 trials and are left out", rare.tolist())
    return ds["trial"].values[~np.isin(keys, rare)]


def _safe(measure, fit) -> dict[str, Any]:
    try:
        return measure(fit)
    except ValueError as error:  # input errors and degenerate data (e.g. one choice only)
        logger.warning("%s failed: %s", measure.__name__, error)
        return {"testable": False, "reason": str(error)}


def _describe(dataset, s: StimulusSettings, seed: int) -> str:
    if dataset is not None:
        return str(Path(dataset).resolve())
    return (
        f"simulated: simulate_stimulus_selection(n_trials={s.n_trials}, n_units={s.n_units}, "
        f"seed={seed}, lfp=False)"
    )

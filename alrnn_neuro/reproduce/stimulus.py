"""``reproduce stimulus-selection``: the claims of the study on one session, with controls.

Steps (each writes one part of ``DIR``; see docs/reproduce.md):

1. ``dataset.h5``: simulate the task (``pwl`` generator, seed ``--seed``, default 3000, drawn
   away from every seed used while developing) or copy the given recordings (``--dataset``);
2. ``sweep/``: the k-fold nonlinearity sweep (P x model seeds x training fractions x folds,
   plus the setting's baselines), the data of the selection claims;
3. ``model/`` (model seed 0) and ``model-seeds/seed-K``: the recipe
   (``examples/configs/stimulus_selection.toml``) fitted with ``recipe_seeds`` model seeds on
   the same split;
4. ``analysis/``: regimes, dynamics, primitives and figures of ``model/`` (as ``alrnn-neuro
   analyze``); ``rsa/``: its RSA against the recordings by epoch (as ``alrnn-neuro rsa``);
5. the claims (:mod:`~alrnn_neuro.reproduce.stimulus_claims`), judged by ``criteria.toml``,
   with the model controls (untrained, one epoch, shuffled rule labels) on this session;
6. with ``controls``: the control sessions (:mod:`~alrnn_neuro.reproduce.stimulus_controls`)
   under ``controls/``, giving each claim's false-positive rate and power;
7. ``reproduce.json`` and ``report.html``.

On simulated data the result is a *parameter-recovery study*: the generator is known.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis import analyze_run, write_analysis
from alrnn_neuro.analysis.rsa.files import write_rsa_outputs
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.analysis.rsa.selection import init_bins_of
from alrnn_neuro.data.h5 import load_dataset, save_dataset
from alrnn_neuro.errors import AlrnnNeuroError, DataValidationError, FileFormatError
from alrnn_neuro.plotting import plot_analysis
from alrnn_neuro.plotting.rsa import save_rsa_figures
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce import stimulus_controls as sctl
from alrnn_neuro.reproduce import stimulus_session as ss
from alrnn_neuro.reproduce.claim_records import Claim
from alrnn_neuro.reproduce.criteria import criteria, criteria_sha256
from alrnn_neuro.reproduce.settings import StimulusSettings, stimulus_settings
from alrnn_neuro.reproduce.stimulus_claims import CLAIMS, CRITERIA_TEXT, SOUNDS
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import fit, load_run
from alrnn_neuro.training.resolve import resolve_config
from alrnn_neuro.training.result import FitResult

logger = logging.getLogger(__name__)

DEFAULT_SEED = 3000
RSA_CONDITIONS = ("rule", "location", "pitch")
RECOVERY_STUDY = "parameter recovery: simulated pwl generator, the truth is known"


def reproduce_stimulus_selection(
    out: str | os.PathLike,
    *,
    settings: StimulusSettings | str = "quick",
    dataset: str | os.PathLike | None = None,
    seed: int = DEFAULT_SEED,
    controls: bool | None = None,
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
        Seed of the simulation, and of the nulls and bootstraps of the claims.
    controls : bool, optional
        Run the control sessions (false-positive rates and power); default: on in the
        ``full`` setting only.
    resume : bool
        Continue a reproduction with the same settings in ``out`` (finished cells, fits and
        control sessions are kept).
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
    DataValidationError
        ``dataset`` holds no spike counts (a task or continuous dataset).
    RunDirError
        ``out`` holds something else (see :func:`~alrnn_neuro.reproduce.common.prepare_out`).
    """
    started = time.perf_counter()
    s = stimulus_settings(settings) if isinstance(settings, str) else settings
    controls = s.name == "full" if controls is None else bool(controls)
    if dataset is not None and not Path(dataset).is_file():
        raise FileFormatError(
            f"--dataset {str(dataset)!r} does not exist; fix: give the path of a recordings file"
        )
    identity = {
        "target": "stimulus-selection",
        "setting": s.name,
        "settings": s.to_dict(),
        "dataset": str(Path(dataset).resolve()) if dataset is not None else "simulated",
        "seed": seed,
        "criteria_sha256": criteria_sha256(),
    }
    if dataset is not None:
        ds = load_dataset(dataset)
        if "spikes" not in ds:
            held = "targets (a task dataset)" if "targets" in ds else "continuous 'signal'"
            raise DataValidationError(
                f"--dataset {str(dataset)!r} holds {held}, not spike counts: the study's "
                "selection and claims score held-out spikes (bits/spike); fix: give recordings "
                "with spike counts ('alrnn-neuro info FILE' shows what a file holds)"
            )
    else:
        ds = simulate_stimulus_selection(
            n_trials=s.n_trials, n_units=s.n_units, seed=seed, lfp=False
        )
    grid, base = ss.sweep_setup(s, ds)
    chosen = ss.recipe_config(s, ds)
    resolve_config(base, ds)  # a dataset the fit cannot use fails here, before anything is written
    root = common.prepare_out(out, identity, resume=resume)
    times: dict[str, float] = {}
    data = root / "dataset.h5"
    if not data.is_file():
        save_dataset(ds, data)

    tick = time.perf_counter()
    with common.sweep_client(s.workers) as client:
        common.sweep(data, grid, base, root / "sweep", client, progress)
    times["sweep"] = time.perf_counter() - tick
    tick = time.perf_counter()
    fits = [
        _recipe_fit(ds, chosen.replace(seed=k), _model_dir(root, k), data)
        for k in range(s.recipe_seeds)
    ]
    times["model"] = time.perf_counter() - tick
    tick = time.perf_counter()
    analysis = _analysis(root, ds, s)
    rsa_summary = _rsa(root, fits[0], ds, s)
    times["analysis"] = time.perf_counter() - tick
    tick = time.perf_counter()
    outcome = ss.evaluate_session(ds, root, s, seed=seed, fits=fits)
    on_session = sctl.session_model_controls(ds, outcome, s, seed=seed)
    times["claims"] = time.perf_counter() - tick
    calibration: dict[str, dict[str, Any]] = {}
    if controls:
        tick = time.perf_counter()
        calibration = sctl.calibration(sctl.run_controls(root, s))
        times["controls"] = time.perf_counter() - tick
    claims = [_claim(name, outcome, on_session, calibration) for name in CLAIMS]
    record = {
        "command": command,
        "target": "stimulus-selection",
        "setting": s.name,
        "study": "recordings" if dataset is not None else RECOVERY_STUDY,
        "seconds": time.perf_counter() - started,
        "step_seconds": times,
        "criteria_sha256": criteria_sha256(),
        "criteria": criteria(),
        "controls_run": controls,
        "fit_config": chosen.to_dict(),
        "sweep_config": base.to_dict(),
        "grid": grid.to_dict(),
        "settings": s.to_dict(),
        "dataset": _describe(dataset, s, seed),
        "seed": seed,
        "chosen_model_test": fits[0].metrics.get("test", {}),
        "analysis_summary": {k: v for k, v in analysis.summary.items() if _plain(v)},
        "rsa_summary": rsa_summary,
        "identity": identity,
        "claims": [c.to_dict() for c in claims],
    }
    common.write_record(root, record)
    common.write_report(root)
    return record


def _claim(name: str, outcome, on_session: dict, calibration: dict) -> Claim:
    entry = calibration.get(name, {"controls": {}, "power": None})
    controls = {}
    for control, must_fail in sctl.MUST_FAIL.items():
        if name not in must_fail:
            continue
        found = dict(entry["controls"].get(control) or {"n": 0, "false_positive_rate": None})
        if control in on_session:
            found["holds_on_this_session"] = on_session[control].get(name)
        controls[control] = found
    return Claim(
        name=name,
        text=CLAIMS[name],
        criterion=CRITERIA_TEXT[name],
        result=outcome.claims[name],
        controls=controls,
        power=entry["power"],
    )


def _model_dir(root: Path, seed: int) -> Path:
    return root / "model" if seed == 0 else root / "model-seeds" / f"seed-{seed}"


def _recipe_fit(ds: xr.Dataset, config, out: Path, data: Path) -> FitResult:
    if (out / rd.METRICS).is_file():
        logger.info("recipe fit: reusing the finished run in %s", out)
        return load_run(out)
    logger.info(
        "recipe fit: M=%d, P=%d, seed %d into %s",
        config.latent_dim,
        config.pwl_units,
        config.seed,
        out,
    )
    fit(ds, config, out=out, overwrite=True, dataset_path=data)
    return load_run(out)


def _analysis(root: Path, ds: xr.Dataset, s: StimulusSettings):
    inputs = {str(x) for x in ds["input"].values}
    evidence = SOUNDS if set(SOUNDS) <= inputs else None
    result = analyze_run(root / "model", ds, n_null=s.n_null, seed=0, evidence_inputs=evidence)
    write_analysis(result, root / "analysis")
    plot_analysis(result, root / "analysis" / "figures")
    return result


def _rsa(root: Path, fit: FitResult, ds: xr.Dataset, s: StimulusSettings) -> dict | None:
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


def _populated(ds: xr.Dataset, conditions: list[str]) -> np.ndarray:
    """Trial ids whose condition (combination of labels) has >= 2 trials (crossnobis folds)."""
    labels = [ds[c].values.astype(str) for c in conditions]
    keys = np.array(["|".join(row) for row in zip(*labels, strict=True)])
    names, counts = np.unique(keys, return_counts=True)
    rare = names[counts < 2]
    if rare.size:
        logger.info("RSA: conditions %s have < 2 trials and are left out", rare.tolist())
    return ds["trial"].values[~np.isin(keys, rare)]


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


def _describe(dataset, s: StimulusSettings, seed: int) -> str:
    if dataset is not None:
        return str(Path(dataset).resolve())
    return (
        f"simulated: simulate_stimulus_selection(n_trials={s.n_trials}, n_units={s.n_units}, "
        f"seed={seed}, lfp=False, generator='pwl')"
    )

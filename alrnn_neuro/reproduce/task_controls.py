"""Controls of the task claims: each claim re-evaluated where it must fail, its false-positive rate.

================  ==============================================================================
control           what runs, and which claim must fail there
================  ==============================================================================
untrained         per task and control data seed (``settings.control_seeds``): the task drawn
                  anew with that seed, and networks of every P at their initialisation (model
                  seeds ``100 * data_seed + k``) scored on all its trials: ``sparse_suffices``
linear_models     per task, on the reproduction's own held-out trials: every P slot filled by a
                  *trained P = 0* network, P = 0 by model seed a and every P > 0 by model seed
                  b != a (each ordered pair once): seed-to-seed differences of linear networks
                  must not pass for "P = 0 insufficient" (``sparse_suffices``)
untrained         for the suite, per control data seed: the sharing test with untrained networks
                  (seeds ``100 * data_seed + k``) in place of the trained ones, against untrained
                  networks of other seeds (``+ 50``): ``multitask_sharing``
================  ==============================================================================

Power (how often a claim holds on data the reproduction's networks were not fitted to): per
control data seed the task (or suite) is drawn anew and the reproduction's *fitted* networks
are scored on the trials with the sweep's held-out ids (:func:`~alrnn_neuro.sweep.task_scores.
rescore_sweep`; the suite: region usage of the fitted networks against the same networks
untrained, on the new draw), and the claim is judged exactly as on the reproduction. The fits
are not redone, so this is the claim's replication rate over test data given these fits; the
variation between trainings enters only through the model seeds the claim already averages.

Controls are judged by the tests alone: the "learned" condition of the sparse-P claim
(``tasks.min_learned_accuracy``) is not applied, as untrained networks would never meet it and
the false-positive rate would then say nothing about the statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.reproduce import task_claims as tc
from alrnn_neuro.reproduce.claim_records import ClaimResult, rate
from alrnn_neuro.simulate.tasks.metrics import trial_accuracy
from alrnn_neuro.sweep.multitask import sweep_multitask
from alrnn_neuro.sweep.task_scores import rescore_sweep
from alrnn_neuro.training.api import initial_model, torch_threads
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import encode_trials

logger = logging.getLogger(__name__)

#: model seed offsets of the untrained networks of a control data seed
SEED_STRIDE, NULL_OFFSET = 100, 50


def untrained_correct(
    ds: xr.Dataset, base: FitConfig, pwl_units: Sequence[int], seeds: Sequence[int]
) -> np.ndarray:
    """Per-trial correctness (pwl_units, seed, trial) of untrained networks on all trials of ds.

    Parameters
    ----------
    ds : xr.Dataset
        A task dataset.
    base : FitConfig
        The sweep's base config (M and the fit settings); P and seed are set per network.
    pwl_units : sequence of int
        P values.
    seeds : sequence of int
        Model seeds of the networks.
    """
    out = np.full((len(pwl_units), len(seeds), ds.sizes["trial"]), np.nan)
    with torch_threads(1):
        for i, p in enumerate(pwl_units):
            for j, seed in enumerate(seeds):
                model = initial_model(ds, base.replace(pwl_units=int(p), seed=int(seed)))
                out[i, j] = trial_accuracy(encode_trials(model, ds)["prediction"].values, ds)
    return out


def untrained_task_outcomes(
    make, base: FitConfig, pwl_units: Sequence[int], n_seeds: int, control_seeds: Sequence[int]
) -> list[tuple[int, ClaimResult]]:
    """The sparse-P claim on untrained networks, one fresh draw of the task per data seed.

    Parameters
    ----------
    make : callable
        ``make(seed) -> xr.Dataset``: the task as the reproduction generates it.
    base, pwl_units, n_seeds
        The sweep's base config, P values and number of model seeds.
    control_seeds : sequence of int
        Data seeds.
    """
    found = []
    for data_seed in control_seeds:
        ds = make(data_seed)
        seeds = [SEED_STRIDE * data_seed + k for k in range(n_seeds)]
        correct = untrained_correct(ds, base, pwl_units, seeds)
        dims, coords = ("pwl_units", "seed", "trial"), {"pwl_units": list(pwl_units)}
        labelled = xr.DataArray(correct, dims=dims, coords=coords)
        selection = tc.task_selection(labelled, seed=data_seed)
        result = tc.sparse_suffices_result(selection, base.latent_dim, require_learned=False)
        found.append((int(data_seed), result))
    return found


def linear_model_outcomes(correct: xr.DataArray, latent_dim: int) -> list[tuple[str, ClaimResult]]:
    """The sparse-P claim with every P slot held by a trained P = 0 network (see the module
    docstring); ``correct`` (pwl_units, seed, trial) of the reproduction's sweep."""
    ps = [int(p) for p in correct["pwl_units"].values]
    if 0 not in ps:
        return []
    zero = correct.sel(pwl_units=0).values  # (seed, trial)
    found = []
    for a in range(zero.shape[0]):
        for b in range(zero.shape[0]):
            if a == b:
                continue
            rows = np.stack([zero[a] if p == 0 else zero[b] for p in ps])
            selection = tc.task_selection(
                xr.DataArray(rows, dims=("pwl_units", "trial"), coords={"pwl_units": ps}),
                seed=a * zero.shape[0] + b,
            )
            result = tc.sparse_suffices_result(selection, latent_dim, require_learned=False)
            found.append((f"{a}>{b}", result))
    return found


def untrained_sharing_outcomes(
    sweep_dir: Path, make, control_seeds: Sequence[int]
) -> list[tuple[int, ClaimResult]]:
    """The sharing claim with untrained networks as the "trained" ones, per data seed.

    ``make(seed)`` draws the suite as the reproduction does; ``sweep_dir`` is its sweep (grid,
    base config, test trials).
    """
    found = []
    for data_seed in control_seeds:
        ds = make(data_seed)
        with torch_threads(1):
            offset = SEED_STRIDE * data_seed
            pseudo = sweep_multitask(sweep_dir, ds, untrained=True, seed_offset=offset)
            null = sweep_multitask(sweep_dir, ds, untrained=True, seed_offset=offset + NULL_OFFSET)
        test = tc.sharing_test(pseudo, null, seed=data_seed)
        found.append((int(data_seed), tc.sharing_result(test, int(pseudo.attrs["latent_dim"]))))
    return found


def redrawn_task_outcomes(
    sweep_dir: Path, make, latent_dim: int, control_seeds: Sequence[int], what: str = "accuracy"
) -> list[tuple[int, ClaimResult]]:
    """The sparse-P claim of the reproduction's fitted networks on fresh draws of the task.

    Parameters
    ----------
    sweep_dir : Path
        The task's sweep.
    make : callable
        ``make(seed) -> xr.Dataset``: the task as the reproduction generates it.
    latent_dim : int
        M.
    control_seeds : sequence of int
        Data seeds of the new draws.
    what : str
        The accuracy's name in the evidence.
    """
    found = []
    with torch_threads(1):
        for data_seed in control_seeds:
            correct = rescore_sweep(sweep_dir, make(data_seed))
            selection = tc.task_selection(correct, seed=data_seed)
            found.append(
                (int(data_seed), tc.sparse_suffices_result(selection, latent_dim, what=what))
            )
    return found


def redrawn_sharing_outcomes(
    sweep_dir: Path, make, control_seeds: Sequence[int]
) -> list[tuple[int, ClaimResult]]:
    """The sharing claim of the reproduction's fitted networks on fresh draws of the suite,
    against the same networks untrained (model seeds as the reproduction's null)."""
    found = []
    for data_seed in control_seeds:
        ds = make(data_seed)
        with torch_threads(1):
            trained = sweep_multitask(sweep_dir, ds)
            null = sweep_multitask(sweep_dir, ds, untrained=True)
        test = tc.sharing_test(trained, null, seed=data_seed)
        found.append((int(data_seed), tc.sharing_result(test, int(trained.attrs["latent_dim"]))))
    return found


def power_entry(outcomes: list[tuple[Any, ClaimResult]]) -> dict[str, Any]:
    """``{"seeds", "holds", "n", "n_holds", "rate", "true_by_construction"}`` of the power
    runs of one claim: fresh draws of the same task, where the claim may be false, so
    ``true_by_construction`` is False (a low rate there is a failure that replicates, not low
    power)."""
    entry = control_entry(outcomes)
    entry["rate"] = entry.pop("false_positive_rate")
    entry["true_by_construction"] = False
    return entry


def control_entry(outcomes: list[tuple[Any, ClaimResult]]) -> dict[str, Any]:
    """``{"seeds", "holds", "effects", "n", "n_holds", "false_positive_rate"}`` of one control.

    ``effects``: each run's effect size (None where not testable), so a control that fails
    can be read as failing by a wide margin or narrowly.
    """
    holds = [r.holds for _, r in outcomes]
    effects = [r.to_dict()["effect"] if r.holds is not None else None for _, r in outcomes]
    return {"seeds": [k for k, _ in outcomes], "holds": holds, "effects": effects, **rate(holds)}

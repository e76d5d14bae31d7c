"""The primitives claim of ``reproduce tasks``: trained networks use primitives their own
initialisation does not show.

Per task, every AL-RNN of the sweep with 0 < P <= 62 (largest M and train fraction; beyond 62
rectified units a network has no region codes) is paired with
the same network at its initialisation (same config and model seed, nothing trained). On the
sweep's held-out trials both are run and their distinct integration and gating primitives
counted (:func:`alrnn_neuro.sweep.cell_primitives.primitives_in`: the screening detectors,
gating with the readout condition on each network's own task head,
default thresholds, every input channel as candidate). The effect is the mean excess
d = count(trained) - count(untrained) over networks, with a bootstrap CI over networks and an
exact one-sided sign-flip test (the null: training does not change the count, so each d is as
likely negative). Holds when the task was learned (``tasks.min_learned_accuracy``), the mean
excess reaches ``task_primitives.min_excess`` and p < alpha; n.a. with so few networks that
the test cannot reach alpha at all (1/2^n >= alpha: n <= 4 at alpha = 0.05).

Controls and power, per control data seed (the task drawn anew with that seed, counted on the
trials with the sweep's held-out ids):

* ``untrained``: untrained networks (model seeds ``100 * data_seed + k``) in place of the
  trained ones, against untrained networks of other seeds (``+ 50``): must fail;
* power: the reproduction's fitted networks against their own initialisation on the new draw;
* ``shuffled_targets`` and ``shuffled_targets_full_budget`` (per data seed of
  ``shuffled_seeds``): every P > 0 network retrained from its own initialisation on the new
  draw with its targets permuted across trials (:mod:`~alrnn_neuro.reproduce.
  task_shuffled_targets`; the first as the reproduction trains, early stopping included, the
  second every epoch with the last one kept), against that initialisation: training as such,
  without the task's input-target pairing, must not produce the claim.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.primitives.common import observation_weights
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import ALRNNParams, has_region_codes
from alrnn_neuro.reproduce.claim_records import Claim, ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.reproduce.task_controls import NULL_OFFSET, SEED_STRIDE, control_entry, power_entry
from alrnn_neuro.reproduce.task_shuffled_targets import shuffled_networks
from alrnn_neuro.sweep import SweepGrid
from alrnn_neuro.sweep.cell_primitives import primitives_in
from alrnn_neuro.sweep.task_scores import alrnn_cells
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import initial_model, load_run, torch_threads
from alrnn_neuro.training.evaluate import encode_trials
from alrnn_neuro.training.network import FitModel

PRIMITIVES_CRITERION = (
    "P > 0 networks on held-out trials: mean excess of distinct integration and gating "
    "primitives over the same network untrained >= task_primitives.min_excess, exact one-sided "
    "sign-flip p < alpha over networks; n.a. when the best P's accuracy < "
    "tasks.min_learned_accuracy, or with so few networks (n <= 4) that 1/2^n >= alpha"
)
#: networks up to which the sign-flip test enumerates every sign pattern (else random flips)
EXACT_UP_TO = 16
#: the shuffled-targets controls and whether each trains the full epoch budget
#: (:func:`~alrnn_neuro.reproduce.task_shuffled_targets.shuffled_networks`)
SHUFFLED_CONTROLS = {"shuffled_targets": False, "shuffled_targets_full_budget": True}


def claim_name(task: str) -> str:
    """Name of the primitives claim of ``task`` in ``reproduce.json``."""
    return f"task_primitives:{task}"


def claim_text(task: str) -> str:
    """The primitives claim of ``task`` in words."""
    return (
        f"{task}: trained AL-RNNs (P > 0) use integration or gating primitives that the same "
        "networks at their initialisation do not show"
    )


def fitted_networks(sweep_dir: Path) -> list[tuple[int, int, Any]]:
    """(P, model seed, loaded FitResult) of the sweep's AL-RNN cells with 0 < P <= 62 (largest M
    and train fraction; more rectified units have no region codes); an unfinished cell is an
    error (see :func:`~alrnn_neuro.sweep.task_scores.alrnn_cells`)."""
    grid = SweepGrid.from_dict(rd.read_json(sweep_dir / "sweep.json")["grid"])
    cells = alrnn_cells(sweep_dir, grid, max(grid.latent_dims), max(grid.train_fractions))
    return [
        (int(c.pwl_units), int(c.seed), load_run(sweep_dir / "cells" / c.name))
        for c in cells
        if c.pwl_units > 0 and has_region_codes(int(c.pwl_units))
    ]


def _count(model: FitModel, sub: xr.Dataset) -> float:
    """Distinct primitives of ``model`` (fitted or untrained) on the trials of ``sub``."""
    latents = encode_trials(model, sub)
    return primitives_in(
        ALRNNParams.from_model(model),
        latents,
        sub,
        model.config.inputs,
        observation=observation_weights(model),
    )


def primitive_counts(
    sweep_dir: Path,
    ds: xr.Dataset,
    *,
    control_seed: int | None = None,
    networks: list[tuple[int, int, Any]] | None = None,
) -> xr.Dataset:
    """Primitives of each P > 0 network and of its comparison network, on held-out trials.

    Parameters
    ----------
    sweep_dir : Path
        The task's sweep (one test split: ``sweep.json`` holds ``test_trials``).
    ds : xr.Dataset
        The task data: the sweep's own or a new draw with the same trial ids.
    control_seed : int, optional
        The ``untrained`` control: untrained networks of model seeds ``100 * control_seed + k``
        in place of the fitted ones, against seeds ``+ 50``.
    networks : list, optional
        :func:`fitted_networks` of ``sweep_dir``, when the caller has them loaded already.

    Returns
    -------
    xr.Dataset, dim ``network``
        ``trained`` and ``untrained`` counts; coords ``pwl_units``, ``seed``.
    """
    test = np.asarray(rd.read_json(sweep_dir / "sweep.json")["test_trials"])
    sub = ds.sel(trial=test)
    rows = []
    with torch_threads(1):
        for p, seed, fit in fitted_networks(sweep_dir) if networks is None else networks:
            if control_seed is None:
                trained = _count(fit.model, sub)
                untrained = _count(initial_model(ds, fit.config), sub)
            else:
                stand_in = fit.config.replace(seed=SEED_STRIDE * control_seed + seed)
                other = stand_in.replace(seed=stand_in.seed + NULL_OFFSET)
                trained = _count(initial_model(ds, stand_in), sub)
                untrained = _count(initial_model(ds, other), sub)
            rows.append((p, seed, trained, untrained))
    table = np.array(rows, dtype=float).reshape(-1, 4)
    counts = xr.Dataset(
        {"trained": ("network", table[:, 2]), "untrained": ("network", table[:, 3])},
        coords={
            "pwl_units": ("network", table[:, 0].astype(int)),
            "seed": ("network", table[:, 1].astype(int)),
        },
    )
    which = "untrained stand-in (control)" if control_seed is not None else "the fitted network"
    counts["trained"].attrs.update(
        units="1", description=f"distinct integration + gating primitives of {which}"
    )
    counts["untrained"].attrs.update(
        units="1", description="distinct primitives of the comparison network (untrained)"
    )
    counts.attrs.update(trials="held-out trials of the sweep", control_seed=str(control_seed))
    return counts


def sign_flip_p(excess: np.ndarray, *, seed: int = 0, n_random: int = 10000) -> float:
    """One-sided p of mean(excess) > 0 under random signs (exact up to 16 values).

    Examples
    --------
    >>> sign_flip_p(np.array([1.0, 2.0, 3.0]))  # only the observed signs reach the mean
    0.125
    >>> sign_flip_p(np.zeros(4))
    1.0
    """
    values = np.asarray(excess, dtype=float)
    if values.size <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=values.size)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(n_random, values.size))
        signs = np.vstack([np.ones(values.size), signs])
    null = signs @ values
    return float(np.mean(null >= values.sum() - 1e-12))


def primitives_result(
    counts: xr.Dataset, *, learned: bool | None = True, seed: int = 0
) -> ClaimResult:
    """Judge the primitives claim on ``counts`` of :func:`primitive_counts`.

    ``learned``: whether the task was learned (False gives n.a.; None skips the condition, as
    for the controls).
    """
    rules = criteria()
    if learned is False:
        return ClaimResult.not_testable(
            f"no P learned the task (best accuracy < tasks.min_learned_accuracy = "
            f"{rules['tasks']['min_learned_accuracy']})"
        )
    if counts.sizes.get("network", 0) == 0:
        return ClaimResult.not_testable("the sweep has no finished network with P > 0")
    excess = counts["trained"].values - counts["untrained"].values
    alpha, minimum = rules["calibration"]["alpha"], rules["task_primitives"]["min_excess"]
    if 0.5**excess.size >= alpha:  # even all networks gaining gives p = 1 / 2^n
        return ClaimResult.not_testable(
            f"{excess.size} networks with 0 < P <= 62: the exact sign-flip p cannot go below "
            f"1/2^{excess.size} = {0.5**excess.size:.3g} >= alpha = {alpha} (fix: more model "
            "seeds or P values)"
        )
    rng = np.random.default_rng(seed)
    n_boot = int(rules["task_primitives"]["n_boot"])
    boot = excess[rng.integers(0, excess.size, size=(n_boot, excess.size))].mean(axis=1)
    ci = (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975)))
    p_value = sign_flip_p(excess, seed=seed)
    mean = float(excess.mean())
    # networks whose count training left unchanged add nothing to the test: with d of them
    # differing, p cannot go below 1/2^d (a verdict near alpha then sits at the test's floor)
    differ = int(np.count_nonzero(excess))
    per_p = ", ".join(
        f"P={p}: {counts['trained'].values[counts['pwl_units'].values == p].mean():.1f} vs "
        f"{counts['untrained'].values[counts['pwl_units'].values == p].mean():.1f}"
        for p in np.unique(counts["pwl_units"].values)
    )
    return ClaimResult(
        holds=bool(mean >= minimum and p_value < alpha),
        effect=mean,
        effect_name="primitives per network, trained minus untrained",
        ci=ci,
        p_value=p_value,
        evidence=(
            f"excess {mean:+.2f} primitives per network [95% CI {ci[0]:+.2f}, {ci[1]:+.2f}] "
            f"(minimum {minimum:g}), sign-flip p = {p_value:.3g} over {excess.size} networks "
            f"({differ} differ from their initialisation: p >= 1/2^{differ} = "
            f"{0.5**differ:.3g}); mean count trained vs untrained: {per_p}"
        ),
    )


def primitives_claim(
    sweep_dir: Path,
    task: str,
    make: Callable[[int], xr.Dataset],
    control_seeds: Sequence[int],
    *,
    learned: bool,
    seed: int,
    shuffled_seeds: Sequence[int] = (),
) -> tuple[Claim, xr.Dataset]:
    """The primitives claim of one task with its controls (``untrained``, and the two
    shuffled-targets controls where ``shuffled_seeds`` are given) and power.

    Parameters
    ----------
    sweep_dir : Path
        The task's sweep folder (holds ``dataset.h5``).
    task : str
        Task name.
    make : callable
        ``make(seed) -> xr.Dataset``: the task as the reproduction generates it.
    control_seeds : sequence of int
        Data seeds of the control and power draws.
    learned : bool
        Whether the best P learned the task.
    seed : int
        Seed of the bootstrap.
    shuffled_seeds : sequence of int
        Data seeds of the shuffled-targets controls (each retrains every P > 0 network twice;
        none: they are not run).

    Returns
    -------
    (Claim, xr.Dataset)
        The claim and the reproduction's counts.
    """
    ds = load_dataset(sweep_dir / "dataset.h5", validate=False)
    networks = fitted_networks(sweep_dir)  # loaded once for every count below
    counts = primitive_counts(sweep_dir, ds, networks=networks)
    control, power = [], []
    for data_seed in control_seeds:
        draw = make(int(data_seed))
        null = primitive_counts(sweep_dir, draw, control_seed=int(data_seed), networks=networks)
        control.append((int(data_seed), primitives_result(null, learned=None, seed=data_seed)))
        redrawn = primitive_counts(sweep_dir, draw, networks=networks)
        power.append((int(data_seed), primitives_result(redrawn, learned=learned, seed=data_seed)))
    controls = {"untrained": control_entry(control)}
    for name, full_budget in SHUFFLED_CONTROLS.items() if shuffled_seeds else ():
        controls[name] = _shuffled_control(
            sweep_dir, make, networks, shuffled_seeds, full_budget=full_budget
        )
    claim = Claim(
        name=claim_name(task),
        text=claim_text(task),
        criterion=PRIMITIVES_CRITERION,
        result=primitives_result(counts, learned=learned, seed=seed),
        controls=controls,
        power=power_entry(power),
    )
    return claim, counts


def _shuffled_control(sweep_dir, make, networks, seeds, *, full_budget: bool) -> dict:
    """Control entry of one shuffled-targets control: per data seed, the networks retrained on
    that draw with shuffled targets against their initialisation (n.a. where too few trials
    could swap targets)."""
    outcomes = []
    for data_seed in seeds:
        draw = make(int(data_seed))
        try:
            retrained = shuffled_networks(
                sweep_dir, draw, networks, int(data_seed), full_budget=full_budget
            )
        except DataValidationError as err:
            outcomes.append((int(data_seed), ClaimResult.not_testable(str(err))))
            continue
        null = primitive_counts(sweep_dir, draw, networks=retrained)
        outcomes.append((int(data_seed), primitives_result(null, learned=None, seed=data_seed)))
    return control_entry(outcomes)

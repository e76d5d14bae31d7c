"""One stimulus-selection session through the claims: sweep, recipe fits, controls of the model.

:func:`evaluate_session` runs, for one dataset: the k-fold nonlinearity sweep (when the
selection claims are wanted), the chosen recipe (``examples/configs/stimulus_selection.toml``)
fitted with several model seeds, the same network untrained, and every claim of
:mod:`~alrnn_neuro.reproduce.stimulus_claims`. :func:`model_control_claims` re-evaluates the
claims that concern a fitted model on the controls it must fail: the untrained network, a
network trained for one epoch, and the fits with the rule labels shuffled across trials.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.reproduce import stimulus_claims as sc
from alrnn_neuro.reproduce.claim_records import ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.reproduce.settings import StimulusSettings
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training.api import fit, initial_fit
from alrnn_neuro.training.config import FitConfig, read_toml
from alrnn_neuro.training.result import FitResult

logger = logging.getLogger(__name__)

#: the regime-recovery recipe (docs/notes/regime-recovery.md), used when the TOML is absent
RECIPE = {"latent_dim": 7, "pwl_units": 2, "mar": 1.0, "mar_units": 1}
RECIPE_FILE = (
    Path(__file__).resolve().parents[2] / "examples" / "configs" / "stimulus_selection.toml"
)
#: claims about a fitted model (re-evaluated on the model controls)
MODEL_CLAIMS = ("epoch_alignment", "rule_routing", "slow_hold", "rsa")
SELECTION_CLAIMS = ("zero_insufficient", "sparse_suffices", "little_data")
#: claims about a region of the fitted model, counted only where nonlinearity is needed
REGIME_CLAIMS = ("rule_routing", "slow_hold")


@dataclass
class SessionOutcome:
    """What :func:`evaluate_session` produced for one dataset."""

    claims: dict[str, ClaimResult]
    fits: list[FitResult] = field(default_factory=list)
    untrained: FitResult | None = None
    sweep_dir: Path | None = None


def sweep_setup(s: StimulusSettings, ds: xr.Dataset | None = None) -> tuple[SweepGrid, FitConfig]:
    """The k-fold nonlinearity sweep of a setting: grid and base config (AL-RNN cells).

    With ``ds``, ``init_bins`` is shrunk to its trial length (:func:`fit_trial_length`).
    """
    base = FitConfig(
        latent_dim=s.latent_dim,
        pwl_units=0,
        epochs=s.epochs,
        patience=s.patience,
        batch_size=s.batch_size,
        lr=s.lr,
        threads=1,
    )
    grid = SweepGrid(
        models=("alrnn", *s.baselines),
        pwl_units=s.pwl_units,
        seeds=tuple(range(s.n_seeds)),
        train_fractions=s.train_fractions,
        latent_dims=(s.latent_dim,),
        folds=s.folds,
    )
    return grid, base if ds is None else fit_trial_length(base, ds)


def recipe_config(s: StimulusSettings, ds: xr.Dataset) -> FitConfig:
    """The chosen model: the documented recipe with the setting's fit length."""
    recipe = dict(RECIPE)
    if RECIPE_FILE.is_file():
        recipe.update(read_toml(RECIPE_FILE))
    recipe.update(epochs=s.chosen_epochs, patience=s.chosen_patience, threads=1)
    if s.latent_dim_chosen:
        recipe["latent_dim"] = s.latent_dim_chosen
    recipe["pwl_units"] = min(int(recipe["pwl_units"]), int(recipe["latent_dim"]))
    return fit_trial_length(FitConfig.from_dict(recipe), ds)


def fit_trial_length(config: FitConfig, ds: xr.Dataset) -> FitConfig:
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


def evaluate_session(
    ds: xr.Dataset,
    workdir: Path,
    s: StimulusSettings,
    *,
    seed: int,
    with_sweep: bool = True,
    fits: list[FitResult] | None = None,
) -> SessionOutcome:
    """Every claim on one dataset (see the module docstring).

    Parameters
    ----------
    ds : xr.Dataset
        The session.
    workdir : Path
        Folder for the sweep (``workdir/sweep``; a finished one is reused).
    s : StimulusSettings
    seed : int
        Seed of nulls and bootstraps.
    with_sweep : bool
        Run the sweep and the selection claims (else they are not tested).
    fits : list of FitResult, optional
        Recipe fits already made (one per model seed); made here otherwise.
    """
    claims: dict[str, ClaimResult] = {}
    sweep_dir = None
    if with_sweep:
        grid, base = sweep_setup(s, ds)
        sweep_dir = Path(workdir) / "sweep"
        run_sweep(ds, grid, base, out=sweep_dir, resume=sweep_dir.exists())
        claims.update(
            sc.selection_claims(
                sweep_dir, latent_dim=s.latent_dim, fractions=s.train_fractions, seed=seed
            )
        )
    else:
        for name in SELECTION_CLAIMS:
            claims[name] = ClaimResult.not_testable("no sweep in this session")
    chosen = recipe_config(s, ds)
    if fits is None:
        fits = [fit(ds, chosen.replace(seed=k)) for k in range(s.recipe_seeds)]
    untrained = initial_fit(ds, chosen)
    claims.update(gate_regime_claims(model_claims(ds, fits, untrained, s, seed=seed), claims))
    return SessionOutcome(claims, fits, untrained, sweep_dir)


def gate_regime_claims(
    found: dict[str, ClaimResult], selection: dict[str, ClaimResult]
) -> dict[str, ClaimResult]:
    """Regime claims hold only where the data need nonlinearity (``zero_insufficient``).

    A fitted AL-RNN's ReLU units can always split its state by the rule, also on data from a
    linear system; a routing or rule-holding *region* is a finding about the recordings only
    when P = 0 is insufficient for them. Where the selection claim was tested and failed,
    :data:`REGIME_CLAIMS` do not hold (their own statistics stay in the evidence); where no
    sweep ran, they stand as measured and say so.
    """
    need = selection.get("zero_insufficient")
    out = dict(found)
    for name in REGIME_CLAIMS:
        claim = found.get(name)
        if claim is None or claim.holds is None:
            continue
        if need is None or need.holds is None:
            note = "the need for nonlinearity was not tested (no sweep); "
            out[name] = dataclasses.replace(claim, evidence=note + claim.evidence)
        elif not need.holds:
            note = "does not count: the data do not need nonlinearity (P = 0 is not insufficient); "
            out[name] = dataclasses.replace(claim, holds=False, evidence=note + claim.evidence)
    return out


def model_claims(
    ds: xr.Dataset, fits: list[Any], untrained: Any, s: StimulusSettings, *, seed: int
) -> dict[str, ClaimResult]:
    """The claims about fitted models (:data:`MODEL_CLAIMS`)."""
    n_shuffles = s.n_shuffles or criteria()["routing"]["n_shuffles"]
    n_null = s.n_null
    return {
        "epoch_alignment": sc.epoch_alignment_claim(fits[0], untrained, n_null=s.n_null, seed=seed),
        "rule_routing": sc.routing_claim(fits, n_shuffles=n_shuffles, seed=seed),
        "slow_hold": sc.slow_hold_claim(fits[0], untrained, ds, n_null=n_null, seed=seed),
        "rsa": sc.rsa_claim(
            fits[0], untrained, ds, n_perm=s.rsa_n_perm, n_boot=s.rsa_n_boot, seed=seed
        ),
    }


#: seed offset of the untrained control networks (the session's own untrained network, the
#: reference of the gains, has the recipe's seed)
UNTRAINED_OFFSET = 50


def model_control_claims(
    ds: xr.Dataset, outcome: SessionOutcome, s: StimulusSettings, *, seed: int
) -> dict[str, dict[str, ClaimResult]]:
    """The model claims on the untrained network, a one-epoch fit, and shuffled rule labels.

    Returns
    -------
    dict
        Control name -> claim name -> result.
    """
    chosen = recipe_config(s, ds)
    seeds = [f.config.seed for f in outcome.fits]
    # as many networks as the session has fits, each of its own seed: a control network is
    # never compared with itself (its gain over "the untrained network" would be 0 by
    # construction) nor copied to fake replication across seeds
    one_epoch = [fit(ds, chosen.replace(epochs=1, patience=0, seed=k)) for k in seeds]
    others = [initial_fit(ds, chosen.replace(seed=k + UNTRAINED_OFFSET)) for k in seeds]
    untrained = outcome.untrained
    out = {
        "untrained": model_claims(ds, others, untrained, s, seed=seed),
        "one_epoch": model_claims(ds, one_epoch, untrained, s, seed=seed),
    }
    if "rule" in ds.coords:
        shuffled_ds, fits, base = shuffle_rule(ds, outcome.fits, untrained, seed)
        out["shuffled_rule"] = model_claims(shuffled_ds, fits, base, s, seed=seed)
    return {name: gate_regime_claims(found, outcome.claims) for name, found in out.items()}


def shuffle_rule(ds: xr.Dataset, fits: list[FitResult], untrained: FitResult, seed: int):
    """The dataset and fits with the rule labels permuted across trials (the same way)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(ds.sizes["trial"])
    labels = dict(zip(ds["trial"].values.tolist(), ds["rule"].values[order], strict=True))
    shuffled = ds.assign_coords(rule=("trial", ds["rule"].values[order]))

    def relabel(result: FitResult) -> FitResult:
        lat = result.latents
        new = np.array([labels[t] for t in lat["trial"].values.tolist()])
        latents = lat.assign_coords(rule=("trial", new))
        return dataclasses.replace(result, latents=latents, dataset=shuffled)

    return shuffled, [relabel(f) for f in fits], relabel(untrained)

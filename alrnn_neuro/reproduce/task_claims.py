"""The claims of ``reproduce tasks``, each a test that can fail (thresholds: ``criteria.toml``).

=========================  =======================================================================
claim                      holds when
=========================  =======================================================================
``sparse_suffices:TASK``   P = 0 loses to some P > 0 by more than ``tasks.min_effect`` in held-out
                           accuracy (one-sided test, trial as unit, Bonferroni over P) *and* the
                           smallest P equivalent to the best (within ``tasks.margin``) lies in
                           0 < P < M. Accuracy is the study's criterion per trial
                           (:func:`~alrnn_neuro.simulate.tasks.metrics.trial_accuracy`: whole
                           sequence for copy tasks), averaged over model seeds per trial
                           (:mod:`alrnn_neuro.sweep.task_selection`). n.a. when no P learned the
                           task (best accuracy < ``tasks.min_learned_accuracy``): a minimal P
                           among failures means nothing.
``multitask_sharing``      the suite's shared index falls with P faster than that of untrained
                           networks of the same M and P on the same inputs (the null matched on
                           the number of regions): excess fall per doubling of P >=
                           ``multitask.min_effect``, permutation p < alpha, and the trained
                           shared index itself falls (:mod:`alrnn_neuro.sweep.sharing_test`)
=========================  =======================================================================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.reproduce.claim_records import ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.simulate.tasks.metrics import ANGULAR_OUTPUTS
from alrnn_neuro.sweep.sharing_test import sharing_trend_test
from alrnn_neuro.sweep.task_selection import select_by_accuracy

SHARING = "multitask_sharing"
SHARING_TEXT = (
    "Multi-task: small P shares linear regions across tasks, large P makes them task-specific, "
    "beyond what the number of regions alone gives untrained networks of the same P"
)
SHARING_CRITERION = (
    "P > 0 networks: the shared index falls per doubling of P by >= multitask.min_effect more "
    "than in untrained networks of the same M, P and inputs (permutation p < alpha over "
    "networks), and the trained shared index falls with P"
)
TASK_CRITERION = (
    "held-out accuracy (study's criterion per trial, model seeds averaged): some P > 0 beats "
    "P = 0 by more than tasks.min_effect (one-sided test, trial as unit, Bonferroni over P), and "
    "the smallest P equivalent to the best within tasks.margin (TOST) is 0 < P < M; n.a. when "
    "the best P's accuracy < tasks.min_learned_accuracy"
)


def task_learned(selection: xr.Dataset) -> bool:
    """Whether the best P's held-out accuracy reaches ``tasks.min_learned_accuracy``."""
    best = float(np.nanmax(selection["accuracy"].values))
    return best >= criteria()["tasks"]["min_learned_accuracy"]


def claim_name(task: str) -> str:
    """Name of the sparse-P claim of ``task`` in ``reproduce.json``."""
    return f"sparse_suffices:{task}"


def claim_text(task: str, latent_dim: int) -> str:
    """The sparse-P claim of ``task`` in words."""
    return (
        f"{task}: the linear RNN (P = 0) is insufficient and a sparse AL-RNN "
        f"(0 < P < M = {latent_dim}) is as good as the best P"
    )


def accuracy_criterion(ds: xr.Dataset) -> str:
    """What a trial being right means for ``ds`` (see ``trial_accuracy``)."""
    if ds.attrs.get("task_loss") == "cross_entropy":
        return "whole-sequence accuracy"
    if tuple(ds["output"].values) == ANGULAR_OUTPUTS:
        if ds.attrs.get("variant") == "study":
            return "final-direction accuracy"
        return "fixation-and-direction accuracy"
    return "regression accuracy (every output within 0.04)"


def task_selection(correct: xr.DataArray, *, seed: int = 0) -> xr.Dataset:
    """:func:`~alrnn_neuro.sweep.task_selection.select_by_accuracy` with ``criteria.toml``'s
    thresholds; ``correct`` (pwl_units, seed, trial)."""
    c = criteria()
    t = c["tasks"]
    return select_by_accuracy(
        correct,
        alpha=c["calibration"]["alpha"],
        min_effect=t["min_effect"],
        margin=t["margin"],
        n_boot=t["n_boot"],
        seed=seed,
    )


def sparse_suffices_result(
    selection: xr.Dataset, latent_dim: int, *, require_learned: bool = True, what: str = "accuracy"
) -> ClaimResult:
    """The sparse-P claim of one task from its :func:`task_selection`.

    Parameters
    ----------
    selection : xr.Dataset
        Output of :func:`task_selection`.
    latent_dim : int
        M.
    require_learned : bool
        Make the claim n.a. when no P reached ``tasks.min_learned_accuracy`` (the reproduction's
        own sweep). Controls pass False: they are judged by the tests alone, which untrained
        networks would otherwise never reach.
    what : str
        The accuracy's name in the evidence.
    """
    learned = criteria()["tasks"]["min_learned_accuracy"]
    ps = [int(p) for p in selection["pwl_units"].values]
    accuracy = selection["accuracy"].values
    per_p = f"held-out {what}: " + ", ".join(
        f"P={p} {a:.3f}" for p, a in zip(ps, accuracy, strict=True)
    )
    size = f"{selection.attrs['n_trials']} held-out trials, {selection.sizes.get('seed', 1)} seeds"
    best = int(np.argmax(accuracy))
    if require_learned and not accuracy[best] >= learned:
        return ClaimResult.not_testable(
            f"no P learned the task: best {what} {accuracy[best]:.3f} (P = {ps[best]}) < "
            f"tasks.min_learned_accuracy = {learned:g}; {per_p}"
        )
    insufficient = float(selection["zero_insufficient"])
    if math.isnan(insufficient):
        return ClaimResult.not_testable(f"the sweep has no P = 0; {per_p}")
    minimal = float(selection["minimal_pwl_units"])
    sparse = math.isfinite(minimal) and 0 < minimal < latent_dim
    gains = selection["gain_vs_zero"].values
    candidates = [i for i, p in enumerate(ps) if p > 0]
    shown = ps.index(int(minimal)) if sparse else max(candidates, key=lambda i: gains[i])
    ci = tuple(float(v) for v in selection["gain_vs_zero_ci"].values[shown])
    p_zero = float(selection["zero_insufficient_p"])
    p_value = p_zero
    if sparse:
        p_value = max(p_zero, float(selection["p_equivalent"].sel(pwl_units=int(minimal))))
    word = ": cannot tell" if not math.isfinite(minimal) else f" = {minimal:g}"
    return ClaimResult(
        holds=bool(insufficient == 1.0 and sparse),
        effect=float(gains[shown]),
        effect_name=f"{what} gain of P={ps[shown]} over P=0",
        ci=ci,
        p_value=p_value,
        evidence=(
            f"P = 0 insufficient: {insufficient == 1.0} (P={ps[shown]} gains "
            f"{gains[shown]:+.3f} [95% CI {ci[0]:+.3f}, {ci[1]:+.3f}], Bonferroni p = "
            f"{p_zero:.3g}); minimal sufficient P{word} (M = {latent_dim}, margin "
            f"{selection.attrs['margin']:g}); {per_p}; {size}"
        ),
    )


def sharing_test(trained: xr.Dataset, untrained: xr.Dataset, *, seed: int = 0) -> dict[str, Any]:
    """:func:`~alrnn_neuro.sweep.sharing_test.sharing_trend_test` of two ``multitask.nc``
    datasets (trained cells and untrained networks) with ``criteria.toml``'s settings."""
    m = criteria()["multitask"]
    return sharing_trend_test(
        trained["shared_index"].transpose("pwl_units", "seed").values,
        untrained["shared_index"].transpose("pwl_units", "seed").values,
        [int(p) for p in trained["pwl_units"].values],
        n_perm=m["n_perm"],
        n_boot=m["n_boot"],
        seed=seed,
    )


def sharing_result(test: dict[str, Any], latent_dim: int) -> ClaimResult:
    """The multi-task sharing claim from :func:`sharing_test`."""
    c = criteria()
    alpha, floor = c["calibration"]["alpha"], c["multitask"]["min_effect"]
    rows = zip(test["pwl_units"], test["trained_mean"], test["untrained_mean"], strict=True)
    per_p = "; ".join(f"P={p}: shared {s:.3f} (untrained {u:.3f})" for p, s, u in rows)
    if not test["testable"]:
        return ClaimResult.not_testable(f"{test['reason']}; {per_p}")
    holds = test["p_value"] < alpha and test["effect"] >= floor and test["slope_trained"] < 0
    lo, hi = test["ci"]
    return ClaimResult(
        holds=bool(holds),
        effect=test["effect"],
        effect_name="excess fall of the shared index per doubling of P (trained vs untrained)",
        ci=(lo, hi),
        p_value=test["p_value"],
        null_quantile=test["null_95"],
        evidence=(
            f"shared index per doubling of P: trained {test['slope_trained']:+.3f}, untrained "
            f"{test['slope_untrained']:+.3f}; excess fall {test['effect']:+.3f} [95% CI "
            f"{lo:+.3f}, {hi:+.3f}] (minimum {floor:g}), permutation p = {test['p_value']:.3g} "
            f"over {test['n_cells']} networks (M = {latent_dim}); {per_p}"
        ),
    )

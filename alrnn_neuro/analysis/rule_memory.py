"""Where and how a fitted AL-RNN keeps the rule: statistics that can fail.

:func:`hold_region_dependence` asks whether the region the state occupies during the hold
epoch depends on the rule (region x rule adjusted mutual information against a seeded
label-permutation null): rule-based integration needs rule-dependent regions, a linear model
has none. :func:`signed_rule_auc` reads the rule out of the latents at each trial's last hold
bin along the slow mode's left eigenvector with the *sign fixed on training trials* and the AUC
computed on held-out trials only, so chance is 0.5 and a readout that only separates the rules
by flipping its sign per split does not pass. :func:`routing_contrast` asks whether each
trial's stimulus-epoch regions route the feature *its* rule makes relevant, against a
rule-label permutation null over trials.

:func:`rule_shuffle_null` re-runs :func:`~alrnn_neuro.analysis.routing.rule_routing` with the
rule labels permuted: the distribution of the weakest selectivity of each level's *dominant*
region. It is kept for inspection but is not a valid null for that statistic: the labels only
pick which region is dominant, and where the regions split about evenly within each level the
permuted labels pick the same regions as the real ones about half the time (measured: a
selectivity of +0.85 had p = 0.32). The claims use :func:`routing_contrast`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr
from sklearn.metrics import adjusted_mutual_info_score, roc_auc_score

from alrnn_neuro.analysis.routing import choice_axis, feature_responses, last_bin, rule_routing
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import ALRNNParams

__all__ = [
    "hold_region_dependence",
    "routing_contrast",
    "rule_shuffle_null",
    "signed_rule_auc",
]


def hold_region_dependence(
    latents: xr.Dataset,
    *,
    rule: str = "rule",
    hold_epoch: str = "hold",
    n_null: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """AMI between the trial's modal hold-epoch region and its rule, with a permutation null.

    Parameters
    ----------
    latents : xr.Dataset
        A run's ``latents.nc`` (``bitcode``, ``valid``, ``epoch``, trial coord ``rule``).
    rule, hold_epoch : str
    n_null, seed : int
        Label permutations and their seed.

    Returns
    -------
    dict
        ``ami`` (modal hold region of each trial vs its rule), ``p_value``
        (``(1 + #{null >= ami}) / (1 + n_null)``), ``null_95`` (95th percentile of the null),
        ``n_trials``.
    """
    codes = np.asarray(latents["bitcode"].values)
    hold = np.asarray(latents["valid"].values, bool) & (
        np.asarray(latents["epoch"].values).astype(str) == hold_epoch
    )
    has = hold.any(1)
    if has.sum() < 4:
        raise DataValidationError(
            f"fewer than 4 trials have {hold_epoch!r} bins; fix: check hold_epoch= and epochs"
        )
    modal = np.array([_mode(codes[i][hold[i]]) for i in np.flatnonzero(has)])
    labels = np.asarray(latents[rule].values).astype(str)[has]
    ami = float(adjusted_mutual_info_score(labels, modal))
    rng = np.random.default_rng(seed)
    null = np.array(
        [adjusted_mutual_info_score(rng.permutation(labels), modal) for _ in range(n_null)]
    )
    return {
        "ami": ami,
        "p_value": float((1 + np.sum(null >= ami - 1e-12)) / (1 + n_null)),
        "null_95": float(np.quantile(null, 0.95)) if n_null else float("nan"),
        "n_trials": int(has.sum()),
    }


def signed_rule_auc(
    params: ALRNNParams,
    latents: xr.Dataset,
    train_trials: Sequence,
    test_trials: Sequence,
    *,
    rule: str = "rule",
    hold_epoch: str = "hold",
    positive: str | None = None,
) -> dict[str, float]:
    """Held-out ROC AUC of the rule along the hold region's slowest mode, sign set on training.

    The dominant region of the hold epoch (on training trials) gives the mode with the largest
    ``|lambda|``; the latents at each trial's last hold bin are projected on its left
    eigenvector. The projection's orientation (which rule is "high") is fixed on the training
    trials; the AUC is computed on the test trials with that orientation, so it can fall below
    0.5.

    Parameters
    ----------
    params : ALRNNParams
    latents : xr.Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid``, ``epoch``, trial coord
        ``rule`` (two levels).
    train_trials, test_trials : sequence of trial ids
    positive : str, optional
        The rule level scored as positive (default: the first level in sorted order).

    Returns
    -------
    dict
        ``auc`` (held-out, signed), ``train_auc``, ``region``, ``eigenvalue_modulus``,
        ``n_test``.
    """
    train = latents.sel(trial=np.asarray(train_trials))
    test = latents.sel(trial=np.asarray(test_trials))
    valid, epoch = train["valid"].values, train["epoch"].values.astype(str)
    m = valid & (epoch == hold_epoch)
    if not m.any():
        raise DataValidationError(f"no valid {hold_epoch!r} bins in the training trials")
    region = _mode(train["bitcode"].values[m])
    J = params.region_jacobians(np.array([region]))[0]
    lam, V = np.linalg.eig(J)
    i = int(np.argmax(np.abs(lam)))
    w = np.real(np.linalg.inv(V)[i])
    levels = sorted(set(np.asarray(latents[rule].values).astype(str).tolist()))
    if len(levels) != 2:
        raise DataValidationError(f"{rule!r} has levels {levels}; the AUC needs exactly two")
    positive = levels[0] if positive is None else positive

    def scores(part: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
        t = last_bin(part["valid"].values, part["epoch"].values.astype(str), hold_epoch)
        ok = t >= 0
        z = np.nan_to_num(part["latents"].values[np.flatnonzero(ok), t[ok]])
        y = np.asarray(part[rule].values).astype(str)[ok] == positive
        return z @ w, y

    s_train, y_train = scores(train)
    s_test, y_test = scores(test)
    sign = 1.0 if _auc(y_train, s_train) >= 0.5 else -1.0
    return {
        "auc": _auc(y_test, sign * s_test),
        "train_auc": _auc(y_train, sign * s_train),
        "region": int(region),
        "eigenvalue_modulus": float(abs(lam[i])),
        "n_test": int(y_test.size),
    }


def rule_shuffle_null(
    params: ALRNNParams,
    latents: xr.Dataset,
    *,
    rule: str = "rule",
    n_null: int = 40,
    seed: int = 0,
    **options,
) -> np.ndarray:
    """Weakest routing selectivity of :func:`rule_routing` with the rule labels permuted.

    Returns
    -------
    ndarray, shape (n_null,)
        ``min(selectivity)`` over the rule levels of each permutation (NaN where the routing
        analysis finds no bins for a level).
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(latents[rule].values)
    out = np.full(n_null, np.nan)
    for k in range(n_null):
        shuffled = latents.assign_coords({rule: ("trial", rng.permutation(labels))})
        try:
            table, _ = rule_routing(params, shuffled, rule=rule, **options)
        except DataValidationError:
            continue
        out[k] = float(table["selectivity"].min())
    return out


def routing_contrast(
    params: ALRNNParams,
    latents: xr.Dataset,
    input_names: Sequence[str] | None = None,
    *,
    rule: str = "rule",
    relevant: Mapping[str, str] | None = None,
    at_epoch: str = "stimulus",
    horizon: int = 10,
    n_null: int = 40,
    seed: int = 0,
) -> dict[str, float]:
    """Whether each trial's stimulus-epoch region routes *its rule's* feature, with a null.

    Every used ``at_epoch`` region r gets the selectivity ``si(r)`` of the first rule level's
    relevant feature over the other's (the readout-response contrast of
    :func:`~alrnn_neuro.analysis.routing.rule_routing`). A trial's score is the mean ``si`` of
    its ``at_epoch`` bins' regions; the statistic is half the difference of the mean trial
    score between the two rule levels, so it is +1 when every trial's regions route exactly its
    own rule's feature, and 0 when the regions do not depend on the rule. The null permutes the
    rule labels across trials (trials are the exchangeable unit): a routing table whose regions
    do not follow the rule cannot pass, however selective the regions are.

    Parameters
    ----------
    params : ALRNNParams
    latents : xr.Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid``, ``epoch`` and trial coords
        ``rule`` (two levels) and ``choice``.
    input_names : sequence of str, optional
        The model's input channels (default ``params.input_names``).
    relevant : mapping, optional
        Rule level -> relevant feature (default ``local`` -> location, ``pitch`` -> pitch).
    at_epoch : str
    horizon : int
        Steps of the readout response (as ``rule_routing``).
    n_null, seed : int
        Label permutations and their seed.

    Returns
    -------
    dict
        ``contrast``, ``p_value`` (``(1 + #{null >= contrast}) / (1 + n_null)``), ``null_95``,
        ``n_trials``, ``n_regions``.
    """
    names = list(params.input_names if input_names is None else input_names)
    relevant = dict(relevant or {"local": "location", "pitch": "pitch"})
    features = {"location": ("right_noise", "left_noise"), "pitch": ("low_pitch", "high_pitch")}
    missing = [c for pair in features.values() for c in pair if c not in names]
    if missing or len(relevant) != 2:
        raise DataValidationError(
            f"routing needs two rule levels and the inputs {missing or list(features)}; fix: "
            "pass relevant= with two levels and a model with the four sound inputs"
        )
    idx = {f: (names.index(a), names.index(b)) for f, (a, b) in features.items()}
    valid = np.asarray(latents["valid"].values, bool)
    epoch = np.asarray(latents["epoch"].values).astype(str)
    readout, _ = choice_axis(
        latents["latents"].values, valid, epoch, latents["choice"].values, at_epoch=at_epoch
    )
    bins = valid & (epoch == at_epoch)
    codes = np.asarray(latents["bitcode"].values)
    (first, first_feature), (second, _) = relevant.items()
    other = next(f for f in features if f != first_feature)
    si = {}
    for code in np.unique(codes[bins]).tolist():
        g = feature_responses(params, int(code), readout, idx, horizon=horizon)
        a, b = abs(g[first_feature]), abs(g[other])
        si[code] = (a - b) / max(a + b, 1e-12)
    has = bins.any(1)
    scores = np.array([np.mean([si[c] for c in codes[i][bins[i]]]) for i in np.flatnonzero(has)])
    labels = np.asarray(latents[rule].values).astype(str)[has]
    if not {first, second} <= set(labels.tolist()):
        raise DataValidationError(f"{rule!r} lacks one of {[first, second]} in {at_epoch!r} bins")

    def contrast(y: np.ndarray) -> float:
        return 0.5 * float(scores[y == first].mean() - scores[y == second].mean())

    observed = contrast(labels)
    rng = np.random.default_rng(seed)
    null = np.array([contrast(rng.permutation(labels)) for _ in range(n_null)])
    return {
        "contrast": observed,
        "p_value": float((1 + np.sum(null >= observed - 1e-12)) / (1 + n_null)),
        "null_95": float(np.quantile(null, 0.95)) if n_null else float("nan"),
        "n_trials": int(has.sum()),
        "n_regions": len(si),
    }


def _mode(x: np.ndarray) -> int:
    vals, counts = np.unique(x, return_counts=True)
    return int(vals[np.argmax(counts)])


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score))

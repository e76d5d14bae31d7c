"""Held-out trials of a sweep: one common test split, or K folds of trials.

The held-out trials are drawn from a *split seed* of their own, never from a model seed: every
model seed of a sweep is scored on the same trials, and changing the model seeds changes only
the initialisations.

* ``folds=1``: one test split, ``split_trials(ds, base_config.split, stratify=conditions,
  seed=split_seed)``; every cell is scored on its test trials.
* ``folds=K >= 2``: every trial gets one fold in ``0..K-1`` (:func:`fold_assignment`); a cell of
  fold k is fitted on the other folds' trials (split into train/validation in the base ratio) and
  scored on fold k's trials, so across the K folds every trial is held out exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.data.split import split_trials
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.metrics import condition_codes


def fold_assignment(
    ds: xr.Dataset, folds: int, *, stratify: Sequence[str] | None = None, seed: int = 0
) -> np.ndarray:
    """Assign every trial to one of ``folds`` folds, balanced within conditions.

    The trials of each stratum (a combination of the ``stratify`` trial coords) are shuffled
    with ``seed`` and dealt to the folds in turn, continuing the count from one stratum to the
    next, so fold sizes differ by at most one overall and within every stratum.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset with a ``trial`` dim.
    folds : int
        Number of folds K (2 <= K <= number of trials).
    stratify : sequence of str, optional
        Trial coords to balance across folds (e.g. ``["rule"]``).
    seed : int
        Split seed (independent of any model seed).

    Returns
    -------
    ndarray of int, shape (trial,)
        Fold of each trial, in the order of ``ds["trial"]``.

    Raises
    ------
    ConfigError
        If ``folds`` is not an integer in [2, n_trials].

    Examples
    --------
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> ds = make_dataset(np.zeros((7, 2, 1), dtype=np.int32), bin_size=0.1, align_event="go")
    >>> np.bincount(fold_assignment(ds, 3, seed=0)).tolist()
    [3, 2, 2]
    """
    n = int(ds.sizes["trial"])
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or not 2 <= folds <= n:
        raise ConfigError(
            f"folds={folds!r} with {n} trials; fix: use an integer from 2 to {n}, e.g. --folds 5"
        )
    codes = condition_codes(ds, list(stratify or ()))
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    dealt = 0
    for code in np.unique(codes):
        members = np.flatnonzero(codes == code)
        members = members[rng.permutation(members.size)]
        out[members] = (dealt + np.arange(members.size)) % folds
        dealt += members.size
    return out


def held_out_sets(
    ds: xr.Dataset,
    folds: int,
    split: Sequence[float],
    *,
    stratify: Sequence[str] | None,
    seed: int,
) -> list[np.ndarray]:
    """Test trial ids of each fold (one set when ``folds == 1``).

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset.
    folds : int
        1 (one test split of ``split``) or K >= 2 (K folds).
    split : sequence of float
        Train, validation and test fractions (only the test fraction matters, for ``folds=1``).
    stratify : sequence of str, optional
        Trial coords to balance.
    seed : int
        Split seed.

    Returns
    -------
    list of ndarray
        Sorted trial ids (values of ``ds["trial"]``) held out by each fold.
    """
    ids = ds["trial"].values
    if folds == 1:
        names = ("train", "val", "test")[: len(split)]
        fractions = dict(zip(names, split, strict=True))
        parts = split_trials(ds, fractions, stratify=stratify, seed=seed)
        return [np.sort(parts["test"])]
    assignment = fold_assignment(ds, folds, stratify=stratify, seed=seed)
    return [np.sort(ids[assignment == k]) for k in range(folds)]

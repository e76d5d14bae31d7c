"""Trial-wise train/validation/test splits, optionally stratified by trial variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError

DEFAULT_SPLIT_NAMES = ("train", "val", "test")


def split_trials(
    ds: xr.Dataset,
    fractions: Mapping[str, float] | Sequence[float] = (0.7, 0.15, 0.15),
    stratify: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split the trials of ``ds`` into disjoint sets, reproducibly.

    Within each stratum (a unique combination of the ``stratify`` trial coords) trials are
    shuffled with ``seed`` and cut by the fractions, rounding by largest remainder so each
    set's share matches the fractions as closely as the stratum size allows.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset with a ``trial`` dim.
    fractions : mapping of name to float, or sequence of float
        Share of trials per set; a sequence names its sets ``train``, ``val``, ``test``.
        Must be positive and sum to 1.
    stratify : sequence of str, optional
        Trial coords whose combinations are split separately (e.g. ``["rule", "choice"]``).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    dict of str to ndarray
        Sorted trial ids (values of the ``trial`` coord) per set.

    Examples
    --------
    >>> import numpy as np
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> ds = make_dataset(np.zeros((10, 2, 1), dtype=np.int32), bin_size=0.1, align_event="go")
    >>> parts = split_trials(ds, {"train": 0.8, "test": 0.2}, seed=1)
    >>> [len(parts[k]) for k in ("train", "test")]
    [8, 2]
    """
    shares = _as_mapping(fractions)
    strata = _strata(ds, stratify)
    rng = np.random.default_rng(seed)
    trial_ids = ds["trial"].values
    parts: dict[str, list[np.ndarray]] = {name: [] for name in shares}
    for members in strata:
        order = members[rng.permutation(members.size)]
        counts = _largest_remainder(order.size, list(shares.values()))
        edges = np.concatenate([[0], np.cumsum(counts)])
        for name, start, stop in zip(shares, edges[:-1], edges[1:], strict=True):
            parts[name].append(order[start:stop])
    return {name: np.sort(trial_ids[np.concatenate(idx)]) for name, idx in parts.items()}


def _as_mapping(fractions: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
    if isinstance(fractions, Mapping):
        shares = {str(k): float(v) for k, v in fractions.items()}
    else:
        values = list(fractions)
        if len(values) > len(DEFAULT_SPLIT_NAMES):
            raise ConfigError(
                f"fractions={values}: give at most 3 unnamed fractions (train, val, test), "
                "or a mapping such as {'train': 0.6, 'val': 0.2, 'test': 0.2}"
            )
        shares = dict(zip(DEFAULT_SPLIT_NAMES, map(float, values), strict=False))
    if not shares or any(not v > 0 for v in shares.values()):
        raise ConfigError(f"fractions={shares}: every fraction must be > 0")
    if abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ConfigError(
            f"fractions={shares} sum to {sum(shares.values()):.6g}; fix: make them sum to 1"
        )
    return shares


def _strata(ds: xr.Dataset, stratify: Sequence[str] | None) -> list[np.ndarray]:
    """Index arrays of the trials in each stratum (one stratum when ``stratify`` is empty)."""
    n_trials = ds.sizes["trial"]
    if not stratify:
        return [np.arange(n_trials)]
    missing = [name for name in stratify if name not in ds.coords or ds[name].dims != ("trial",)]
    if missing:
        available = sorted(str(n) for n, c in ds.coords.items() if c.dims == ("trial",))
        raise ConfigError(
            f"stratify names {missing}, which are not trial coords; fix: choose from {available}"
        )
    keys = np.stack([ds[name].values.astype(str) for name in stratify], axis=1)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]


def _largest_remainder(total: int, shares: list[float]) -> np.ndarray:
    """Integer counts summing to ``total`` whose ratios follow ``shares``."""
    exact = np.asarray(shares) * total
    counts = np.floor(exact).astype(int)
    remainder = total - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:remainder]] += 1
    return counts

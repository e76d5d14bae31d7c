"""The grid of a sweep: models x latent_dim x pwl_units x seeds x train_fraction (x fold).

A :class:`SweepGrid` is validated on construction; :meth:`SweepGrid.cells` lists one
:class:`Cell` (one fitted model) per combination, and :func:`group_cells` packs the AL-RNN cells
that can share one batched program (same M, train fraction and fold) into ensembles of at most
``max_members`` (capped by memory in a sweep: :mod:`alrnn_neuro.sweep.memory`). Baselines
(``rnn``, ``gru``, ``lstm``) have no PWL units: they get one cell per (latent_dim, seed,
train_fraction, fold), stored with ``pwl_units=0``. With ``folds=K >= 2`` every cell is fitted
K times, once per fold of trials (see :mod:`alrnn_neuro.sweep.folds`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.config import MAX_LATENT_DIM, MODELS, SEED_MAX

#: most AL-RNNs trained together in one ensemble task
MAX_MEMBERS = 1024


@dataclass(frozen=True)
class Cell:
    """One fit of the sweep.

    Attributes
    ----------
    model : str
        ``"alrnn"`` or a baseline.
    latent_dim : int
        M.
    pwl_units : int
        P (0 for baselines).
    seed : int
        Initialisation seed.
    train_fraction : float
        Share of the training trials used, in (0, 1].
    fold : int or None
        Held-out fold of a K-fold sweep (its trials are the cell's test trials); ``None`` in a
        sweep with one common test split.
    """

    model: str
    latent_dim: int
    pwl_units: int
    seed: int
    train_fraction: float
    fold: int | None = None

    @property
    def name(self) -> str:
        """Directory name, e.g. ``alrnn-M6-P2-seed0-tf0.3``, ``gru-M6-seed1-tf1`` or
        ``alrnn-M6-P1-seed0-tf1-fold2``."""
        pwl = f"-P{self.pwl_units}" if self.model == "alrnn" else ""
        fold = "" if self.fold is None else f"-fold{self.fold}"
        size = f"tf{self.train_fraction:g}{fold}"
        return f"{self.model}-M{self.latent_dim}{pwl}-seed{self.seed}-{size}"


@dataclass(frozen=True)
class SweepGrid:
    """Hyperparameter grid of a sweep.

    Attributes
    ----------
    models : tuple of str
        Any of ``alrnn``, ``rnn``, ``gru``, ``lstm``.
    pwl_units : tuple of int
        P values of the AL-RNN cells; each must be <= every ``latent_dims`` value.
    seeds : tuple of int
        Initialisation seeds (the data seed is the base config's ``seed``).
    train_fractions : tuple of float
        Shares of the training trials, each in (0, 1].
    latent_dims : tuple of int
        M values.
    max_members : int
        Largest number of AL-RNNs trained together as one ensemble (>= 1).
    folds : int
        1: every cell is scored on one common test split (``base_config.split``); K >= 2:
        K-fold cross-validation over trials, every cell fitted once per fold and every trial
        held out exactly once (:mod:`alrnn_neuro.sweep.folds`).

    Examples
    --------
    >>> grid = SweepGrid(models=("alrnn", "gru"), pwl_units=(0, 2), seeds=(0, 1))
    >>> len(grid.cells())
    6
    >>> len(SweepGrid(pwl_units=(0, 2), seeds=(0, 1), folds=3).cells())
    12
    """

    models: tuple[str, ...] = ("alrnn",)
    pwl_units: tuple[int, ...] = (0, 1, 2)
    seeds: tuple[int, ...] = (0, 1, 2)
    train_fractions: tuple[float, ...] = (1.0,)
    latent_dims: tuple[int, ...] = (6,)
    max_members: int = 16
    folds: int = 1

    def __post_init__(self) -> None:
        for name in ("models", "pwl_units", "seeds", "train_fractions", "latent_dims"):
            raw = getattr(self, name)
            if isinstance(raw, str) or not isinstance(raw, Iterable):
                hint = f"tuple(range({raw}))" if name == "seeds" and isinstance(raw, int) else ""
                raise ConfigError(
                    f"{name}={raw!r} is one value, not a list of them; fix: a tuple, e.g. "
                    f"{name}=({raw!r},){' or ' + hint if hint else ''}"
                )
            values = tuple(raw)
            if not values:
                raise ConfigError(f"{name} is empty; fix: give at least one value")
            if len(set(values)) != len(values):
                raise ConfigError(f"{name}={list(values)} repeats values; fix: list each once")
            object.__setattr__(self, name, values)
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise ConfigError(f"models holds unknown {bad}; fix: choose from {', '.join(MODELS)}")
        _integers("pwl_units", self.pwl_units, 0)
        _integers("seeds", self.seeds, 0, SEED_MAX)
        _integers("latent_dims", self.latent_dims, 1, MAX_LATENT_DIM)
        _integers("max_members", (self.max_members,), 1, MAX_MEMBERS)
        _integers("folds", (self.folds,), 1, MAX_MEMBERS)
        for f in self.train_fractions:
            ok = isinstance(f, int | float) and not isinstance(f, bool) and 0 < f <= 1
            if not (ok and math.isfinite(f)):
                raise ConfigError(f"train_fractions holds {f!r}; fix: use fractions in (0, 1]")
        object.__setattr__(self, "train_fractions", tuple(float(f) for f in self.train_fractions))
        if "alrnn" in self.models:
            too_big = [p for p in self.pwl_units if p > min(self.latent_dims)]
            if too_big:
                raise ConfigError(
                    f"pwl_units={too_big} > latent_dim={min(self.latent_dims)}: P > M is "
                    f"impossible; fix: use pwl_units <= {min(self.latent_dims)} or a larger "
                    "--latent-dim"
                )

    @property
    def fold_ids(self) -> tuple[int | None, ...]:
        """``(None,)`` for one common test split, else ``(0, ..., folds - 1)``."""
        return (None,) if self.folds == 1 else tuple(range(self.folds))

    def cells(self) -> list[Cell]:
        """Every cell of the grid, in a fixed order (model, M, fraction, fold, P, seed)."""
        out = []
        for model in self.models:
            pwl = self.pwl_units if model == "alrnn" else (0,)
            for m in self.latent_dims:
                for f in self.train_fractions:
                    for k in self.fold_ids:
                        out += [Cell(model, m, p, s, f, k) for p in pwl for s in self.seeds]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists instead of tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SweepGrid:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def group_cells(cells: list[Cell], max_members: int | Mapping[int, int]) -> list[tuple[Cell, ...]]:
    """Pack cells into groups run as one task.

    AL-RNN cells with the same M, train fraction and fold form ensembles of at most ``max_members``
    (one bound, or one per M, e.g. from :func:`~alrnn_neuro.sweep.memory.ensemble_size`),
    trained by :func:`~alrnn_neuro.training.fit_ensemble`; every baseline cell is its own group.

    Examples
    --------
    >>> cells = SweepGrid(pwl_units=(0, 1), seeds=(0, 1, 2), max_members=4).cells()
    >>> [len(g) for g in group_cells(cells, 4)]
    [4, 2]
    """
    groups: list[tuple[Cell, ...]] = []
    pending: dict[tuple[int, float, int | None], list[Cell]] = {}
    for cell in cells:
        if cell.model != "alrnn":
            groups.append((cell,))
            continue
        key = (cell.latent_dim, cell.train_fraction, cell.fold)
        pending.setdefault(key, []).append(cell)
    for (latent_dim, _, _), members in pending.items():
        size = max_members if isinstance(max_members, int) else max_members[latent_dim]
        for start in range(0, len(members), size):
            groups.append(tuple(members[start : start + size]))
    return groups


def _integers(name: str, values: tuple, low: int, high: int | None = None) -> None:
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < low]
    bad += [v for v in values if v not in bad and high is not None and v > high]
    if bad:
        within = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} holds {bad!r}; fix: use integers {within}")

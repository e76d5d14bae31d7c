"""Period-k cycles of an AL-RNN under constant input: exhaustive search and SCYFI.

A period-k cycle visits regions ``d_0, ..., d_{k-1}`` (the region of ``z_i`` sets the map that
produces ``z_{i+1}``). Along a fixed region sequence the k-step map is affine,
``z_k = Phi z_0 + o`` with ``Phi = J_{d_{k-1}} ... J_{d_0}``, so its candidate ``z_0`` solves
``(I - Phi) z_0 = o``. The candidate is a true cycle iff every ``z_i`` lies in ``d_i``.

*Exhaustive*: all aperiodic region sequences up to rotation (Lyndon words, about
``R**k / k`` of the ``R**k`` sequences over R regions), batched; feasible while
``R**k <= max_sequences``. *SCYFI* (Eisenmann et al., NeurIPS 2023): from random region
sequences, repeatedly solve for the candidate and move to the regions its points actually lie
in, until the sequence reproduces itself (a cycle) or ``max_iter``; batched over seeded
restarts. It finds cycles without the exponential cost but gives no completeness guarantee.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.dynamics import SINGLE_REGION_NOTE, safe_solve
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.params import ALRNNParams, bitcode

logger = logging.getLogger(__name__)

__all__ = ["Cycle", "CycleSearch", "cycle_dataset", "describe_method", "find_cycles"]

_COLUMNS = (
    "period",
    "regions",
    "bits",
    "stable",
    "max_abs_multiplier",
    "z0",
    "method",
    "restricted_to_visited",
)


@dataclass(frozen=True)
class Cycle:
    """One period-k orbit.

    Attributes
    ----------
    regions : tuple of int
        Region codes ``d_0..d_{k-1}``, rotated to the lexicographically smallest start.
    points : ndarray, shape (k, M)
        States ``z_0..z_{k-1}`` (latent).
    multipliers : ndarray of complex, shape (M,)
        Eigenvalues of ``Phi`` (Floquet multipliers); stable iff all moduli < 1.
    """

    regions: tuple[int, ...]
    points: np.ndarray = field(repr=False)
    multipliers: np.ndarray = field(repr=False)

    @property
    def period(self) -> int:
        return len(self.regions)

    @property
    def stable(self) -> bool:
        return bool(np.abs(self.multipliers).max(initial=0.0) < 1.0)


@dataclass(frozen=True)
class CycleSearch:
    """Result of :func:`find_cycles`.

    Attributes
    ----------
    period : int
    method : {"exhaustive", "scyfi"}
    cycles : tuple of Cycle
    n_candidates : int
        Region sequences solved (exhaustive) or candidate solves (SCYFI).
    restricted_to_visited : bool
        True if the exhaustive alphabet was the visited regions instead of all 2**P.
    note : str
        Remarks (e.g. that a P = 0 model has a single region).
    """

    period: int
    method: str
    cycles: tuple[Cycle, ...]
    n_candidates: int
    restricted_to_visited: bool = False
    note: str = ""

    def to_dataframe(self, n_pwl: int | None = None) -> pd.DataFrame:
        """One row per cycle (JSON-serialisable values)."""
        rows = []
        for cyc in self.cycles:
            rows.append(
                {
                    "period": cyc.period,
                    "regions": list(cyc.regions),
                    "bits": [format(c, f"0{n_pwl}b") for c in cyc.regions] if n_pwl else None,
                    "stable": cyc.stable,
                    "max_abs_multiplier": float(np.abs(cyc.multipliers).max(initial=0.0)),
                    "z0": cyc.points[0].tolist(),
                    "method": self.method,
                    "restricted_to_visited": self.restricted_to_visited,
                }
            )
        return pd.DataFrame(rows, columns=list(_COLUMNS))


def _lyndon_words(n_symbols: int, k: int) -> np.ndarray:
    """All aperiodic length-k words over ``range(n_symbols)`` minimal among their rotations."""
    total = n_symbols**k
    v = np.arange(total, dtype=np.int64)
    keep = np.ones(total, bool)
    for j in range(1, k):
        hi = n_symbols ** (k - j)
        keep &= v < (v % hi) * n_symbols**j + v // hi
    digits = np.stack(np.unravel_index(v[keep], (n_symbols,) * k), axis=1) if k else v[:0, None]
    return digits.astype(np.int64)


def _solve_sequences(J: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate points (n, k, M) and k-step matrices Phi (n, M, M) for Jacobians (n, k, M, M)."""
    n, k, M, _ = J.shape
    Phi = np.broadcast_to(np.eye(M), (n, M, M)).copy()
    o = np.zeros((n, M))
    for i in range(k):
        Phi = J[:, i] @ Phi
        o = np.einsum("nij,nj->ni", J[:, i], o) + c
    z = np.empty((n, k, M))
    z[:, 0] = safe_solve(np.eye(M)[None] - Phi, o[..., None])[..., 0]
    for i in range(1, k):
        z[:, i] = np.einsum("nij,nj->ni", J[:, i - 1], z[:, i - 1]) + c
    return z, Phi


def _canonical(seq: tuple[int, ...]) -> int:
    """Rotation index giving the lexicographically smallest rotation of ``seq``."""
    rots = [seq[i:] + seq[:i] for i in range(len(seq))]
    return min(range(len(seq)), key=rots.__getitem__)


def _make_cycle(seq: np.ndarray, z: np.ndarray, Phi: np.ndarray) -> Cycle | None:
    """A :class:`Cycle` in canonical rotation, or None if ``seq`` repeats a shorter word."""
    t = tuple(int(s) for s in seq)
    k = len(t)
    if any(k % m == 0 and t == t[m:] + t[:m] for m in range(1, k)):
        return None
    r = _canonical(t)
    return Cycle(t[r:] + t[:r], np.roll(z, -r, axis=0), np.linalg.eigvals(Phi))


def find_cycles(
    params: ALRNNParams,
    period: int,
    *,
    inputs: np.ndarray | None = None,
    method: str = "auto",
    visited: np.ndarray | None = None,
    max_sequences: int = 2**16,
    n_restarts: int = 200,
    max_iter: int = 100,
    seed: int = 0,
    chunk_size: int = 4096,
) -> CycleSearch:
    """Find all (exhaustive) or many (SCYFI) period-``period`` cycles under constant input.

    Parameters
    ----------
    params : ALRNNParams
        The model (``ALRNNParams.from_model(fit)``).
    period : int
        Cycle length k >= 1 (k = 1 gives the real fixed points).
    inputs : ndarray, shape (K,), optional
        Constant input s (default 0); the drive is ``h + C s``.
    method : {"auto", "exhaustive", "scyfi"}
        ``auto``: exhaustive over all 2**P regions if ``2**(P k) <= max_sequences``, else over
        the ``visited`` regions if given and ``len(visited)**k <= max_sequences`` (flagged
        ``restricted_to_visited``), else SCYFI.
    visited : ndarray of int, optional
        Regions visited by the data (fallback alphabet; SCYFI starts from them).
    max_sequences : int
        Largest number of region sequences enumerated.
    n_restarts, max_iter, seed : int
        SCYFI restarts (batched), iterations per restart, and RNG seed.
    chunk_size : int
        Sequences per batch in the exhaustive search.

    Returns
    -------
    CycleSearch
        Distinct cycles of minimal period k, with the method used.

    Examples
    --------
    The 1-D map ``z' = 0.2 z - 3.2 relu(z) + 1`` has a stable 2-cycle through both regions:

    >>> p = ALRNNParams(A=[0.2], W=[[-3.2]], C=np.zeros((1, 0)), h=[1.0], n_pwl=1)
    >>> res = find_cycles(p, 2)
    >>> res.method, [c.regions for c in res.cycles], res.cycles[0].points.ravel().tolist()
    ('exhaustive', [(0, 1)], [-1.25, 0.75])
    """
    n_pwl = params.n_pwl
    if period < 1:
        raise ConfigError(f"period={period} must be >= 1.")
    k_in = params.input_dim
    s = np.zeros(k_in) if inputs is None else np.asarray(inputs, np.float64).ravel()
    if s.shape != (k_in,):
        raise ConfigError(f"inputs must have K={k_in} values; got shape {np.shape(inputs)}.")
    c = params.drive(s)
    if method not in ("auto", "exhaustive", "scyfi"):
        raise ConfigError(f"method={method!r}; choose 'auto', 'exhaustive' or 'scyfi'.")
    alphabet, restricted = None, False
    if method != "scyfi":
        if 2.0 ** (n_pwl * period) <= max_sequences:
            alphabet = np.arange(2**n_pwl, dtype=np.int64)
        elif visited is not None and float(len(visited)) ** period <= max_sequences:
            alphabet, restricted = np.unique(np.asarray(visited, np.int64)), True
            logger.warning(
                "find_cycles: 2**(P k) = 2**%d sequences infeasible; searching the %d visited "
                "regions only",
                n_pwl * period,
                len(alphabet),
            )
        elif method == "exhaustive":
            raise ConfigError(
                f"exhaustive search needs 2**(P*k) = 2**{n_pwl * period} > max_sequences="
                f"{max_sequences} sequences. Fix: pass visited=, raise max_sequences, or use "
                "method='scyfi'."
            )
    if alphabet is not None:
        out = _exhaustive(params, c, period, alphabet, restricted, chunk_size)
    else:
        out = _scyfi(params, c, period, visited, n_restarts, max_iter, seed)
    if n_pwl == 0:
        logger.info("find_cycles: %s", SINGLE_REGION_NOTE)
        out = dataclasses.replace(out, note=SINGLE_REGION_NOTE)
    return out


def _exhaustive(params, c, k, alphabet, restricted, chunk_size) -> CycleSearch:
    words = _lyndon_words(len(alphabet), k)
    J_alpha = params.region_jacobians(alphabet)
    cycles = []
    for lo in range(0, len(words), chunk_size):
        seq = alphabet[words[lo : lo + chunk_size]]
        z, Phi = _solve_sequences(J_alpha[words[lo : lo + chunk_size]], c)
        ok = np.all(params.bitcode(z) == seq, axis=1) & np.isfinite(z).all((1, 2))
        for i in np.nonzero(ok)[0]:
            cyc = _make_cycle(seq[i], z[i], Phi[i])
            if cyc is not None:
                cycles.append(cyc)
    return CycleSearch(k, "exhaustive", tuple(cycles), len(words), restricted)


def _scyfi(params, c, k, visited, n_restarts, max_iter, seed) -> CycleSearch:
    rng = np.random.default_rng(seed)
    n_pwl, m = params.n_pwl, params.latent_dim
    if visited is not None and len(visited):
        seq = rng.choice(np.asarray(visited, np.int64), size=(n_restarts, k))
    else:
        seq = rng.integers(0, 2**n_pwl, size=(n_restarts, k), dtype=np.int64)
    found: dict[tuple[int, ...], Cycle] = {}
    n_solves = 0
    for _ in range(max_iter):
        if not len(seq):
            break
        J = params.region_jacobians(seq.ravel()).reshape(len(seq), k, m, m)
        z, Phi = _solve_sequences(J, c)
        n_solves += len(seq)
        actual = bitcode(np.nan_to_num(z, nan=0.0), n_pwl)
        done = np.all(actual == seq, axis=1) & np.isfinite(z).all((1, 2))
        for i in np.nonzero(done)[0]:
            cyc = _make_cycle(seq[i], z[i], Phi[i])
            if cyc is not None:
                found.setdefault(cyc.regions, cyc)
        seq = actual[~done]
    cycles = tuple(found[key] for key in sorted(found))
    logger.info(
        "find_cycles: SCYFI found %d period-%d cycles in %d solves", len(cycles), k, n_solves
    )
    return CycleSearch(k, "scyfi", cycles, n_solves, False)


def describe_method(search: CycleSearch, n_pwl: int) -> str:
    """How a search was done, in words (for summaries)."""
    if search.method == "scyfi":
        return f"SCYFI heuristic ({search.n_candidates} solves; not exhaustive)"
    where = "visited regions" if search.restricted_to_visited else f"all {2**n_pwl} regions"
    return f"exhaustive over {where} ({search.n_candidates} sequences)"


def cycle_dataset(
    params: ALRNNParams,
    *,
    inputs: xr.DataArray | None = None,
    periods: Sequence[int] = (2, 3),
    visited: np.ndarray | None = None,
    seed: int = 0,
    **options,
) -> xr.Dataset:
    """Cycles of each period under each condition's constant input, as one labelled Dataset.

    Parameters
    ----------
    params : ALRNNParams
        The model.
    inputs : DataArray, dims (epoch, input), optional
        Constant inputs to search under, one per epoch (e.g.
        :func:`~alrnn_neuro.analysis.epoch_mean_inputs`); default zero input (epoch "none").
    periods : sequence of int
        Periods k to search (each >= 1).
    visited : ndarray of int, optional
        Regions visited by the data (the fallback alphabet when 2**(P k) is too large).
    seed : int
        SCYFI seed.
    **options
        Passed to :func:`find_cycles` (``max_sequences``, ``n_restarts``, ``max_iter``).

    Returns
    -------
    Dataset
        dims ``cycle``, ``cycle_step`` (max period), ``latent``: ``cycle_period``,
        ``cycle_epoch`` (input condition), ``cycle_regions`` (cycle, cycle_step; -1 padded),
        ``cycle_stable``, ``cycle_max_multiplier`` (largest Floquet multiplier modulus),
        ``cycle_points`` (cycle, cycle_step, latent; NaN padded). attrs ``cycle_periods``
        ("2,3"), ``cycle_method_k<k>`` (how period k was searched, see
        :func:`describe_method`).
    """
    M = params.latent_dim
    if inputs is None:
        conds, drives = ["none"], [None]
    else:
        conds = [str(e) for e in inputs["epoch"].values]
        drives = list(inputs.transpose("epoch", "input").values)
    width = max(periods, default=1)
    rows: list[tuple] = []
    attrs: dict[str, str] = {"cycle_periods": ",".join(str(k) for k in periods)}
    for k in periods:
        for cond, s in zip(conds, drives, strict=True):
            res = find_cycles(params, k, inputs=s, visited=visited, seed=seed, **options)
            attrs[f"cycle_method_k{k}"] = describe_method(res, params.n_pwl)
            rows += [(cond, cyc) for cyc in res.cycles]
    regions = np.full((len(rows), width), -1, np.int64)
    points = np.full((len(rows), width, M), np.nan)
    for i, (_, cyc) in enumerate(rows):
        regions[i, : cyc.period] = cyc.regions
        points[i, : cyc.period] = cyc.points
    return xr.Dataset(
        {
            "cycle_period": ("cycle", np.array([c.period for _, c in rows], np.int64)),
            "cycle_epoch": ("cycle", np.array([e for e, _ in rows], dtype=str)),
            "cycle_regions": (("cycle", "cycle_step"), regions),
            "cycle_stable": ("cycle", np.array([c.stable for _, c in rows], bool)),
            "cycle_max_multiplier": (
                "cycle",
                np.array([np.abs(c.multipliers).max(initial=0.0) for _, c in rows], float),
            ),
            "cycle_points": (("cycle", "cycle_step", "latent"), points),
        },
        attrs=attrs,
    )

"""Benchmark: vectorised condition-label permutation tests for RDM comparisons.

Usage::

    python benchmarks/bench_rsa.py [--json PATH]

Figures (seconds are medians of 3 calls after one warm-up call):

* ``perm_10k_16cond_seconds``: observed Spearman + 10,000 permutations, 16-condition RDM pair
  (target < 1 s on two CPU cores);
* ``perm_10k_16cond_tau_a_seconds``: the same for Kendall's tau-a (vectorised over pairs);
* ``perm_10k_16cond_cka_seconds``: the same for debiased linear CKA;
* ``*_cpu_seconds``: process CPU time of one call for the Spearman and tau-a figures (shows
  the cost apart from other load on a shared machine);
* ``reference_naive_loop_seconds``: a Python loop over permutations that permutes the matrix
  and calls ``scipy.stats.spearmanr`` each time, **timed on 500 permutations and extrapolated
  linearly** to 10,000, in the same process; its null values are checked against ours on
  those permutations;
* ``speedup_vs_naive_loop``: reference / ours (Spearman).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parse_args, report, time_call  # noqa: E402

from alrnn_neuro.analysis.rsa.compare import rdm_vector  # noqa: E402
from alrnn_neuro.analysis.rsa.inference import permutation_null, permutations  # noqa: E402

N_COND, N_PERM, N_NAIVE, SEED = 16, 10_000, 500, 0


def _rdms() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(N_COND, 20))
    a = squareform(pdist(x, "sqeuclidean"))
    b = squareform(pdist(x + rng.normal(size=x.shape), "sqeuclidean"))
    return a, b


def _naive_null(a: np.ndarray, b: np.ndarray, perms: np.ndarray) -> np.ndarray:
    va = rdm_vector(a)
    return np.array([spearmanr(va, rdm_vector(b[np.ix_(p, p)]))[0] for p in perms])


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(__doc__.splitlines()[0], argv)
    a, b = _rdms()
    permutation_null(a[:5, :5], b[:5, :5], n_perm=10)  # warm-up (imports, caches)
    figures: dict[str, float] = {}
    for key, method in (
        ("perm_10k_16cond_seconds", "spearman"),
        ("perm_10k_16cond_tau_a_seconds", "kendall_tau_a"),
        ("perm_10k_16cond_cka_seconds", "cka"),
    ):
        figures[key] = time_call(
            lambda m=method: permutation_null(a, b, compare=m, n_perm=N_PERM, seed=SEED)
        )
    for key, method in (
        ("perm_10k_16cond_cpu_seconds", "spearman"),
        ("perm_10k_16cond_tau_a_cpu_seconds", "kendall_tau_a"),
    ):
        start = time.process_time()
        permutation_null(a, b, compare=method, n_perm=N_PERM, seed=SEED)
        figures[key] = time.process_time() - start
    perms = permutations(N_COND, N_NAIVE, seed=SEED)
    _, ours = permutation_null(a, b, compare="spearman", perms=perms)
    reference = _naive_null(a, b, perms)
    if not np.allclose(ours, reference, atol=1e-12):
        raise RuntimeError("vectorised null differs from the naive loop")
    naive = time_call(lambda: _naive_null(a, b, perms), repeat=1) * N_PERM / N_NAIVE
    figures["reference_naive_loop_seconds"] = naive
    figures["speedup_vs_naive_loop"] = naive / figures["perm_10k_16cond_seconds"]
    report(figures, args.json)
    return figures


if __name__ == "__main__":
    main()

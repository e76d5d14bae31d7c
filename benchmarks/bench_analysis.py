"""Benchmark: exact per-region dynamics and regime analyses of an AL-RNN.

Usage::

    python benchmarks/bench_analysis.py [--json PATH]

Figures (seconds are medians of 3 calls after a warm-up on a tiny model):

* ``fixed_points_2p16_seconds``: fixed points of all 2^16 regions of an M=64, P=16 model
  under one constant input (``fixed_points``, low-rank route; target < 2 s on two CPU cores);
* ``fixed_points_2p16_cpu_seconds``: the same in CPU seconds of this process (fair when other
  jobs share the cores);
* ``reference_direct_lu_2p16_seconds``: batched LU of every ``I - J_d`` (64 x 64), **timed on
  4,096 regions and extrapolated linearly** to 2^16, in the same process; its points are
  checked against ours on those regions;
* ``speedup_vs_direct_lu``: reference / ours;
* ``n_real_fixed_points_2p16``: real fixed points found (the model is stable: exactly one, and
  it is checked against the attractor reached by simulating the model);
* ``region_dynamics_256_seconds``: Jacobians + eigendecompositions + stability + fixed points
  of 256 used regions of the same model;
* ``scyfi_period2_seconds``: SCYFI search for 2-cycles of the same model (100 restarts);
* ``regime_usage_seconds``: ``region_usage`` + ``transition_matrix`` + ``dwell_times`` on a
  500-trial x 60-step bitcode;
* ``alignment_scores_200null_seconds``: ``alignment_scores`` (epoch + rule, per epoch, 200
  circular and shuffle null draws) on the same bitcode.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parse_args, report, time_call  # noqa: E402

from alrnn_neuro.analysis import (  # noqa: E402
    alignment_scores,
    dwell_times,
    find_cycles,
    fixed_points,
    region_dynamics,
    region_usage,
    transition_matrix,
)
from alrnn_neuro.models.params import ALRNNParams  # noqa: E402

M, P, K, SEED, N_REFERENCE = 64, 16, 8, 0, 4096


def make_model(m: int = M, p: int = P, seed: int = SEED) -> ALRNNParams:
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.3, 0.9, m)
    W = rng.normal(0, 0.2 / np.sqrt(m), (m, m))  # stable: one real (attracting) fixed point
    return ALRNNParams(A=A, W=W, C=rng.normal(0, 0.3, (m, K)), h=rng.normal(0, 0.3, m), n_pwl=p)


def make_bitcode(n_trials: int = 500, n_time: int = 60, seed: int = SEED):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(40, n_time + 1, n_trials)
    valid = np.arange(n_time)[None] < lengths[:, None]
    t = np.arange(n_time)
    epoch = np.where(t < 15, "pre", np.where(t < 35, "stim", "resp"))[None].repeat(n_trials, 0)
    rule = rng.choice(["loc", "pitch"], n_trials)
    codes = np.where(
        epoch == "pre", 0, np.where(epoch == "stim", 1 + (rule[:, None] == "pitch"), 3)
    )
    codes = np.where(rng.random(codes.shape) < 0.1, rng.integers(0, 64, codes.shape), codes)
    coords = {"trial": np.arange(n_trials), "time": (t + 0.5) * 0.05, "rule": ("trial", rule)}
    dims = ("trial", "time")
    bitcode = xr.DataArray(np.where(valid, codes, -1), dims=dims, coords=coords)
    return (
        bitcode,
        xr.DataArray(valid, dims=dims),
        xr.DataArray(np.where(valid, epoch, ""), dims=dims),
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    model = make_model()
    s = np.full(K, 0.5)
    fixed_points(make_model(8, 4), inputs=np.zeros(K))  # warm-up (imports, BLAS threads)

    ours = time_call(lambda: fixed_points(model, inputs=s))
    cpu0 = time.process_time()
    full = fixed_points(model, inputs=s)
    cpu = time.process_time() - cpu0
    if full.attrs["method"] != "woodbury":
        raise RuntimeError(f"expected the low-rank route, got {full.attrs['method']!r}")

    subset = np.random.default_rng(1).choice(2**P, N_REFERENCE, replace=False)
    ref_sub = time_call(
        lambda: fixed_points(model, inputs=s, codes=subset, method="direct"), repeat=1
    )
    ref = fixed_points(model, inputs=s, codes=subset, method="direct")
    ours_sub = full.fixed_point.sel(region=subset).values
    err = np.abs(ours_sub - ref.fixed_point.values).max() / np.abs(ref.fixed_point.values).max()
    if not err < 1e-8:
        raise RuntimeError(f"low-rank fixed points disagree with direct LU (rel. error {err:.2e})")
    reference = ref_sub * 2**P / N_REFERENCE
    # the one real fixed point must be the attractor reached by simulating the true map
    z = np.zeros(M)
    for _ in range(3000):
        rectified = np.r_[z[: M - P], np.maximum(z[M - P :], 0)]
        z = model.A * z + model.W @ rectified + model.h + model.C @ s
    real = full.fixed_point.values[full.is_real.values[:, 0], 0]
    if len(real) != 1 or not np.allclose(real[0], z, atol=1e-8):
        raise RuntimeError(f"expected one real fixed point at the attractor, got {len(real)}")

    used = np.random.default_rng(2).choice(2**P, 256, replace=False)
    dyn = time_call(lambda: region_dynamics(model, codes=used, inputs=s))
    scyfi = time_call(
        lambda: find_cycles(model, 2, inputs=s, method="scyfi", n_restarts=100, seed=0)
    )
    bitcode, valid, epoch = make_bitcode()

    def usage():
        region_usage(bitcode, valid)
        transition_matrix(bitcode, valid)
        dwell_times(bitcode, valid)

    regimes = time_call(usage)
    align = time_call(
        lambda: alignment_scores(bitcode, valid, epoch, ["rule"], n_null=200, seed=0), repeat=1
    )
    report(
        {
            "fixed_points_2p16_seconds": ours,
            "fixed_points_2p16_cpu_seconds": cpu,
            "reference_direct_lu_2p16_seconds": reference,
            "speedup_vs_direct_lu": reference / ours,
            "n_real_fixed_points_2p16": int(full.is_real.values.sum()),
            "region_dynamics_256_seconds": dyn,
            "scyfi_period2_seconds": scyfi,
            "regime_usage_seconds": regimes,
            "alignment_scores_200null_seconds": align,
        },
        args.json,
    )


if __name__ == "__main__":
    main()

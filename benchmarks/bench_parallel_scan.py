"""Benchmark: the parallel-in-time AL-RNN forward pass against the sequential engine.

Usage::

    python benchmarks/bench_parallel_scan.py [--json PATH] [--device cpu|cuda] [--threads N]

For every latent size M in ``--sizes`` (6, 16), batch in ``--batches`` (1, 16), P in
{0, M // 2} and sequence length T in ``--lengths`` (100, 1,000, 10,000), both contenders run
the forward pass (no gradient) of the same random stable AL-RNN on the same drive, interleaved
round-robin in this process after a warm-up call:

* ``sequential``: :func:`alrnn_neuro.models.engine.alrnn_scan` with ``parallel=False`` (one
  step after the other);
* ``parallel``: :func:`alrnn_neuro.models.parallel_scan.parallel_alrnn_scan` (bitcode
  iteration + associative scan; falls back to the sequential engine where codes do not settle).

Model: A ~ U(0.3, 0.7), W ~ N(0, (0.3 / sqrt(M))^2), the last P units rectified. Drive: held
for 25 steps at a time (task epochs) at N(0, 1) per unit, plus N(0, 0.1^2) per step.

Figures (``<cfg>`` = ``M{m}_B{b}_P{p}``; milliseconds are medians over ``--repeat`` rounds):

* ``<cfg>_T{t}_sequential_ms``, ``<cfg>_T{t}_parallel_ms``;
* ``<cfg>_T{t}_ratio`` = parallel / sequential (< 1: the parallel pass is faster);
* ``<cfg>_T{t}_iterations`` (scans over all windows), ``<cfg>_T{t}_windows``,
  ``<cfg>_T{t}_sequential_steps`` (fallback);
* ``<cfg>_crossover_T``: the smallest measured T from which on the parallel pass is faster
  at every longer measured T (0: at none);
* ``recommended_crossover_T_linear`` / ``_pwl``: the largest crossover over the P = 0 / P > 0
  configurations, i.e. a T above which the parallel pass won for every measured batch and M
  (0: some configuration never won, so do not use it there);
* ``max_relative_error`` of the parallel states (and of the engine's) against the
  sequential ones; ``torch_threads``;
* ``<cfg>_T{t}_engine_ms``: the engine itself (:func:`~alrnn_neuro.models.engine.alrnn_scan`
  under ``torch.no_grad``, its default ``parallel=None``), which runs the parallel scan for
  linear models where :func:`~alrnn_neuro.models.linear_scan.prefer_linear_scan` says so
  (``<cfg>_T{t}_engine_uses_parallel`` = 1), else its loop;
* ``engine_choice_agrees_fraction``: share of the measured configurations where that choice
  is the faster contender of this run; ``engine_vs_faster_max``: the engine's time over the
  faster contender's, worst configuration (about 1 when it always picks the faster one).

Threads: ``--threads`` defaults to 1 (the fit's setting); the parallel pass trades sequential
steps for O(M) more arithmetic per step, so it gains most where the sequential loop is bound
by per-step overhead (small batch x M, a GPU).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import report  # noqa: E402

from alrnn_neuro.models.engine import alrnn_scan  # noqa: E402
from alrnn_neuro.models.linear_scan import prefer_linear_scan  # noqa: E402
from alrnn_neuro.models.parallel_scan import parallel_alrnn_scan  # noqa: E402

SIZES, BATCHES, LENGTHS = (6, 16), (1, 16), (100, 1_000, 10_000)
HOLD = 25
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _problem(m: int, p: int, batch: int, n_steps: int, device: str, dtype, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    A = 0.3 + 0.4 * torch.rand(m, generator=gen, dtype=torch.float64)
    W = torch.randn(m, m, generator=gen, dtype=torch.float64) * 0.3 / math.sqrt(m)
    mask = (torch.arange(m) >= m - p).to(torch.float64)
    n_epochs = -(-n_steps // HOLD)
    held = torch.randn(n_epochs, batch, m, generator=gen, dtype=torch.float64)
    drive = held.repeat_interleave(HOLD, dim=0)[:n_steps]
    drive = drive + 0.1 * torch.randn(n_steps, batch, m, generator=gen, dtype=torch.float64)
    z0 = torch.zeros(batch, m, dtype=torch.float64)
    return tuple(x.to(device=device, dtype=dtype) for x in (drive, z0, A, W, mask))


def _contenders(args_: tuple, sync) -> dict:
    drive, z0, A, W, mask = args_

    def sequential():
        with torch.no_grad():
            out = alrnn_scan(drive, z0, A, W, mask, parallel=False)
        sync()
        return out

    def parallel():
        out = parallel_alrnn_scan(drive, z0, A, W, mask)
        sync()
        return out

    def engine():  # the engine's own choice (parallel=None)
        with torch.no_grad():
            out = alrnn_scan(drive, z0, A, W, mask)
        sync()
        return out

    return {"sequential": sequential, "parallel": parallel, "engine": engine}


def _time_interleaved(fns: dict, repeat: int, clock) -> tuple[dict[str, float], dict]:
    results = {name: fn() for name, fn in fns.items()}  # warm-up, kept for the checks
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: 1e3 * statistics.median(v) for name, v in times.items()}, results


def _crossover(ratios: dict[int, float]) -> int:
    """Smallest T from which on every longer measured T has ratio < 1 (0: none)."""
    best = 0
    for n_steps in sorted(ratios, reverse=True):
        if ratios[n_steps] >= 1.0:
            break
        best = n_steps
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", default=None, help="write figures as JSON")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per contender")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--dtype", default="float32", choices=tuple(DTYPES))
    parser.add_argument("--linear-only", action="store_true", help="only P = 0 (no P = M // 2)")
    parser.add_argument("--clock", default="wall", choices=tuple(CLOCKS))
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    figures: dict[str, float] = {"torch_threads": torch.get_num_threads()}
    crossovers: dict[bool, list[int]] = {False: [], True: []}
    worst_error, choices, agreed, engine_vs_best = 0.0, 0, 0, []
    print(
        f"device={args.device} threads={torch.get_num_threads()} dtype={args.dtype} "
        f"clock={args.clock} repeat={args.repeat}"
    )
    print(
        "   M   B   P       T  sequential_ms  parallel_ms  ratio  iterations  windows  "
        "engine_ms  engine_uses"
    )
    for m in args.sizes:
        for batch in args.batches:
            for p in (0,) if args.linear_only else (0, m // 2):
                cfg, ratios = f"M{m}_B{batch}_P{p}", {}
                for n_steps in args.lengths:
                    problem = _problem(m, p, batch, n_steps, args.device, DTYPES[args.dtype])
                    ms, out = _time_interleaved(
                        _contenders(problem, sync), args.repeat, CLOCKS[args.clock]
                    )
                    result, expected = out["parallel"], out["sequential"]
                    scale = expected.abs().max().clamp_min(1e-30)
                    for states in (result.states, out["engine"]):
                        error = float((states - expected).abs().max() / scale)
                        worst_error = max(worst_error, error)
                    ratio = ms["parallel"] / ms["sequential"]
                    ratios[n_steps] = ratio
                    uses = p == 0 and prefer_linear_scan(n_steps, batch, m)
                    choices += 1
                    agreed += uses == (ratio < 1.0)
                    engine_vs_best.append(ms["engine"] / min(ms["sequential"], ms["parallel"]))
                    key = f"{cfg}_T{n_steps}"
                    figures[f"{key}_sequential_ms"] = ms["sequential"]
                    figures[f"{key}_parallel_ms"] = ms["parallel"]
                    figures[f"{key}_ratio"] = ratio
                    figures[f"{key}_iterations"] = result.iterations
                    figures[f"{key}_windows"] = result.windows
                    figures[f"{key}_sequential_steps"] = result.sequential_steps
                    figures[f"{key}_engine_ms"] = ms["engine"]
                    figures[f"{key}_engine_uses_parallel"] = int(uses)
                    print(
                        f"{m:4d} {batch:3d} {p:3d} {n_steps:7d} {ms['sequential']:14.2f} "
                        f"{ms['parallel']:12.2f} {ratio:6.2f} {result.iterations:11d} "
                        f"{result.windows:8d} {ms['engine']:10.2f} {'parallel' if uses else '':>11}"
                    )
                crossover = _crossover(ratios)
                figures[f"{cfg}_crossover_T"] = crossover
                crossovers[p > 0].append(crossover)
    for pwl, name in ((False, "linear"), (True, "pwl")):
        values = crossovers[pwl]
        if not values:
            continue
        figures[f"recommended_crossover_T_{name}"] = 0 if 0 in values else max(values)
    figures["max_relative_error"] = worst_error
    figures["engine_choice_agrees_fraction"] = agreed / max(choices, 1)
    figures["engine_vs_faster_max"] = max(engine_vs_best, default=float("nan"))
    report(figures, args.json)
    return figures


if __name__ == "__main__":
    main()

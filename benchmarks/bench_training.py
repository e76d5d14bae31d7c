"""Benchmark: one AL-RNN training step against torch.nn.RNN and the plain per-step loop.

Usage::

    python benchmarks/bench_training.py [--json PATH] [--device cpu|cuda] [--threads N]
                                        [--compare-threads N ...] [--clock wall|cpu]
                                        [--default-allocator]

One training step = forward over a batch of 64 trials x 100 steps with 8 inputs, a Poisson
readout of 30 units (the same ``PoissonReadout`` loss for every model, with ``log(y!)``
summed once per dataset as in a fit), backward, and an Adam step (the fit's fused Adam,
:func:`~alrnn_neuro.training.loop.make_optimizer`). For each latent size M in {6, 16, 64}
four contenders run in the same process, interleaved round-robin (so background load hits
all alike), after warm-up calls:

* ``alrnn``: :class:`ALRNN` (P = M // 2) with the fast engine (hand-written BPTT; its
  compiled loops on CPU, :mod:`alrnn_neuro.models.compiled_scan`);
* ``nn_rnn``: ``torch.nn.RNN(nonlinearity="relu")`` of the same hidden size;
* ``plain``: the same AL-RNN through its per-step autograd loop (``engine="plain"``);
* ``readout_only``: an engine that costs nothing -- the latents are a fixed leaf tensor in the
  fast engine's (time, batch) row layout; the step is the readout's loss, its backward and
  Adam on the readout. No engine can make its step cheaper than this.

Figures (milliseconds are medians over ``--repeat`` rounds):

* ``M{m}_{alrnn,nn_rnn,plain}_ms`` per size;
* ``M{m}_ratio_vs_nn_rnn`` = alrnn / nn_rnn;
* ``M{m}_speedup_vs_plain_loop`` = plain / alrnn;
* ``max_ratio_vs_nn_rnn``, ``min_speedup_vs_plain_loop`` over sizes (targets <= 0.8 and
  >= 3 with one thread); ``torch_threads``;
* ``M{m}_readout_only_ms`` and the bounds it sets, what an engine that cost nothing would
  reach: ``M{m}_ratio_bound_vs_nn_rnn`` = readout_only / nn_rnn and
  ``M{m}_speedup_bound_vs_plain_loop`` = plain / readout_only; and
  ``M{m}_engine_share`` = (alrnn - readout_only) / alrnn, the part of the step the engine
  itself still costs.

Threads: the main figures use ``--threads`` (default: the fit's own setting,
``FitConfig.threads`` = 1) for torch and for the BLAS of numpy and scipy (which the engine's
compiled loops call); every count in ``--compare-threads`` (default 2) is measured
after them, its figures prefixed ``threads{N}_`` (e.g. ``threads2_max_ratio_vs_nn_rnn``).
Allocator: like a fit, the benchmark keeps freed memory in the process
(:mod:`alrnn_neuro.training.allocator`; figure ``keeps_freed_memory``), which spares every
contender a page fault per freshly allocated page each step; ``--default-allocator`` measures
with glibc's defaults instead.
Clock: ``--clock wall`` (default) times wall-clock seconds; ``--clock cpu`` the CPU seconds of
this process (``time.process_time``, summed over its threads), steadier when other jobs share
the cores. With two threads on a busy two-core machine, OpenMP synchronisation makes every
contender's wall time erratic (10x swings, 30x measured once): the fit's default of one
thread avoids that.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import scipy.linalg  # noqa: F401  (loads scipy's BLAS, so the thread limit reaches it)
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_allocator_option, apply_allocator, report  # noqa: E402

from alrnn_neuro.models import ALRNN, PoissonReadout  # noqa: E402
from alrnn_neuro.models.log_factorial import log_factorial_steps  # noqa: E402
from alrnn_neuro.training.config import FitConfig  # noqa: E402
from alrnn_neuro.training.loop import fused_adam  # noqa: E402

BATCH, STEPS, INPUTS, UNITS = 64, 100, 8, 30
SIZES = (6, 16, 64)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


class _NNRNN(torch.nn.Module):
    """torch.nn.RNN(relu) returning its hidden states as latents (batch, time, latent)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(INPUTS, latent_dim, nonlinearity="relu", batch_first=True)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.rnn(inputs)[0]


def _data(device: str, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(BATCH, STEPS, INPUTS, generator=gen)
    counts = torch.poisson(torch.full((BATCH, STEPS, UNITS), 1.5), generator=gen)
    lengths = torch.randint(STEPS // 2, STEPS + 1, (BATCH,), generator=gen)
    valid = torch.arange(STEPS)[None, :] < lengths[:, None]  # ragged trials
    log_factorial = log_factorial_steps(counts)  # once per dataset, as in a fit
    return tuple(x.to(device) for x in (inputs, counts, valid, log_factorial))


def _train_step(model, readout, data, device, **forward_kwargs):
    inputs, counts, valid, log_factorial = data
    params = list(model.parameters()) + list(readout.parameters())
    optimiser = fused_adam(params, lr=1e-3)  # the fit's Adam
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        latents = model(inputs, **forward_kwargs)
        readout.loss(latents, counts, valid, log_factorial=log_factorial).backward()
        optimiser.step()
        sync()

    return step


class _DropGradient(torch.autograd.Function):
    """Identity whose backward discards the gradient, as cheap as an engine's backward can be."""

    @staticmethod
    def forward(ctx, latents):  # noqa: D102
        return latents.view_as(latents)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return None


class _FixedLatents(torch.nn.Module):
    """An engine that costs nothing: fixed latents in the fast engine's layout (the storage is
    (time, batch, latent), seen as (batch, time, latent)) whose gradient is discarded."""

    def __init__(self, steps: int, batch: int, m: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("states", torch.randn(steps, batch, m, generator=gen))
        self.states.requires_grad_()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return _DropGradient.apply(self.states.transpose(0, 1))


def _contenders(m: int, device: str, seed: int = 0) -> dict:
    data = _data(device, seed)
    alrnn = ALRNN(m, m // 2, INPUTS, seed=seed).to(device)
    plain = ALRNN(m, m // 2, INPUTS, seed=seed).to(device)
    return {
        "alrnn": _train_step(alrnn, PoissonReadout(m, UNITS, seed=seed).to(device), data, device),
        "nn_rnn": _train_step(
            _NNRNN(m).to(device), PoissonReadout(m, UNITS, seed=seed).to(device), data, device
        ),
        "plain": _train_step(
            plain, PoissonReadout(m, UNITS, seed=seed).to(device), data, device, engine="plain"
        ),
        "readout_only": _train_step(
            _FixedLatents(STEPS, BATCH, m, seed).to(device),
            PoissonReadout(m, UNITS, seed=seed).to(device),
            data,
            device,
        ),
    }


def _time_interleaved(fns: dict, repeat: int, warmup: int, clock) -> dict[str, float]:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def _measure(args) -> tuple[dict[str, float], list[tuple]]:
    """Figures (and table rows) of every size at the current torch thread setting."""
    figures: dict[str, float] = {}
    ratios, speedups, rows = [], [], []
    for m in args.sizes:
        fns = _contenders(m, args.device)
        ms = _time_interleaved(fns, args.repeat, args.warmup, CLOCKS[args.clock])
        ratio, speedup = ms["alrnn"] / ms["nn_rnn"], ms["plain"] / ms["alrnn"]
        ratios.append(ratio)
        speedups.append(speedup)
        for name, value in ms.items():
            figures[f"M{m}_{name}_ms"] = value
        figures[f"M{m}_ratio_vs_nn_rnn"] = ratio
        figures[f"M{m}_speedup_vs_plain_loop"] = speedup
        floor = ms["readout_only"]
        figures[f"M{m}_ratio_bound_vs_nn_rnn"] = floor / ms["nn_rnn"]
        figures[f"M{m}_speedup_bound_vs_plain_loop"] = ms["plain"] / floor
        figures[f"M{m}_engine_share"] = (ms["alrnn"] - floor) / ms["alrnn"]
        rows.append((m, ms["alrnn"], ms["nn_rnn"], ms["plain"], floor, ratio, speedup))
    figures["max_ratio_vs_nn_rnn"] = max(ratios)
    figures["min_speedup_vs_plain_loop"] = min(speedups)
    return figures, rows


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", default=None, help="write figures as JSON")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--threads",
        type=int,
        default=FitConfig().threads,
        help="torch threads of the main figures (default: the fit's setting, FitConfig.threads)",
    )
    parser.add_argument(
        "--compare-threads",
        type=int,
        nargs="*",
        default=[2],
        help="also measure with these thread counts (figures prefixed threads{N}_)",
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds per contender")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--clock", default="wall", choices=tuple(CLOCKS), help="wall time or CPU time"
    )
    add_allocator_option(parser)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    before = torch.get_num_threads()
    figures: dict[str, float] = {"torch_threads": args.threads, **apply_allocator(args)}
    tables = []
    try:
        for threads in [args.threads, *[n for n in args.compare_threads if n != args.threads]]:
            torch.set_num_threads(threads)
            with threadpool_limits(limits=threads, user_api="blas"):  # numpy's, scipy's BLAS
                measured, rows = _measure(args)
            prefix = "" if threads == args.threads else f"threads{threads}_"
            figures.update({prefix + name: value for name, value in measured.items()})
            tables.append((threads, rows))
    finally:
        torch.set_num_threads(before)
    for threads, rows in tables:
        print(
            f"device={args.device} threads={threads} clock={args.clock} "
            f"batch={BATCH} T={STEPS} inputs={INPUTS} units={UNITS} P=M//2"
        )
        print(
            "   M  alrnn_ms  nn_rnn_ms  plain_ms  readout_only_ms  alrnn/nn_rnn  plain/alrnn"
            "  (bounds: readout_only/nn_rnn  plain/readout_only)"
        )
        for m, a, n, p, f, r, sp in rows:
            print(
                f"{m:4d}  {a:8.2f}  {n:9.2f}  {p:8.2f}  {f:15.2f}  {r:12.2f}  {sp:11.2f}"
                f"  {f / n:29.2f}  {p / f:18.2f}"
            )
    report(figures, args.json)
    return figures


if __name__ == "__main__":
    main()

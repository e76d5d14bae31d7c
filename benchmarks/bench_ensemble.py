"""Benchmark: training a grid of AL-RNNs as one ensemble vs one fit after another.

Usage::

    python benchmarks/bench_ensemble.py [--json PATH] [--epochs E] [--rounds R]
                                        [--repeat N] [--clock cpu|wall] [--quick] [--run-dirs]
                                        [--default-allocator]

(a) Grid on ``datasets/stimulus_selection_demo.h5`` (500 trials, 30 units), M = 16,
    P in {0, 1, 2, 3, 5, 8, 12, 16} x 10 seeds = 80 members, ``--epochs`` epochs (default 3),
    batch 32, patience off, one torch thread (``FitConfig.threads``). Training time only
    (``loop.train`` of a stack vs of single fits, each from a freshly built model and optimiser;
    both include the per-epoch validation pass).

    The 80 sequential single fits are **not** all run. Each of ``--rounds`` rounds (default
    5) times the ensemble once and then one single fit per P value (P = GRID_P[i] with seed
    i), so every round sees about the same machine load on both sides. Then

    * ``grid_ensemble_train_s`` = min over rounds of the ensemble time;
    * ``grid_single_train_s_P{p}`` = min over rounds of the single fit with that P;
    * ``grid_sequential_train_s_extrapolated`` = sum over P of (number of grid members with
      that P, i.e. 10 seeds) x ``grid_single_train_s_P{p}``: **extrapolated**, stratified by P
      (seeds change the initialisation only, not the work of a fit);
    * ``grid_vs_sequential_ratio`` = ensemble / extrapolated sequential (target <= 0.10);
    * ``grid_ensemble_ms_per_member_step``: ``grid_ensemble_train_s`` per member and training
      step (``--epochs`` x batches of the training split; the validation passes are counted
      in the time, not as steps): the ensemble's cost in the unit a CPU target could be
      stated in, independent of how fast single fits are;
    * ``grid_ratio_round_{min,max}``: the same ratio computed within each round (its
      spread shows how much machine load moved the figure);
    * ``grid_single_train_s_spread``: (max - min) / min of the single fits' round times,
      worst P;
    * ``grid_end_to_end_ratio``: whole calls, ``fit_ensemble`` vs ``fit`` (one fit per P,
      extrapolated the same way, min over ``--rounds`` rounds that each time both sides),
      i.e. including session preparation and every member's final scoring and outputs (in
      memory; the ensemble scores its members in stacks, see
      :mod:`alrnn_neuro.training.member_scoring`); with only a few epochs these weigh far
      more than in a real 200-epoch fit (target <= 0.20);
    * with ``--run-dirs`` also ``grid_end_to_end_run_dirs_ratio``: the same with every run
      directory written (``out=``, a temporary folder): single fits save a checkpoint every
      epoch, both sides write ``model.pt``, ``history.nc``, ``latents.nc`` and JSON files per
      member (about 0.25 s of CPU per member, mostly h5netcdf and zlib);
    * ``grid_kernel_s``: of one more ensemble training run, the seconds spent inside the three
      compiled kernels that do its arithmetic (the recurrence forward and backward,
      :mod:`alrnn_neuro.models.scan_kernels`, and the Poisson readout with its products,
      :func:`alrnn_neuro.models.poisson_kernels.softplus_poisson_readout`), and
      ``grid_kernel_share`` their share of that run; ``grid_kernel_floor_ratio`` = kernel
      seconds / extrapolated sequential: the ratio the ensemble would reach if everything
      outside these kernels (autograd, the optimiser, batching, initial states) cost nothing.
      A floor above the target says the target needs less arithmetic, not less overhead;
    * ``load_average_1min_{start,end}``: ``os.getloadavg()`` of the machine.

(b) ``step_ms_per_member_K{k}_M{m}``: one training step (forward, backward, per-member
    clipping, Adam) on a batch of 32 demo trials divided by K, for K in {1, 8, 32, 128} and
    M in {6, 16, 64} (P = M // 2, seeds 0..K-1); ``single_step_ms_M{m}``: the same step of one
    plain ``FitModel`` (the single-fit path) for reference. Medians of ``--repeat`` steps.

Allocator: the fit's setting (freed memory kept for reuse, figure ``keeps_freed_memory``,
:mod:`alrnn_neuro.training.allocator`); ``--default-allocator`` measures with glibc's defaults.

Clock: ``--clock cpu`` (default) times the CPU seconds of this process
(``time.process_time``), meaningful with one thread on a shared machine; ``--clock wall``
times wall-clock seconds. ``--quick`` shrinks everything for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_allocator_option, apply_allocator, report  # noqa: E402

from alrnn_neuro.data.h5 import load_dataset  # noqa: E402
from alrnn_neuro.models import compiled_scan, poisson_kernels  # noqa: E402
from alrnn_neuro.training import FitConfig, FitModel, fit  # noqa: E402
from alrnn_neuro.training.checkpoint import TrainState  # noqa: E402
from alrnn_neuro.training.ensemble import fit_ensemble  # noqa: E402
from alrnn_neuro.training.loop import make_optimizer, train  # noqa: E402
from alrnn_neuro.training.network import clip_members  # noqa: E402
from alrnn_neuro.training.session import prepare_session  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "stimulus_selection_demo.h5"
GRID_P, GRID_SEEDS, GRID_M = (0, 1, 2, 3, 5, 8, 12, 16), tuple(range(10)), 16
SIZES_K, SIZES_M = (1, 8, 32, 128), (6, 16, 64)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--run-dirs", action="store_true", help="also time writing run dirs")
    add_allocator_option(parser)
    return parser.parse_args(argv)


def grid(ds, args, clock) -> dict[str, float]:
    cfg = FitConfig(latent_dim=GRID_M, epochs=args.epochs, patience=0, threads=1)
    ps = [p for p in GRID_P for _ in GRID_SEEDS]
    seeds = [s for _ in GRID_P for s in GRID_SEEDS]
    if args.quick:
        ps, seeds = ps[::10], seeds[::10]
    n, rounds = len(ps), 1 if args.quick else max(1, args.rounds)
    session = prepare_session(ds, cfg)
    tensors, positions, shared = session.tensors, session.positions, session.config
    steps = args.epochs * -(-len(positions["train"]) // cfg.batch_size)  # training steps

    def nets(pairs):
        return [FitModel(shared.replace(pwl_units=p, seed=s), session.n_units, 0,
                         session.unit_mean) for p, s in pairs]  # fmt: skip

    def time_ensemble() -> float:
        model = FitModel.stack(nets(zip(ps, seeds, strict=True)))
        optimizer = make_optimizer(model, shared)
        states = [TrainState.start(s) for s in seeds]
        start = clock()
        shared_state = TrainState.start(cfg.seed)
        train(
            model, optimizer, tensors, positions, shared, shared_state, states, divergence="freeze"
        )
        return clock() - start

    def time_single(p: int, s: int) -> float:
        (net,) = nets([(p, s)])
        optimizer = make_optimizer(net, shared)
        start = clock()
        train(net, optimizer, tensors, positions, shared, TrainState.start(cfg.seed))
        return clock() - start

    picks = [(p, i) for i, p in enumerate(sorted(set(ps)))]  # one single fit per P
    weight = {p: ps.count(p) for p, _ in picks}  # grid members with that P
    time_single(*picks[0])  # warm-up (first-call allocations, lazy imports)
    ensemble_s, single_s = _rounds(rounds, time_ensemble, time_single, picks)
    best = {p: min(single_s[(p, s)]) for p, s in picks}
    sequential = sum(weight[p] * best[p] for p in best)
    per_round = [ensemble_s[r] / sum(weight[p] * single_s[(p, s)][r] for p, s in picks)
                 for r in range(rounds)]  # fmt: skip
    spread = max((max(t) - min(t)) / min(t) for t in single_s.values())

    def e2e_ensemble() -> float:
        start = clock()
        fit_ensemble(ds, cfg, pwl_units=ps, seeds=seeds)
        return clock() - start

    def e2e_fit(p: int, s: int) -> float:
        start = clock()
        fit(ds, cfg.replace(pwl_units=p, seed=s))
        return clock() - start

    kernel_s, run_s = _kernel_seconds(time_ensemble, clock)
    e2e_ensemble_s, e2e_single_s = _rounds(rounds, e2e_ensemble, e2e_fit, picks)
    ensemble_e2e = min(e2e_ensemble_s)
    e2e_single = {p: min(e2e_single_s[(p, s)]) for p, s in picks}
    sequential_e2e = sum(weight[p] * e2e_single[p] for p in e2e_single)
    written = _with_run_dirs(ds, cfg, ps, seeds, picks, weight, clock) if args.run_dirs else {}
    print(
        f"NOTE: the {n} sequential single fits were NOT all run. Their time is extrapolated, "
        f"stratified by P: sum over P of (members with that P) x (min over {rounds} rounds of "
        f"one timed single fit with that P); single fits (P, seed) = {picks}. Each round times "
        "the ensemble and then every single fit, so both sides see the same machine load."
    )
    figures = {
        "grid_members": n,
        "grid_epochs": args.epochs,
        "grid_rounds": rounds,
        "grid_ensemble_train_s": min(ensemble_s),
        "grid_ensemble_train_s_max": max(ensemble_s),
        "grid_ensemble_ms_per_member_step": 1e3 * min(ensemble_s) / (n * steps),
        **{f"grid_single_train_s_P{p}": best[p] for p in best},
        "grid_single_train_s_spread": spread,
        "grid_sequential_train_s_extrapolated": sequential,
        "grid_vs_sequential_ratio": min(ensemble_s) / sequential,
        "grid_ratio_round_min": min(per_round),
        "grid_ratio_round_max": max(per_round),
        "grid_kernel_s": kernel_s,
        "grid_kernel_share": kernel_s / run_s,
        "grid_kernel_floor_ratio": kernel_s / sequential,
        "grid_ensemble_end_to_end_s": ensemble_e2e,
        "grid_sequential_end_to_end_s_extrapolated": sequential_e2e,
        "grid_end_to_end_ratio": ensemble_e2e / sequential_e2e,
        **written,
    }
    return figures


def _rounds(rounds, time_ensemble, time_single, picks):
    """Each round times the ensemble, then one single fit per pick (P, seed), so both sides
    see about the same machine load. Returns (ensemble times, {pick: single times})."""
    ensemble_s, single_s = [], {pick: [] for pick in picks}
    for _ in range(rounds):
        ensemble_s.append(time_ensemble())
        for pick in picks:
            single_s[pick].append(time_single(*pick))
    return ensemble_s, single_s


def _kernel_seconds(time_ensemble, clock) -> tuple[float, float]:
    """(seconds inside the compiled kernels, seconds of the whole run) of one ensemble
    training run, with each kernel wrapped in a timer where its caller looks it up."""
    spent = [0.0]

    def timed(kernel):
        def wrapper(*args):
            start = clock()
            try:
                return kernel(*args)
            finally:
                spent[0] += clock() - start

        return wrapper

    names = [(compiled_scan, "scan_forward"), (compiled_scan, "scan_backward"),
             (poisson_kernels, "softplus_poisson_readout")]  # fmt: skip
    originals = [getattr(module, name) for module, name in names]
    for (module, name), kernel in zip(names, originals, strict=True):
        setattr(module, name, timed(kernel))
    try:
        run = time_ensemble()
    finally:
        for (module, name), kernel in zip(names, originals, strict=True):
            setattr(module, name, kernel)
    return spent[0], run


def _with_run_dirs(ds, cfg, ps, seeds, picks, weight, clock) -> dict[str, float]:
    """End-to-end seconds with every run directory written (in a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        single = {}
        for p, s in picks:
            start = clock()
            fit(ds, cfg.replace(pwl_units=p, seed=s), out=Path(tmp) / f"single-P{p}")
            single[p] = clock() - start
        start = clock()
        fit_ensemble(ds, cfg, pwl_units=ps, seeds=seeds, out=Path(tmp) / "ensemble")
        ensemble = clock() - start
    sequential = sum(weight[p] * single[p] for p in single)
    return {
        "grid_ensemble_end_to_end_run_dirs_s": ensemble,
        "grid_sequential_end_to_end_run_dirs_s_extrapolated": sequential,
        "grid_end_to_end_run_dirs_ratio": ensemble / sequential,
    }


def step_times(ds, args, clock) -> dict[str, float]:
    figures = {}
    ks = SIZES_K[:2] if args.quick else SIZES_K
    for m in SIZES_M:
        cfg = FitConfig(latent_dim=m, pwl_units=m // 2, patience=0, threads=1)
        session = prepare_session(ds, cfg)
        batch = session.tensors.take(session.positions["train"][:32])
        single = FitModel(session.config, session.n_units, 0, session.unit_mean)
        figures[f"single_step_ms_M{m}"] = 1e3 * _time_step(single, batch, None, args, clock)
        for k in ks:
            nets = [FitModel(session.config.replace(seed=s), session.n_units, 0,
                             session.unit_mean) for s in range(k)]  # fmt: skip
            model = FitModel.stack(nets)
            step = _time_step(model, batch, k, args, clock)
            figures[f"step_ms_per_member_K{k}_M{m}"] = 1e3 * step / k
    return figures


def _time_step(model, batch, k, args, clock) -> float:
    """Median seconds of one optimiser step (k=None: the single-fit path, global clipping)."""
    optimizer = make_optimizer(model, model.config)
    params = list(model.parameters())

    def step():
        if k is None:
            loss = model.loss(batch)["objective"]
        else:
            loss = model.member_losses(batch)["objective"].sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if k is None:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        else:
            clip_members(params, 1.0)
        optimizer.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(1 if args.quick else args.repeat):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.set_num_threads(1)
    clock = CLOCKS[args.clock]
    ds = load_dataset(DEMO)
    print(f"clock: {args.clock}; torch threads: 1; dataset: {DEMO.name}")
    figures = {"load_average_1min_start": os.getloadavg()[0], **apply_allocator(args)}
    figures.update(grid(ds, args, clock))
    figures.update(step_times(ds, args, clock))
    figures["load_average_1min_end"] = os.getloadavg()[0]
    report(figures, args.json)


if __name__ == "__main__":
    main()

"""Check that fits agree between the CPU and a CUDA GPU (float64), and time a grid on both.

Prepared for a machine with a GPU; run from the repository root with the package installed::

    python scripts/gpu_check.py --json gpu_check.json          # about 1-2 minutes
    python scripts/gpu_check.py --device cpu                   # dry run: both sides on the CPU

1. Agreement in float64 (largest absolute difference relative to the largest value; every
   ``*_rel_diff`` figure should be <= 1e-9, ``agreement_ok`` is 1 when all are):

   * ``engine``: latents and the gradients of A, W, C, h, z0 of a 3-member AL-RNN ensemble
     with teacher forcing (hand-written BPTT);
   * ``poisson``: the fused per-member Poisson loss and its gradients;
   * ``ensemble``: ``fit_ensemble`` (4 members, 3 epochs, the bundled demo dataset): every
     parameter, the per-split losses and bits/spike of every member;
   * ``single``: ``fit`` of one member, likewise.

2. Timings in float32 (the fits' dtype), wall clock, synchronised:

   * ``grid_<device>_train_s``: the grid of ``benchmarks/bench_ensemble.py`` (80 members,
     P in {0, 1, 2, 3, 5, 8, 12, 16} x 10 seeds, M = 16, ``--epochs`` epochs, batch 32) as one
     stacked model, training only; ``grid_<device>_end_to_end_s``: ``fit_ensemble`` (training,
     scoring, outputs of all members); on the GPU and on the CPU (one torch thread);
   * ``step_M{m}_{alrnn,nn_rnn,plain}_ms``: one training step of
     ``benchmarks/bench_training.py`` on the GPU (median of ``--repeat``).

Prints ``name: value`` lines and writes them to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from alrnn_neuro.data.h5 import load_dataset  # noqa: E402
from alrnn_neuro.models import ALRNN  # noqa: E402
from alrnn_neuro.models.fused_poisson import poisson_member_loss  # noqa: E402
from alrnn_neuro.training import FitConfig, FitModel, fit  # noqa: E402
from alrnn_neuro.training.checkpoint import TrainState  # noqa: E402
from alrnn_neuro.training.ensemble import fit_ensemble  # noqa: E402
from alrnn_neuro.training.loop import make_optimizer, train  # noqa: E402
from alrnn_neuro.training.session import prepare_session  # noqa: E402

DEMO = ROOT / "datasets" / "stimulus_selection_demo.h5"
GRID_P, GRID_SEEDS = (0, 1, 2, 3, 5, 8, 12, 16), tuple(range(10))
TOLERANCE = 1e-9


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max(1, max |b|), on the CPU in float64."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def engine_agreement(device: str) -> float:
    """Latents and parameter gradients of an ensemble with forcing, CPU vs ``device``."""
    gen = torch.Generator().manual_seed(0)
    model = ALRNN(6, [0, 3, 6], 4, seed=0, ensemble_shape=(3,)).double()
    with torch.no_grad():
        model.W.normal_(0.0, 0.3, generator=gen)
        model.z0.normal_(0.0, 1.0, generator=gen)
    inputs = torch.randn(8, 50, 4, generator=gen, dtype=torch.float64)
    targets = torch.randn(8, 50, 6, generator=gen, dtype=torch.float64)
    alpha = torch.zeros(8, 50, 1, dtype=torch.float64)
    alpha[:, 4::5] = 1.0
    outs = []
    for dev in ("cpu", device):
        net = model.to(dev)
        net.zero_grad()
        latents = net(inputs.to(dev), forcing=(targets.to(dev), alpha.to(dev)))
        (latents**2).mean().backward()
        outs.append([latents] + [p.grad for p in (net.A, net.W, net.C, net.h, net.z0)])
    return max(rel_diff(a, b) for a, b in zip(outs[1], outs[0], strict=True))


def poisson_agreement(device: str) -> float:
    gen = torch.Generator().manual_seed(1)
    k, b, t, m, n = 4, 6, 30, 5, 7
    weight = torch.randn(k, n, m, generator=gen, dtype=torch.float64)
    bias = torch.randn(k, n, generator=gen, dtype=torch.float64)
    latents = torch.randn(k, b, t, m, generator=gen, dtype=torch.float64)
    counts = torch.poisson(torch.full((b, t, n), 1.5), generator=gen).double()
    valid = torch.arange(t)[None, :] < torch.tensor([30, 12, 30, 25, 3, 30])[:, None]
    outs = []
    for dev in ("cpu", device):
        params = [x.to(dev).requires_grad_(True) for x in (weight, bias, latents)]
        loss = poisson_member_loss(*params, counts.to(dev), valid.to(dev))
        (loss * torch.arange(1.0, k + 1, dtype=torch.float64, device=dev)).sum().backward()
        outs.append([loss] + [p.grad for p in params])
    return max(rel_diff(a, b) for a, b in zip(outs[1], outs[0], strict=True))


def fit_agreement(ds, device: str) -> dict[str, float]:
    """fit_ensemble and fit in float64 on both devices: parameters and metrics."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cfg = FitConfig(latent_dim=6, epochs=3, patience=0, batch_size=32, threads=1)
        runs = {}
        for dev in ("cpu", device):
            c = cfg.replace(device=dev)
            runs[dev] = (
                fit_ensemble(ds, c, pwl_units=[0, 2, 4, 6], seeds=[0, 1, 2, 3]),
                [fit(ds, c.replace(pwl_units=3))],
            )
    finally:
        torch.set_default_dtype(before)
    figures = {}
    for index, name in ((0, "ensemble"), (1, "single")):
        params, metrics = [], []
        for got, want in zip(runs[device][index], runs["cpu"][index], strict=True):
            ref = want.model.state_dict()
            params += [rel_diff(v, ref[key]) for key, v in got.model.state_dict().items()]
            for split in ("train", "val", "test"):
                for key in ("loss", "bits_per_spike"):
                    a, b = got.metrics[split][key], want.metrics[split][key]
                    metrics.append(abs(a - b) / max(1.0, abs(b)))
        figures[f"{name}_params_rel_diff"] = max(params)
        figures[f"{name}_metrics_rel_diff"] = max(metrics)
    return figures


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def grid_times(ds, device: str, epochs: int) -> dict[str, float]:
    """Training-only and end-to-end wall seconds of the bench_ensemble grid on ``device``."""
    cfg = FitConfig(latent_dim=16, epochs=epochs, patience=0, threads=1, device=device)
    ps = [p for p in GRID_P for _ in GRID_SEEDS]
    seeds = [s for _ in GRID_P for s in GRID_SEEDS]
    session = prepare_session(ds, cfg)
    shared = session.config
    nets = [
        FitModel(shared.replace(pwl_units=p, seed=s), session.n_units, 0, session.unit_mean)
        for p, s in zip(ps, seeds, strict=True)
    ]
    model = FitModel.stack(nets).to(device)
    optimizer = make_optimizer(model, shared)
    states = [TrainState.start(s) for s in seeds]
    _sync(device)
    start = time.perf_counter()
    train(model, optimizer, session.tensors, session.positions, shared,
          TrainState.start(cfg.seed), states, divergence="freeze")  # fmt: skip
    _sync(device)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    fit_ensemble(ds, cfg, pwl_units=ps, seeds=seeds)
    _sync(device)
    tag = "gpu" if device.startswith("cuda") else "cpu"
    return {f"grid_{tag}_train_s": train_s, f"grid_{tag}_end_to_end_s": time.perf_counter() - start}


def step_times(device: str, repeat: int) -> dict[str, float]:
    """One training step of bench_training.py (medians, ms) on ``device``."""
    import bench_training as bt

    figures = {}
    for m in bt.SIZES:
        fns = bt._contenders(m, device)
        for name, fn in fns.items():
            for _ in range(3):
                fn()
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            figures[f"step_M{m}_{name}_ms"] = 1e3 * statistics.median(times)
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU")
    parser.add_argument("--json", metavar="PATH", default=None)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the timed grid")
    parser.add_argument("--repeat", type=int, default=20, help="timed training steps")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device is available; --device cpu runs a dry run on the CPU")
    torch.set_num_threads(1)
    ds = load_dataset(DEMO)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device: {args.device} ({name}); torch {torch.__version__}")
    figures: dict[str, float] = {
        "engine_rel_diff": engine_agreement(args.device),
        "poisson_rel_diff": poisson_agreement(args.device),
        **fit_agreement(ds, args.device),
    }
    diffs = [v for k, v in figures.items() if k.endswith("_rel_diff")]
    figures["agreement_ok"] = int(all(d <= TOLERANCE for d in diffs))
    if not args.skip_timing:
        figures.update(grid_times(ds, args.device, args.epochs))
        if args.device != "cpu":
            figures.update(grid_times(ds, "cpu", args.epochs))
            figures.update(step_times(args.device, args.repeat))
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device_name": name, **figures}, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()

"""Validate nonlinearity selection on ground truth: a linear generator and the PWL generator.

For each generator and data seed this simulates a stimulus-selection session, runs a small
K-fold sweep over P, and runs :func:`alrnn_neuro.sweep.selection.select_nonlinearity` (the
function behind ``alrnn-neuro select``). Targets (issue 14): minimal sufficient P = 0 on the
linear generator (true P = 0) in >= 8 of 10 data seeds, and P >= 1 on the PWL generator (the
default simulator, true P = 2) in >= 8 of 10; "cannot tell" counts as a miss for both.

Not part of the test suite: about 3-4 minutes per data seed and core (two seeds at a time with
``--jobs 2``: ~40 minutes for all 20 sweeps on 2 cores). Run::

    OMP_NUM_THREADS=1 python scripts/validate_selection.py --out /tmp/validate-selection --jobs 2
    OMP_NUM_THREADS=1 python scripts/validate_selection.py --generators linear --seeds 201

It writes ``OUT/<generator>-seed<k>/`` (the sweep and its selection.*) and ``OUT/summary.json``;
finished sweeps are resumed, so an interrupted run continues where it stopped.

The recipe below was fixed on development seeds 0 and 1 (PWL generator, and a stand-in linear
generator) before any validation seed was simulated; seed 101 was simulated once with a smaller
recipe (200 trials, 20 units, 60 epochs) to measure the time, so the validation seeds are
201..210, away from everything used while developing (0, 1, 101, 2014).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.sweep.selection import select_nonlinearity, write_selection
from alrnn_neuro.training import FitConfig

#: the recipe, fixed on the development seeds (see the module docstring)
RECIPE = {
    "n_trials": 400,
    "n_units": 30,
    "latent_dim": 6,
    "pwl_units": (0, 1, 2),
    "model_seeds": (0, 1),
    "folds": 3,
    "split_seed": 0,
    "epochs": 150,
    "patience": 30,
}
TARGET = 8  # of 10 data seeds
GENERATORS = ("linear", "pwl")


def simulate(generator: str, seed: int, recipe: dict):
    """One session of ``generator``; exits with a clear message if the simulator lacks it.

    Before the generator registry exists, "pwl" falls back to the default simulator (which is
    the PWL generator), with a warning; "linear" cannot.
    """
    size = {"n_trials": recipe["n_trials"], "n_units": recipe["n_units"], "lfp": False}
    try:
        return simulate_stimulus_selection(seed=seed, generator=generator, **size)
    except TypeError as error:
        if "generator" not in str(error):
            raise
        if generator == "pwl":
            logging.warning("simulate_stimulus_selection has no generator=: default simulator")
            return simulate_stimulus_selection(seed=seed, **size)
        sys.exit(
            "simulate_stimulus_selection() has no generator= argument yet; this script needs "
            "the generator registry (linear, pwl) of alrnn_neuro.simulate"
        )


def validate_one(generator: str, seed: int, out: Path, recipe: dict) -> dict:
    """Sweep and select on one data seed; return the verdict and timing."""
    started = time.perf_counter()
    ds = simulate(generator, seed, recipe)
    grid = SweepGrid(
        pwl_units=recipe["pwl_units"],
        seeds=recipe["model_seeds"],
        latent_dims=(recipe["latent_dim"],),
        folds=recipe["folds"],
    )
    base = FitConfig(epochs=recipe["epochs"], patience=recipe["patience"])
    run_sweep(ds, grid, base, out=out, split_seed=recipe["split_seed"])
    result = select_nonlinearity(out)
    write_selection(result, out)
    minimal = float(result["minimal_pwl_units"])
    return {
        "generator": generator,
        "data_seed": seed,
        "minimal_pwl_units": None if np.isnan(minimal) else minimal,
        "best_pwl_units": int(result["best_pwl_units"]),
        "zero_insufficient": bool(result["zero_insufficient"]),
        "bits_per_spike": result["bits_per_spike"].values.tolist(),
        "gain_vs_zero": result["gain_vs_zero"].values.tolist(),
        "minimal_agreement": float(result["minimal_agreement"]),
        "seconds": time.perf_counter() - started,
    }


def hit(row: dict) -> bool:
    """Whether a verdict matches the generator's truth (P = 0 linear, P >= 1 PWL)."""
    minimal = row["minimal_pwl_units"]
    if minimal is None:
        return False
    return minimal == 0 if row["generator"] == "linear" else minimal >= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("validate-selection"))
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--seeds", default=",".join(str(s) for s in range(201, 211)))
    parser.add_argument("--jobs", type=int, default=1, help="data seeds run in parallel")
    for key in ("n_trials", "n_units", "epochs", "patience"):
        flag = f"--{key.replace('_', '-')}"
        parser.add_argument(flag, type=int, default=RECIPE[key], help=f"override {key} (dev)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    recipe = RECIPE | {k: getattr(args, k) for k in ("n_trials", "n_units", "epochs", "patience")}
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    jobs = [(g, s, args.out / f"{g}-seed{s}", recipe) for g in generators for s in seeds]
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for row in pool.map(validate_one, *zip(*jobs, strict=True)):
            rows.append(row)
            print(
                f"{row['generator']:>6} seed {row['data_seed']}: minimal P = "
                f"{row['minimal_pwl_units']}, best P = {row['best_pwl_units']}, P = 0 "
                f"insufficient: {row['zero_insufficient']}, gain of P over P = 0: "
                f"{np.round(row['gain_vs_zero'], 4).tolist()}, {row['seconds']:.0f} s",
                flush=True,
            )
    summary = {"recipe": recipe, "rows": rows, "hits": {}}
    for generator in generators:
        mine = [r for r in rows if r["generator"] == generator]
        hits = sum(hit(r) for r in mine)
        goal = "minimal P = 0" if generator == "linear" else "minimal P >= 1"
        summary["hits"][generator] = {"hits": hits, "of": len(mine), "goal": goal}
        print(f"{generator}: {goal} in {hits}/{len(mine)} data seeds (target >= {TARGET}/10)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

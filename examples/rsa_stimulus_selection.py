"""RSA of an AL-RNN fitted to the simulated stimulus-selection session (datasets/).

Fits (or loads, if ``--run`` already holds a finished run) an AL-RNN with M=6, P=1 on
``datasets/stimulus_selection_demo.h5`` and compares its representations with the recorded
populations:

1. rule structure (conditions rule x location x pitch, non-cue trials) of the model vs mPFC
   in the hold (pre-stimulus) epoch, with a permutation p-value (Holm across epochs) and the
   model placed against the noise ceiling;
2. the same with the neural condition labels shuffled (control: should not be significant);
3. stimulus-feature structure (location x pitch, cue trials included: 8 conditions) of the
   model vs A1 in the stimulus epoch.

Only held-out trials (the run's val + test split) are compared, and the bins from which the
model inferred its initial state (``init_bins`` of the fit) are left out of model and data.

Run from the repository root::

    python examples/rsa_stimulus_selection.py --epochs 150 --run runs/rsa_demo
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.analysis.rsa.selection import init_bins_of
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.plotting.rsa import save_rsa_figures
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training import rundir as rd

DATASET = Path(__file__).resolve().parents[1] / "datasets" / "stimulus_selection_demo.h5"


def fitted_latents(ds, run: Path, epochs: int, seed: int):
    """Latents of the run in ``run``; fit it first if it is not there yet."""
    if (run / rd.METRICS).is_file():
        print(f"loading the finished run in {run}")
        return rd.read_netcdf(run / rd.LATENTS)
    print(f"fitting an AL-RNN (M=6, P=1, {epochs} epochs) into {run} ...")
    started = time.perf_counter()
    config = FitConfig(latent_dim=6, pwl_units=1, epochs=epochs, seed=seed)
    result = fit(ds, config, out=run, dataset_path=DATASET)
    test = result.metrics.get("test", {})
    print(
        f"  done in {time.perf_counter() - started:.0f} s; test metrics: "
        + ", ".join(f"{k}={v:.3g}" for k, v in test.items() if isinstance(v, float))
    )
    return result.latents


def report(title: str, rsa, segment: str, area: str) -> None:
    """Print one row of an RSA result."""
    row = rsa.sel(area=area, epoch=segment)
    print(
        f"{title}\n  {area} vs model, {segment}: similarity (tau-a) = {float(row.estimate):.3f} "
        f"[95% CI {float(row.ci_low):.3f}, {float(row.ci_high):.3f}], p = "
        f"{float(row.p_value):.4f} (Holm across epochs {float(row.p_corrected):.4f}), "
        f"noise ceiling [{float(row.noise_ceiling_low):.3f}, "
        f"{float(row.noise_ceiling_high):.3f}] (model vs split halves "
        f"{float(row.model_vs_splits):.3f}: {row.ceiling_position.item() or 'n/a'}), "
        f"{int(row.n_conditions)} conditions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/rsa_demo"))
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--n-perm", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ds = load_dataset(DATASET)
    latents = fitted_latents(ds, args.run, args.epochs, args.seed)
    keep = ~ds["cue_trial"].values
    settings = {
        "by": "epoch",
        "distance": "crossnobis",
        "compare": "tau-a",
        "init_bins": init_bins_of(rd.read_json(args.run / rd.CONFIG)["config"]),
        "n_perm": args.n_perm,
        "seed": args.seed,
    }

    rule = ["rule", "location", "pitch"]
    rsa, _ = run_rsa(
        latents.isel(trial=keep), ds.isel(trial=keep), conditions=rule, areas=["mPFC"], **settings
    )
    report("1. rule structure, model vs mPFC:", rsa, "hold", "mPFC")
    control, _ = run_rsa(
        latents.isel(trial=keep),
        ds.isel(trial=keep),
        conditions=rule,
        areas=["mPFC"],
        shuffle_labels=True,
        **settings,
    )
    report("2. control, neural condition labels shuffled:", control, "hold", "mPFC")
    stim, _ = run_rsa(latents, ds, conditions=["location", "pitch"], areas=["A1"], **settings)
    report("3. stimulus features (location x pitch), model vs A1:", stim, "stimulus", "A1")

    out = args.run / "rsa_example"
    out.mkdir(parents=True, exist_ok=True)
    save_rsa_figures(rsa, out, seed=args.seed)
    print(f"figures of analysis 1 in {out}")


if __name__ == "__main__":
    main()

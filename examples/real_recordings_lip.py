"""The whole pipeline on real recordings: LIP units of Roitman & Shadlen (2002), monkey B.

Loads ``datasets/roitman2002_fd_monkeyB.h5`` (a pseudo-population: every trial observes ONE
unit, ``observed`` (trial, unit)), keeps the random-dot trials (``task == "dots"``) and the
units that have them, and then

1. fits an AL-RNN with P = 0 (a linear RNN) and with P = ``--pwl`` (same M, seed, 1 CPU
   thread) into ``<out>/P0`` and ``<out>/P<pwl>``; the loss, the metrics and the PSTH
   baseline use only each trial's observed unit (valid & observed mask);
2. prints held-out (test) log-likelihood in bits/spike relative to the PSTH baseline of the
   conditions ``motion_class`` (sign of the coherence x {low: <= 12.8 %, high: >= 25.6 %},
   0 % apart: 5 classes) and the P > 0 vs P = 0 difference;
3. analyses the regimes of the P > 0 run (``analyze_run``): region/epoch AMI with its
   circular-shift null p-value, the share of each epoch in the top regions, and the dominant
   region of the motion / delay / go epochs;
4. RSA per epoch (``run_rsa``, crossnobis, Kendall's tau-a) of the model latents vs the LIP
   pseudo-population for (a) ``strength`` x ``choice`` (4 conditions) and (b)
   ``motion_class`` (5 conditions), on the held-out (val + test) trials only and after the
   ``init_bins`` bins that inferred the model's initial state, with the model placed against
   the noise ceiling. Neural RDMs of a pseudo-population are built pair by pair: each
   dissimilarity over the units with >= 2 trials in both conditions (per-unit noise
   variances), NaN for pairs with fewer than ``min_units`` such units.

Run from the repository root (about half a minute on one CPU thread with the defaults: 27 s
on 2026-12-06, 50 s before a pseudo-population's initial states were solved per unit set in
one batched call, with the same printed numbers)::

    python examples/real_recordings_lip.py --out runs/lip_example
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from alrnn_neuro import FitConfig, fit, load_dataset
from alrnn_neuro.analysis import analyze_run, write_analysis
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.analysis.rsa.selection import init_bins_of
from alrnn_neuro.training import rundir as rd

DATASET = Path(__file__).resolve().parents[1] / "datasets" / "roitman2002_fd_monkeyB.h5"
EPOCHS_OF_INTEREST = ("motion", "delay", "go")


def dots_dataset(path: Path = DATASET):
    """Dots trials and the units observed on them, with coarse coherence classes added.

    Returns
    -------
    xr.Dataset
        dims (trial, time, unit, input); extra trial coords ``strength`` ("low" for
        |coh| <= 12.8 %, "high" for >= 25.6 %) and ``motion_class`` ("0", "+low", "-low",
        "+high", "-high"; sign = toward target 1, the response-field target).
    """
    ds = load_dataset(path)
    ds = ds.isel(trial=ds["task"].values.astype(str) == "dots")
    ds = ds.isel(unit=ds["observed"].values.any(axis=0))
    signed = ds["signed_coherence"].values.astype(float)
    strength = np.where(np.abs(signed) >= 25.6, "high", "low")
    sign = np.where(signed > 0, "+", np.where(signed < 0, "-", ""))
    motion = np.where(signed == 0, "0", np.char.add(sign, strength))
    return ds.assign_coords(
        strength=("trial", strength), motion_class=("trial", motion.astype(str))
    )


def fit_or_load(ds, config: FitConfig, out: Path) -> tuple[dict, float]:
    """Fit into ``out`` (or reuse a finished run there); return (metrics.json, seconds)."""
    started = time.perf_counter()
    if not (out / rd.METRICS).is_file():
        fit(ds, config, out=out, dataset_path=DATASET)
    seconds = time.perf_counter() - started
    return json.loads((out / rd.METRICS).read_text()), seconds


def split_row(metrics: dict, split: str) -> dict:
    """The metrics of one split (``metrics.json`` keeps one block per split)."""
    block = metrics.get(split, metrics.get("metrics", {}).get(split, {}))
    return block if isinstance(block, dict) else {}


def report_fits(results: dict[int, tuple[dict, float]]) -> None:
    print("\n== held-out fit (test trials; bits/spike vs the motion_class PSTH) ==")
    print(
        f"{'P':>3} {'bits/spike':>11} {'LL model':>12} {'LL PSTH':>12} {'spikes':>7} "
        f"{'r2_cond':>8} {'epochs':>6} {'time s':>7}"
    )
    for p, (metrics, seconds) in results.items():
        t = split_row(metrics, "test")
        print(
            f"{p:>3} {t.get('bits_per_spike', np.nan):>11.4f} "
            f"{t.get('ll_model', np.nan):>12.1f} {t.get('ll_psth', np.nan):>12.1f} "
            f"{t.get('n_spikes', 0):>7} {t.get('r2_condition', np.nan):>8.3f} "
            f"{metrics.get('epochs_run', metrics.get('best_epoch', '?'))!s:>6} "
            f"{seconds:>7.0f}"
        )
    ps = sorted(results)
    if len(ps) == 2:
        a = split_row(results[ps[0]][0], "test")
        b = split_row(results[ps[1]][0], "test")
        diff = b.get("bits_per_spike", np.nan) - a.get("bits_per_spike", np.nan)
        print(f"P={ps[1]} - P={ps[0]}: {diff:+.4f} bits/spike on the test trials")


def report_regimes(run_dir: Path, ds, n_null: int) -> None:
    res = analyze_run(run_dir, ds, n_null=n_null, seed=0)
    write_analysis(res, run_dir / "analysis")
    s = res.summary
    print(f"\n== regimes of {run_dir.name} (M={s['n_latent']}, P={s['n_pwl']}) ==")
    print(
        f"regions used {s['n_regions_used']}/{s['n_regions_total']} "
        f"(90% of steps in {s['n_regions_90']})"
    )
    print(f"region/epoch AMI = {s['epoch_ami']:.3f} (circular-shift null p = {s['epoch_p']:.3g})")
    print("region/trial-variable AMI (p: circular-shift null; shuffle: trial-label shuffle)")
    for row in res.alignment["scores"]:
        if row["variable"] != "epoch" and row["epoch"] in ("all", *EPOCHS_OF_INTEREST):
            print(
                f"  {row['variable']:>8} {row['epoch']:>7}: AMI {row['ami']:.3f} "
                f"p {_fmt(row['p_circular'])} shuffle p {_fmt(row['p_shuffle'])}"
            )
    table = res.regimes["region_epoch"]
    print("top regions: region bits frequency epochs(>=10% of its steps)")
    for r in s["top_regions"]:
        print(f"  {r['region']:>3} {r['bits']:>6} {r['frequency']:.3f} {r['epochs']}")
    print("share of each epoch's valid steps in its dominant region:")
    for e in EPOCHS_OF_INTEREST:
        if e not in table.epoch.values:
            continue
        col = table.sel(epoch=e)
        top = int(col.region.values[int(col.values.argmax())])
        share = float(col.max()) / max(float(col.sum()), 1.0)
        print(f"  {e:>7}: region {top} ({share:.2f} of {int(col.sum())} steps)")


def report_rsa(latents, ds, conditions: list[str], n_perm: int, n_boot: int, init_bins: int):
    print(f"\n== RSA, conditions {' x '.join(conditions)} (crossnobis, tau-a, by epoch) ==")
    try:
        rsa, _ = run_rsa(
            latents,
            ds,
            conditions=conditions,
            by="epoch",
            distance="crossnobis",
            compare="tau-a",
            init_bins=init_bins,
            n_perm=n_perm,
            n_boot=n_boot,
            seed=0,
        )
    except Exception as error:  # noqa: BLE001 - the example reports the library's message
        print(f"run_rsa failed: {type(error).__name__}: {error}")
        return
    area = str(rsa["area"].values[0])
    if rsa.attrs["statistic"] != "rdm_comparison":
        print("two conditions: see rsa neural_distance / model_distance")
        return
    print(
        f"area {area}: {int(rsa['n_units'].values[0])} units in the dataset; "
        f"conditions {[str(c) for c in rsa['condition'].values]}; trials {rsa.attrs['trials']} "
        f"({rsa.attrs['trial_splits']}), first {rsa.attrs['init_bins']} bins left out"
    )
    print(
        f"{'epoch':>9} {'tau-a':>7} {'95% CI':>17} {'p':>7} {'p_holm':>7} "
        f"{'ceiling':>15} {'model/ceiling':>20} {'n_cond':>6}"
    )
    for seg in rsa["epoch"].values:
        r = rsa.sel(area=area, epoch=seg)
        placed = f"{_fmt(float(r.ceiling_fraction))} ({r.ceiling_position.item() or '-'})"
        print(
            f"{seg!s:>9} {float(r.estimate):>7.3f} "
            f"[{float(r.ci_low):>6.3f},{float(r.ci_high):>6.3f}] {float(r.p_value):>7.3f} "
            f"{float(r.p_corrected):>7.3f} "
            f"[{float(r.noise_ceiling_low):>5.2f},{float(r.noise_ceiling_high):>5.2f}] "
            f"{placed:>20} {_fmt(r.n_conditions.item()):>6}"
        )


def _fmt(value) -> str:
    """A number for the tables: 3 significant digits, "nan" for None / NaN."""
    if value is None or not np.isfinite(value):
        return "nan"
    return f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/lip_example"))
    parser.add_argument("--latent-dim", type=int, default=6)
    parser.add_argument("--pwl", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--n-null", type=int, default=200)
    parser.add_argument("--n-perm", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    ds = dots_dataset()
    print(
        f"dots trials {ds.sizes['trial']}, units {ds.sizes['unit']}, "
        f"{int(ds['observed'].values.sum(1).max())} observed unit(s) per trial, "
        f"{int((ds['spikes'] * ds['valid']).sum())} spikes in valid bins"
    )
    base = FitConfig(
        latent_dim=args.latent_dim,
        epochs=args.epochs,
        patience=15,
        init_bins=10,
        conditions=("motion_class",),
        seed=args.seed,
        threads=1,
    )
    results = {}
    for p in (0, args.pwl):
        results[p] = fit_or_load(ds, base.replace(pwl_units=p), args.out / f"P{p}")
    report_fits(results)
    run_dir = args.out / f"P{args.pwl}"
    report_regimes(run_dir, ds, args.n_null)
    latents = rd.read_netcdf(run_dir / rd.LATENTS)
    init_bins = init_bins_of(base)
    report_rsa(latents, ds, ["strength", "choice"], args.n_perm, args.n_boot, init_bins)
    report_rsa(latents, ds, ["motion_class"], args.n_perm, args.n_boot, init_bins)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Linear regimes of an AL-RNN fitted to the simulated stimulus-selection session.

Fits the documented recipe ``examples/configs/stimulus_selection.toml`` (M=7, P=2, manifold-
attractor regularisation ``mar=1.0`` on one latent; everything else the FitConfig defaults) to
``datasets/stimulus_selection_demo.h5`` (ground truth: M=7, P=2, one gate per rule), analyses
it (``analyze_run``: regimes, dynamics, cycles, primitives) and prints the three facts the
study's analysis should show, next to the same facts for the generating system:

1. region/epoch adjusted mutual information and its circular-shift null p-value;
2. the rule-set region pair: the region each rule puts the stimulus epoch in and, inside that
   region's map, the response of a choice readout to a sustained sound over T=10 bins for each
   feature (location = right - left noise, pitch = low - high; see
   :mod:`alrnn_neuro.analysis.routing`) and the selectivity SI (> 0: the rule-relevant
   feature dominates);
3. the slowest |eigenvalue| of the hold epoch's region and how well the rule reads out of it.

The same recipe from the command line::

    alrnn-neuro fit datasets/stimulus_selection_demo.h5 \\
        --config examples/configs/stimulus_selection.toml --out runs/stimsel
    alrnn-neuro analyze runs/stimsel

Usage (about 1.5-2 min on one CPU thread; a finished run is reused)::

    python examples/regimes_stimulus_selection.py [--seed 0] [--n-null 200]

(``--out DIR``: the run's folder, default ``runs/stimulus_selection_s<seed>``; ``--epochs N``
overrides the recipe's 200 epochs, e.g. for a quick check that the script runs.)

Seeds 0, 1 and 2 all recover the routing (docs/notes/regime-recovery.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.metrics import adjusted_mutual_info_score

from alrnn_neuro.analysis import analyze_run, write_analysis
from alrnn_neuro.analysis.routing import hold_mode, rule_routing
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.training.api import fit, load_run
from alrnn_neuro.training.config import FitConfig

DATA = Path(__file__).resolve().parents[1] / "datasets" / "stimulus_selection_demo.h5"
RECIPE = Path(__file__).parent / "configs" / "stimulus_selection.toml"
SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")


def get_run(ds, seed: int, out: Path | None = None, epochs: int | None = None):
    """The recipe's run for ``seed`` (fitted once into ``out``, default
    ``runs/stimulus_selection_s<seed>``); ``epochs`` overrides the recipe's."""
    out = Path(f"runs/stimulus_selection_s{seed}") if out is None else out
    if (out / "metrics.json").is_file():
        return load_run(out)
    cfg = FitConfig.from_toml(RECIPE, seed=seed, epochs=epochs)  # None: the recipe's
    return fit(ds, cfg, out=out, dataset_path=DATA)


def report_routing(params, latents, names, label: str) -> None:
    table, summary = rule_routing(params, latents, names)
    found = "found" if summary["pair_found"] else "NOT found"
    print(
        f"{label}: rule-set routing pair {found} (choice axis CV accuracy "
        f"{summary['choice_accuracy']:.2f}, T = {summary['horizon']} bins)"
    )
    for row in table.itertuples():
        print(
            f"  {row.rule:>5} blocks -> region {row.region} ({row.share:.0%} of their stimulus "
            f"bins): location {row.location:+.2f}, pitch {row.pitch:+.2f}, "
            f"SI({row.relevant}) = {row.selectivity:+.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-null", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="run folder")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's")
    args = parser.parse_args()
    ds = load_dataset(DATA)
    run = get_run(ds, args.seed, args.out, args.epochs)
    res = analyze_run(run, ds, n_null=args.n_null, seed=0, evidence_inputs=SOUNDS)
    if run.run_dir is not None:
        write_analysis(res, Path(run.run_dir) / "analysis")
    s = res.summary
    print(
        f"fit: M={s['n_latent']} P={s['n_pwl']} (recipe {RECIPE.name}, seed {args.seed}), "
        f"test bits/spike {run.metrics['test']['bits_per_spike']:.3f}, "
        f"{s['n_regions_used']} regions used"
    )
    # 1. regions follow the task's epochs
    print(
        f"1. region/epoch AMI = {s['epoch_ami']:.3f} (circular-shift null p = "
        f"{s['epoch_p']:.3g}, {args.n_null} draws)"
    )
    # 2. each rule's region routes its relevant sound to the choice
    lat = run.latents.sel(trial=ds.trial)
    p = run.params
    report_routing(p, lat, list(run.config.inputs), "2. fit")
    # 3. the rule is held through the hold epoch in a slow mode
    hold = hold_mode(p, lat)
    print(
        f"3. hold epoch: region {hold['region']} ({hold['share']:.0%} of hold bins), slowest "
        f"|eigenvalue| = {hold['eigenvalue_modulus']:.3f}, rule AUC along it "
        f"{hold['rule_auc']:.2f}"
    )
    cycles = ", ".join(f"period {c['period']}: {c['n_cycles']}" for c in s["cycles"])
    print(
        f"   cycles ({s['cycles'][0]['method'] if s['cycles'] else '-'}): {cycles}; "
        f"primitives: {', '.join(s['primitives_found']) or 'none'}"
    )
    # the generating system, measured the same way
    truth = ds[["valid", "epoch"]].assign(
        latents=ds["true_latents"].rename(true_latent="latent"),
        bitcode=ds["true_region"].where(ds["valid"], -1).astype(int),
    )
    tp = ALRNNParams(
        ds["true_A"].values, ds["true_W"].values, ds["true_C"].values, ds["true_h"].values, 2
    )
    ok = ds["valid"].values
    both = ok & lat["valid"].values
    t_ami = adjusted_mutual_info_score(ds["true_region"].values[ok], ds["epoch"].values[ok])
    fit_ami = adjusted_mutual_info_score(
        ds["true_region"].values[both], lat["bitcode"].values[both]
    )
    print(
        f"truth: region/epoch AMI = {t_ami:.3f}; AMI(fitted bitcode, true region) = {fit_ami:.3f}"
    )
    report_routing(tp, truth, [str(x) for x in ds["input"].values], "truth")
    th = hold_mode(tp, truth)
    print(
        f"truth hold: region {th['region']}, slowest |eigenvalue| = "
        f"{th['eigenvalue_modulus']:.3f}, rule AUC {th['rule_auc']:.2f}"
    )


if __name__ == "__main__":
    main()

"""Linear regimes of an AL-RNN fitted to the simulated stimulus-selection session.

Loads ``runs/demo`` if it holds a finished run (else fits M=6, P=2 to
``datasets/stimulus_selection_demo.h5`` into ``runs/stimulus_selection_M6P2``), analyses it and
prints: region/epoch AMI and its null p-value, the region each rule puts the stimulus epoch in
and what those regions' maps route into the slow (integrating) mode, the slowest eigenvalue in
the hold epoch, and the same facts for the ground-truth system (``true_region``, M=7, P=2).

    python examples/regimes_stimulus_selection.py [--epochs 200] [--n-null 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

from alrnn_neuro.analysis import params_from_model, region_condition_table, region_jacobians
from alrnn_neuro.analysis.report import analyze_run, write_analysis
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.training.api import fit, load_run
from alrnn_neuro.training.config import FitConfig

DATA = Path("datasets/stimulus_selection_demo.h5")
SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")


def get_run(ds, epochs: int):
    demo = Path("runs/demo")
    if (demo / "metrics.json").is_file():
        return load_run(demo)
    cfg = FitConfig(latent_dim=6, pwl_units=2, epochs=epochs, seed=0, threads=2)
    out = Path("runs/stimulus_selection_M6P2")
    return load_run(out) if (out / "metrics.json").is_file() else fit(ds, cfg, out=out)


def routing(A, W, C, n_pwl, code, names) -> str:
    """Slow mode (|lambda| > 0.5) that the sounds reach most, and each sound's gain ``w^T C_k``."""
    J = region_jacobians(A, W, np.array([code]), n_pwl)[0]
    lam, V = np.linalg.eig(J)
    Wl = np.linalg.inv(V)  # rows: left eigenvectors, w_i^T v_i = 1
    idx = [names.index(n) for n in SOUNDS]
    gains = np.real(Wl @ C[:, idx])
    slow = np.abs(lam) > 0.5
    i = int(np.argmax(np.where(slow, np.abs(gains).max(1), -1)))
    text = ", ".join(f"{n} {g:+.2f}" for n, g in zip(SOUNDS, gains[i], strict=True))
    return f"mode lambda={lam[i].real:.3f}; gains {text}"


def stimulus_regions(codes_da, valid, epoch) -> dict[str, int]:
    table = region_condition_table(codes_da, "rule", valid, epoch).sel(epoch="stimulus")
    return {
        str(r): int(table.region.values[table.sel(rule=r).values.argmax()])
        for r in table.rule.values
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--n-null", type=int, default=200)
    args = parser.parse_args()
    ds = load_dataset(DATA)
    run = get_run(ds, args.epochs)
    res = analyze_run(run, ds, n_null=args.n_null, seed=0, evidence_inputs=SOUNDS)
    if run.run_dir is not None:
        write_analysis(res, Path(run.run_dir) / "analysis")
    s = res.summary
    print(f"model M={s['n_latent']} P={s['n_pwl']}: {s['n_regions_used']} regions used")
    print(f"region/epoch AMI = {s['epoch_ami']:.3f} (circular null p = {s['epoch_p']:.3g})")
    lat = run.latents.sel(trial=ds.trial)
    valid, epoch = lat["valid"], lat["epoch"]
    p = params_from_model(run.model.dynamics)
    names = list(run.config.inputs)
    pair = stimulus_regions(lat["bitcode"], valid, epoch)
    print(f"rule -> dominant stimulus-epoch region (fit): {pair}")
    for rule, code in pair.items():
        print(
            f"  {rule}: region {code}: {routing(p['A'], p['W'], p['C'], p['n_pwl'], code, names)}"
        )
    hold = res.regimes["region_epoch"].sel(epoch="hold")
    code = int(hold.region.values[hold.values.argmax()])
    lam = res.dynamics["eigenvalue_modulus"].sel(region=code).max()
    print(f"hold epoch: region {code}, slowest |eigenvalue| = {float(lam):.3f}")
    # ground truth
    truth = ds["true_region"].where(ds["valid"], -1).astype(int).copy()
    truth.attrs["bin_size"] = ds.attrs["bin_size"]
    ok = ds["valid"].values & valid.values
    ami = adjusted_mutual_info_score(truth.values[ok], lat["bitcode"].values[ok])
    print(f"AMI(fitted bitcode, true_region) = {ami:.3f}")
    tpair = stimulus_regions(truth, ds["valid"], ds["epoch"])
    print(f"rule -> dominant stimulus-epoch region (truth): {tpair}")
    tA, tW, tC = (ds[f"true_{k}"].values for k in ("A", "W", "C"))
    for rule, c in tpair.items():
        print(f"  {rule}: true region {c}: {routing(tA, tW, tC, 2, c, names)}")
    t_ami = adjusted_mutual_info_score(
        truth.values[ds["valid"].values], ds["epoch"].values[ds["valid"].values]
    )
    print(f"true region/epoch AMI = {t_ami:.3f}")


if __name__ == "__main__":
    main()

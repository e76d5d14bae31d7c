"""Make ``datasets/stimulus_selection_demo.h5``: the exact recipe of the bundled demo dataset.

Run from anywhere::

    python scripts/make_demo_dataset.py            # writes datasets/stimulus_selection_demo.h5
    python scripts/make_demo_dataset.py --check    # regenerates in memory, compares with the file

The same command line does the same thing::

    alrnn-neuro simulate stimulus-selection --out datasets/stimulus_selection_demo.h5 \\
        --n-trials 500 --n-units 30 --seed 2014 --bin-size 0.05 --lfp --overwrite

See ``datasets/stimulus_selection_demo.md`` for what the file holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from alrnn_neuro.data.h5 import load_dataset, save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection

OUT = Path(__file__).resolve().parents[1] / "datasets" / "stimulus_selection_demo.h5"
RECIPE = {"n_trials": 500, "n_units": 30, "seed": 2014, "bin_size": 0.05, "lfp": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    ds = simulate_stimulus_selection(**RECIPE)
    if args.check:
        stored = load_dataset(args.out)
        same = all(np.array_equal(stored[name].values, ds[name].values) for name in ds.data_vars)
        sys.stdout.write(f"{args.out}: {'matches' if same else 'DIFFERS FROM'} the recipe\n")
        return 0 if same else 1
    save_dataset(ds, args.out)
    size = args.out.stat().st_size / 1e6
    sys.stdout.write(f"wrote {args.out} ({size:.1f} MB)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

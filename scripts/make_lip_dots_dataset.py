"""Write the LIP dots trials of ``examples/real_recordings_lip.py`` as a dataset file to sweep.

``alrnn-neuro sweep`` takes a dataset file; the LIP example fits the random-dot trials of
``datasets/roitman2002_fd_monkeyB.h5`` and the units observed on them, with the coherence
classes ``strength`` and ``motion_class`` added (its ``dots_dataset``). This script saves
exactly that dataset (1163 trials, 29 units), with the source's licence and citation in its
attrs. Run from the repository root (docs/verdicts.md uses it)::

    python scripts/make_lip_dots_dataset.py --out runs/verdicts/lip/lip_dots.h5

Data: Roitman JD, Shadlen MN (2002) J Neurosci 22(21):9475-9489; files from
github.com/DrugowitschLab/CoSMo2017, BSD-3-Clause, Copyright (c) 2017 Drugowitsch Lab (full
text: datasets/LICENSE-roitman2002). Keep the notice with anything derived.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path

from alrnn_neuro.data.h5 import save_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "real_recordings_lip.py"
LICENCE = (
    "BSD-3-Clause, Copyright (c) 2017 Drugowitsch Lab (datasets/LICENSE-roitman2002 of "
    "alrnn-neuro); keep this notice with anything derived"
)
CITATION = (
    "Roitman JD, Shadlen MN (2002) Response of neurons in the lateral intraparietal area "
    "during a combined visual discrimination reaction time task. J Neurosci 22(21):9475-9489"
)


def load_example():
    """The LIP example as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("real_recordings_lip", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> Path:
    """Save the example's dots dataset to ``--out``; return its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/verdicts/lip/lip_dots.h5"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ds = load_example().dots_dataset()
    ds.attrs.update(
        derived_from="datasets/roitman2002_fd_monkeyB.h5: task == dots trials, units observed "
        "on them, coords strength and motion_class (examples/real_recordings_lip.py)",
        licence=LICENCE,
        citation=CITATION,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_dataset(ds, args.out)
    logging.info("wrote %s: %d trials, %d units", args.out, ds.sizes["trial"], ds.sizes["unit"])
    return args.out


if __name__ == "__main__":
    main()

"""Build ``datasets/roitman2002_fd_monkeyB.h5`` from the raw Roitman & Shadlen (2002) files.

This is the exact recipe of the shipped file (``tests/test_roitman.py`` checks that the file
equals a fresh conversion with :data:`RECIPE`). Run from the repository root::

    python scripts/make_roitman_dataset.py [SOURCE] [--out FILE]

SOURCE defaults to ``../shared/data/roitman2002_fd_monkeyB/all_b_fd.tar.gz`` (the public
files, see ``datasets/roitman2002_fd_monkeyB.md``). The same file comes from the CLI::

    alrnn-neuro convert roitman-fd SOURCE --out datasets/roitman2002_fd_monkeyB.h5 \\
        --bin-size 0.05 --align fix --window 0,3.6 --overwrite
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.data.roitman import convert_roitman

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "roitman2002_fd_monkeyB" / "all_b_fd.tar.gz"
DEFAULT_OUT = ROOT / "datasets" / "roitman2002_fd_monkeyB.h5"
RECIPE = {"bin_size": 0.05, "align": "fix", "window": (0.0, 3.6)}
"""Whole trials: 50 ms bins from fixation acquired (0 s) to 3.6 s, past the latest saccade."""


def main(argv: list[str] | None = None) -> Path:
    """Convert SOURCE with :data:`RECIPE` and write the compact dataset; return its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ds = convert_roitman(args.source, **RECIPE)
    save_dataset(ds, args.out)
    logging.info(
        "wrote %s: %d trials x %d bins x %d units (%.2f MB)",
        args.out,
        ds.sizes["trial"],
        ds.sizes["time"],
        ds.sizes["unit"],
        args.out.stat().st_size / 1e6,
    )
    return args.out


if __name__ == "__main__":
    main()

"""The files of a sweep folder, and when a cell counts as finished.

==================  ======================================================================
path                content
==================  ======================================================================
``sweep.json``      the grid, the base config, the dataset fingerprint, the common test
                    trials
``dataset.h5``      the generated task dataset (task sweeps only)
``cells/<name>/``   one run directory per cell, plus ``sweep_cell.json`` (its test score on
                    the common test trials); a cell is finished when both exist
``results.nc``      every cell's metrics on dims (model, pwl_units, latent_dim, ...)
==================  ======================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training import rundir as rd

SWEEP_FILE, CELL_FILE, RESULTS_FILE = rd.SWEEP_RECORD, "sweep_cell.json", "results.nc"
DATASET_FILE = rd.SWEPT_DATASET


def cell_complete(path: Path) -> bool:
    """Whether ``path`` holds a finished cell (run files + the sweep's test score)."""
    return (path / rd.METRICS).is_file() and (path / CELL_FILE).is_file()


def require_complete(root: Path, names: list[str]) -> None:
    """Raise if any of the cells ``names`` of the sweep ``root`` is unfinished.

    Raises
    ------
    RunDirError
        Naming how many cells are unfinished, the first three, and the fix.
    """
    unfinished = [name for name in names if not cell_complete(root / "cells" / name)]
    if unfinished:
        raise RunDirError(
            f"sweep {root} has {len(unfinished)} unfinished cells ({', '.join(unfinished[:3])}"
            f"{', ...' if len(unfinished) > 3 else ''}); fix: run the same sweep command again "
            "to finish them"
        )


def finished_cells(out: str | os.PathLike) -> list[str]:
    """Names of the finished cells in the sweep folder ``out`` (sorted)."""
    cells = Path(out) / "cells"
    if not cells.is_dir():
        return []
    return sorted(p.name for p in cells.iterdir() if p.is_dir() and cell_complete(p))

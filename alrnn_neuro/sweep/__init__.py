"""Sweeps: fit a grid of AL-RNNs and baselines (P x seeds x train fraction x M), collect results.

Notebook use::

    from alrnn_neuro.sweep import SweepGrid, run_sweep, select_nonlinearity, summarize
    grid = SweepGrid(models=("alrnn", "gru"), pwl_units=(0, 1, 2, 4), seeds=(0, 1, 2))
    results = run_sweep(ds, grid, FitConfig(epochs=100), out="sweeps/demo", folds=5)
    summarize(results)["mean"]
    select_nonlinearity("sweeps/demo").attrs["verdict"]  # P as inference over trials
"""

from alrnn_neuro.sweep.folds import fold_assignment as fold_assignment
from alrnn_neuro.sweep.grid import Cell as Cell
from alrnn_neuro.sweep.grid import SweepGrid as SweepGrid
from alrnn_neuro.sweep.grid import group_cells as group_cells
from alrnn_neuro.sweep.results import collect_results as collect_results
from alrnn_neuro.sweep.results import summarize as summarize
from alrnn_neuro.sweep.run import run_sweep as run_sweep
from alrnn_neuro.sweep.selection import select_nonlinearity as select_nonlinearity

__all__ = [
    "Cell",
    "SweepGrid",
    "collect_results",
    "fold_assignment",
    "group_cells",
    "run_sweep",
    "select_nonlinearity",
    "summarize",
]

"""Cost vs P of every task of ``reproduce tasks``: operations, regions and measured time.

For each task the AL-RNN of the task's M is timed at every swept P on batches of the task's
own shape (inputs, sequence length, batch size) with
:func:`alrnn_neuro.analysis.cost.model_cost`; the tables are stacked over ``task`` into
``cost/cost.nc`` with the figure ``cost/cost.png`` (and ``.svg``), and summarised per task and P
in ``reproduce.json`` under ``cost_vs_p``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.cost import model_cost
from alrnn_neuro.data.h5 import write_netcdf
from alrnn_neuro.plotting.cost import plot_cost_vs_p
from alrnn_neuro.plotting.regimes import save_figure
from alrnn_neuro.reproduce.settings import TaskSpec

#: timed rounds per P (median reported); steps are interleaved across P within a round
REPEATS = 7


def task_cost(root: Path, specs: dict[str, TaskSpec], seed: int) -> dict[str, Any]:
    """Measure cost vs P for every task in ``specs``; write ``cost/``; return the summary.

    Parameters
    ----------
    root : Path
        The reproduction folder; each task's data is read from ``tasks/<task>/sweep/dataset.h5``.
    specs : dict of str to TaskSpec
        The tasks and their M and P grid.
    seed : int
        Seed of the timed models and batches.

    Returns
    -------
    dict
        ``{task: {P: {"nonlinear_ops_per_step", "n_regions", "step_ratio",
        "fixed_point_seconds"}}}`` plus ``"clock"`` and ``"repeats"``.
    """
    tables = []
    for task, spec in specs.items():
        data = root / "tasks" / task / "sweep" / "dataset.h5"
        with xr.open_dataset(data, engine="h5netcdf") as ds:
            sizes = dict(ds.sizes)  # the task's shape only: nothing is read
        tables.append(
            model_cost(
                spec.latent_dim,
                spec.pwl_units,
                input_dim=sizes["input"],
                n_steps=sizes["time"],
                batch_size=spec.batch_size,
                repeats=REPEATS,
                seed=seed,
            )
        )
    cost = xr.concat(tables, dim=pd.Index(list(specs), name="task"), join="outer")
    cost.attrs = {k: v for k, v in tables[0].attrs.items() if k in ("clock", "repeats", "seed")}
    cost.attrs["torch_threads"] = tables[0].attrs["torch_threads"]
    cost["latent_dim"] = ("task", [spec.latent_dim for spec in specs.values()])
    cost["latent_dim"].attrs.update(units="1", description="M, latent units of the task's model")
    out = root / "cost"
    out.mkdir(parents=True, exist_ok=True)
    write_netcdf(cost, out / "cost.nc")
    save_figure(plot_cost_vs_p(cost), out, "cost")
    summary: dict[str, Any] = {"clock": cost.attrs["clock"], "repeats": REPEATS}
    for task, table in zip(specs, tables, strict=True):
        summary[task] = {
            str(int(p)): {
                "nonlinear_ops_per_step": int(table["nonlinear_ops_per_step"].sel(pwl_units=p)),
                "n_regions": float(table["n_regions"].sel(pwl_units=p)),
                "step_ratio": float(table["step_ratio"].sel(pwl_units=p)),
                "fixed_point_seconds": float(table["fixed_point_seconds"].sel(pwl_units=p)),
            }
            for p in table["pwl_units"].values
        }
    return summary

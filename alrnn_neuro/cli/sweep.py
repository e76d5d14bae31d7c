"""``alrnn-neuro sweep DATASET_OR_TASK``: fit a grid of AL-RNNs and baselines, print the summary.

Example::

    alrnn-neuro sweep data.h5 --pwl-units 0,1,2,4 --seeds 3 --train-fraction 0.3,1 \\
        --model alrnn,gru --latent-dim 6 --epochs 100 --out sweeps/demo
    alrnn-neuro sweep addition --n-trials 500 --task-seed 0 --pwl-units 0,1,2 --out sweeps/add
    alrnn-neuro sweep data.h5 --pwl-units 0,1,2 --seeds 2 --folds 5 --out sweeps/cv
    alrnn-neuro select sweeps/cv

A task name (``addition``, ``copy``, ..., ``multitask`` = the 11-task suite) instead of a file
generates that task into ``OUT/dataset.h5`` and sweeps it; task sweeps are ranked by test
accuracy. Finished cells are skipped when the same command runs again (``--no-resume`` refuses
an existing sweep instead). ``--executor dask`` runs one task per group on a local cluster, or
on an existing one given by ``--scheduler tcp://HOST:8786`` (see docs/cluster.md).
``--folds K`` fits every cell once per fold of trials, so every trial is held out exactly once
(``alrnn-neuro select`` then tests P on all trials); ``--split-seed`` draws the held-out trials
independently of the model seeds (default 0).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro._atomic import check_output_path
from alrnn_neuro.cli.fit import CONFIG
from alrnn_neuro.cli.fit_options import (
    TOML_NOTE,
    fit_settings,
    refuse_inert_flags,
    with_fit_flags,
)
from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import max_threads, seed_option
from alrnn_neuro.errors import ConfigError, OutputError
from alrnn_neuro.simulate.tasks import MULTITASK, TASKS
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.progress import CellProgress, for_command_line


def describe_interrupted_sweep(out: Path, command: str = "sweep", **_: object) -> str:
    """What an interrupted sweep leaves in ``out`` and how to continue it."""
    from alrnn_neuro.sweep.layout import finished_cells

    done = finished_cells(out)
    names = ", ".join(done[:4]) + (", ..." if len(done) > 4 else "")
    kept = (
        f"{len(done)} finished cells are kept in {out / 'cells'} ({names})"
        if done
        else ("no cell had finished")
    )
    return (
        f"workers stopped; {kept}; run the same `alrnn-neuro {command}` command again to fit "
        "the rest (finished cells are skipped)"
    )


#: FitConfig fields the grid (or a sweep-specific flag) sets
GRID_FIELDS = ("model", "latent_dim", "pwl_units", "seed", "split_seed")
HELP_EPILOG = (
    f"Every fit flag sets the base config of all cells (the grid sets model, M, P and the "
    f"seeds; a --config file's model, latent_dim and pwl_units are the grid's defaults). "
    f"{TOML_NOTE} Progress: cells done/total with the time left."
)


@on_interrupt(describe_interrupted_sweep)
@with_fit_flags(exclude=GRID_FIELDS)
def sweep_command(
    dataset: str = typer.Argument(
        ...,
        help="dataset.h5 (canonical or plain layout), or a task name to generate: "
        f"{', '.join(sorted(TASKS, key=str.lower))} or {MULTITASK} (the 11-task suite).",
    ),
    out: Path = typer.Option(..., "--out", help="Sweep folder (cells/, sweep.json, results.nc)."),
    pwl_units: str = typer.Option(
        None, "--pwl-units", help="P values, e.g. 0,1,2,4 (default: --config's, else 0,1,2)."
    ),
    seeds: str = typer.Option("3", "--seeds", help="Number of seeds (3 = 0,1,2) or a list 0,5."),
    train_fraction: str = typer.Option("1", "--train-fraction", help="e.g. 0.3,1."),
    model: str = typer.Option(
        None,
        "--model",
        help="Comma list of alrnn | rnn | gru | lstm (default: --config's, else alrnn).",
    ),
    latent_dim: str = typer.Option(
        None, "--latent-dim", help="M values, e.g. 6 or 4,6 (default: --config's, else 6)."
    ),
    max_members: int = typer.Option(16, "--max-members", help="AL-RNNs per ensemble task."),
    executor: str = typer.Option(
        "local", "--executor", help="local (one cell group after another) | dask."
    ),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a dask scheduler."),
    workers: int = typer.Option(
        None, "--workers", min=1, max=max_threads(), help="Worker processes of a local cluster."
    ),
    dashboard: bool = typer.Option(
        False, "--dashboard", help="Serve dask's dashboard on 127.0.0.1 (local cluster)."
    ),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip finished cells."),
    n_trials: int = typer.Option(
        None, "--n-trials", help="Trials of a generated task (per task for multitask; default 500)."
    ),
    task_seed: int = seed_option(None, "Seed of a generated task (default 0).", "--task-seed"),
    data_seed: int = seed_option(None, "Seed of the batch order (default 0).", "--data-seed"),
    folds: int = typer.Option(
        1, "--folds", help="K >= 2: K-fold cross-validation over trials; 1: one test split."
    ),
    split_seed: int = seed_option(
        None, "Seed of the held-out trials and train/val split (default 0).", "--split-seed"
    ),
    config: Path = CONFIG,
    fit_flags: dict | None = None,
) -> None:
    """Fit every (model, M, P, seed, train fraction) cell and summarise over seeds."""
    from alrnn_neuro.sweep import SweepGrid, run_sweep, summarize
    from alrnn_neuro.sweep.layout import finished_cells
    from alrnn_neuro.sweep.run import check_sweep_args
    from alrnn_neuro.sweep.task_data import sweep_source

    check_output_path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; fix: give a folder path")
    seeds_given = {"seed": data_seed, "split_seed": split_seed}
    flags = {**(fit_flags or {}), **{k: v for k, v in seeds_given.items() if v is not None}}
    settings = fit_settings(config, flags)
    # the grid's model, M and P: the flags, else the --config file's values, else the defaults
    model, latent_dim, pwl_units = (
        text if text is not None else str(settings.get(key, default))
        for text, key, default in (
            (model, "model", "alrnn"),
            (latent_dim, "latent_dim", 6),
            (pwl_units, "pwl_units", "0,1,2"),
        )
    )
    n_or_list = _ints("--seeds", seeds)
    grid = SweepGrid(
        models=tuple(_items("--model", model)),
        pwl_units=tuple(_ints("--pwl-units", pwl_units)),
        seeds=tuple(range(_seed_count(n_or_list[0]))) if "," not in seeds else tuple(n_or_list),
        train_fractions=tuple(_floats("--train-fraction", train_fraction)),
        latent_dims=tuple(_ints("--latent-dim", latent_dim)),
        max_members=max_members,
        folds=folds,
    )
    # the base records the grid's first model and M (each cell sets its own, and its P)
    settings.update(model=grid.models[0], latent_dim=grid.latent_dims[0], pwl_units=0)
    base = FitConfig.from_dict(settings)
    refuse_inert_flags(fit_flags or {}, base)  # e.g. --tf-alpha without --tf-interval
    if dashboard and executor != "dask":
        raise ConfigError(
            "--dashboard serves the dask cluster's dashboard and needs --executor dask; fix: "
            "add --executor dask, or leave --dashboard out"
        )
    check_sweep_args(
        base,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        split_seed=base.split_seed,
    )
    for flag, value in (("--n-trials", n_trials), ("--task-seed", task_seed)):
        if value is not None and Path(dataset).is_file():
            raise ConfigError(
                f"{flag} {value} applies to a generated task, but {dataset} is a data file "
                f"(every trial is swept); fix: leave {flag} out, or give a task name"
            )
    created = not out.exists()
    source = sweep_source(
        dataset,
        out,
        n_trials=500 if n_trials is None else n_trials,
        seed=0 if task_seed is None else task_seed,
        base_config=base,
    )
    console = Console()
    display = for_command_line(CellProgress)
    header = f"sweep of {len(grid.cells())} cells -> [bold]{escape(str(out))}[/]"

    def progress(info: dict) -> None:  # the header once the settings are checked, not before
        nonlocal header
        if header:
            console.print(header, highlight=False)
            header = ""
        display(info)

    try:
        results = run_sweep(
            source,
            grid,
            base,
            out=out,
            executor=executor,
            scheduler=scheduler,
            workers=workers,
            resume=resume,
            dashboard=dashboard,
            split_seed=base.split_seed,
            progress=progress,
        )
    except Exception:  # e.g. a split refused before any fit: the generated task goes too
        if created and out.is_dir() and not finished_cells(out):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        display.stop()
    _table(console, summarize(results))
    if "test_bits_per_spike" in results and "alrnn" in grid.models:
        console.print(f"test P as inference: alrnn-neuro select {out}", highlight=False)


def _table(console: Console, summary) -> None:
    metric = summary.attrs["metric"]
    flat = summary[["mean", "sem", "n_seeds"]].to_dataframe().reset_index()
    keys = [c for c in ("model", "latent_dim", "train_fraction", "pwl_units") if c in flat]
    table = Table(*keys, f"{metric} (mean ± sem)", "seeds", title="sweep summary")
    first_p = flat["pwl_units"].iloc[0]
    for row in flat.itertuples():
        if row.model != "alrnn" and row.pwl_units != first_p:
            continue  # baselines have no P: their values repeat along pwl_units
        cells = [str(getattr(row, k)) for k in keys]
        if row.model != "alrnn":
            cells[keys.index("pwl_units")] = "-"
        table.add_row(*cells, f"{row.mean:.4g} ± {row.sem:.2g}", str(row.n_seeds))
    console.print(table)
    if "minimal_pwl_units" in summary:
        best = summary["minimal_pwl_units"].to_series().to_dict()
        console.print(
            f"minimal sufficient P, rule of thumb (within one sem of the best over seeds, "
            f"untested): {best}"
        )


#: most seeds a count (``--seeds N``) may ask for
MAX_SEED_COUNT = 10_000


def _seed_count(n: int) -> int:
    if not 1 <= n <= MAX_SEED_COUNT:
        raise ConfigError(
            f"--seeds={n}: a count of seeds must be 1..{MAX_SEED_COUNT}; fix: e.g. --seeds 3, "
            "or a list such as --seeds 0,5"
        )
    return n


def _items(flag: str, text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{flag}={text!r} is empty; fix: give a comma-separated list")
    return items


def _ints(flag: str, text: str) -> list[int]:
    try:
        return [int(t) for t in _items(flag, text)]
    except ValueError as error:
        raise ConfigError(f"{flag}={text!r}: not integers; fix: e.g. {flag} 0,1,2") from error


def _floats(flag: str, text: str) -> list[float]:
    try:
        return [float(t) for t in _items(flag, text)]
    except ValueError as error:
        raise ConfigError(f"{flag}={text!r}: not numbers; fix: e.g. {flag} 0.3,1") from error


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""
    app.command("sweep", epilog=HELP_EPILOG)(sweep_command)

"""``alrnn-neuro fit DATASET``: fit an AL-RNN (or a baseline) and write a run directory.

Every :class:`~alrnn_neuro.training.FitConfig` field is a flag (see
:mod:`alrnn_neuro.cli.fit_options`). Settings, lowest precedence first: the defaults < the
saved config of the run being resumed (``--resume``) < the TOML file (``--config``) < flags
given on the command line. TOML keys are the flag names with ``_`` for ``-`` (``latent_dim =
8`` is ``--latent-dim 8``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro._atomic import check_output_path
from alrnn_neuro.cli.fit_options import (
    TOML_NOTE,
    fit_settings,
    refuse_inert_flags,
    with_fit_flags,
)
from alrnn_neuro.cli.interrupts import CommandInterrupted, nothing_written, on_interrupt
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.progress import EpochProgress, for_command_line

HELP_EPILOG = (
    f"{TOML_NOTE} Progress: a bar on a terminal, a plain line every 10 s in a log file. "
    "Ctrl-C saves the last finished epoch; continue with --resume."
)
CONFIG = typer.Option(None, "--config", help="TOML file of fit settings (same names).")


@on_interrupt(nothing_written)
@with_fit_flags()
def fit_command(
    dataset: Path = typer.Argument(..., help="dataset.h5 (canonical, plain layout or task)."),
    out: Path = typer.Option(
        None, "--out", help="Run directory (default runs/DATASET-MODEL-M<M>-P<P>-seed<SEED>)."
    ),
    config: Path = CONFIG,
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out."),
    fit_flags: dict | None = None,
) -> None:
    """Fit a model to DATASET and save model, latents, metrics and curves in a run dir."""
    settings = fit_settings(config, fit_flags or {})
    cfg = FitConfig.from_dict(settings)
    run = check_output_path(out if out is not None else default_run_dir(dataset, cfg))

    if resume and (run / rd.CONFIG).is_file():
        saved = rd.read_json(run / rd.CONFIG).get("config", {})
        cfg = FitConfig.from_dict({**saved, **settings})
    refuse_inert_flags(fit_flags or {}, cfg)
    from alrnn_neuro.training.api import fit

    ds = load_dataset(dataset)
    display = for_command_line(EpochProgress)
    started = time.perf_counter()
    try:
        result = fit(
            ds,
            cfg,
            out=run,
            resume=resume,
            overwrite=overwrite,
            callback=display,
            dataset_path=dataset,
        )
    except KeyboardInterrupt:
        display.stop(erase=True)
        raise CommandInterrupted(_interrupted_message(dataset, run)) from None
    except BaseException:
        display.stop(erase=True)  # the error is the one line to see
        raise
    finally:
        display.stop()
    _summary(Console(), result, time.perf_counter() - started)


def default_run_dir(dataset: Path, cfg: FitConfig) -> Path:
    """``runs/<dataset-stem>-<model>-M<latent_dim>-P<pwl_units>-seed<seed>``."""
    name = f"{dataset.stem}-{cfg.model}-M{cfg.latent_dim}-P{cfg.pwl_units}-seed{cfg.seed}"
    return Path("runs") / name


def _interrupted_message(dataset: Path, run: Path) -> str:

    checkpoint = run / rd.CHECKPOINT
    try:
        epoch = int(rd.load_torch_file(checkpoint)["epoch"]) if checkpoint.is_file() else 0
    except (RunDirError, KeyError, TypeError, ValueError):
        epoch = 0
    if not epoch:
        return "no epoch had finished, so nothing was saved; run the same command again"
    return (
        f"the checkpoint of epoch {epoch} is saved in {run}; resume with: alrnn-neuro fit "
        f"{dataset} --out {run} --resume"
    )


def _summary(console: Console, result: Any, seconds: float) -> None:
    metrics = result.metrics
    console.print(
        f"run saved in [bold]{escape(str(result.run_dir))}[/] ({metrics['epochs_run']} epochs, "
        f"best {metrics['best_epoch']}, stopped by {metrics['stop_reason']}, {seconds:.0f} s)",
        highlight=False,
    )
    splits = [name for name in ("train", "val", "test") if name in metrics]
    table = Table("metric", *splits, title="metrics", title_justify="left")
    names = [k for k in metrics[splits[0]] if k not in ("ll_model", "ll_psth")]
    for name in names:
        values = [metrics[s].get(name) for s in splits]
        table.add_row(name, *("-" if v is None else f"{v:.4g}" for v in values))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to ``app``."""
    app.command("fit", epilog=HELP_EPILOG)(fit_command)

"""``alrnn-neuro fit DATASET``: fit an AL-RNN (or a baseline) and write a run directory.

Settings, lowest precedence first: the defaults of :class:`~alrnn_neuro.training.FitConfig`
< the saved config of the run being resumed (``--resume``) < the TOML file (``--config``)
< flags given on the command line. TOML keys are the flag names with ``_`` for ``-``
(``latent_dim = 8`` is ``--latent-dim 8``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from alrnn_neuro._atomic import check_output_path
from alrnn_neuro.cli.interrupts import CommandInterrupted, nothing_written, on_interrupt
from alrnn_neuro.cli.options import seed_option
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.config import FitConfig, read_toml

HELP_EPILOG = (
    "Precedence: defaults < saved run config (--resume) < --config TOML < flags. "
    "Ctrl-C saves the last finished epoch; continue with --resume."
)


#: options shared with ``alrnn-neuro sweep`` (None = the TOML file's value or the default)
OBS = typer.Option(
    None,
    "--obs",
    help="poisson | gaussian | identity | mse | cross_entropy (default: spikes -> poisson, "
    "signal -> gaussian, task -> its task loss).",
)
EPOCHS = typer.Option(None, "--epochs", help="Maximum epochs (default 200).")
LR = typer.Option(None, "--lr", help="Initial learning rate (default 0.005).")
BATCH_SIZE = typer.Option(None, "--batch-size", help="Trials per step (default 32).")
TF_INTERVAL = typer.Option(
    None, "--tf-interval", help="Teacher forcing every N steps (default 0 = off)."
)
TF_ALPHA = typer.Option(None, "--tf-alpha", help="Forcing strength 0..1 (default 0.5).")
MAR = typer.Option(None, "--mar", help="Manifold-attractor regularisation (default 0).")
GRAD_CLIP = typer.Option(None, "--grad-clip", help="Max gradient norm, 0 = off (default 1).")
BEHAVIOUR = typer.Option(
    None, "--behaviour/--no-behaviour", help="Add a choice head on the 'choice' coord."
)
CONFIG = typer.Option(None, "--config", help="TOML file of fit settings (same names).")


def fit_settings(config: Path | None, **flags: Any) -> dict[str, Any]:
    """Fit settings: the TOML file ``config`` (if any) overridden by the flags that are set."""
    settings = read_toml(config) if config is not None else {}
    settings.update({k: v for k, v in flags.items() if v is not None})
    return settings


@on_interrupt(nothing_written)
def fit_command(
    dataset: Path = typer.Argument(..., help="dataset.h5 (canonical, plain layout or task)."),
    latent_dim: int = typer.Option(None, "--latent-dim", help="Latent states M (default 6)."),
    pwl_units: int = typer.Option(None, "--pwl-units", help="PWL units P <= M (default 2)."),
    obs: str = OBS,
    model: str = typer.Option(None, "--model", help="alrnn | rnn | gru | lstm (default alrnn)."),
    epochs: int = EPOCHS,
    lr: float = LR,
    batch_size: int = BATCH_SIZE,
    seed: int = seed_option(None, "Seed of init, split, batches (default 0)."),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default cpu)."),
    tf_interval: int = TF_INTERVAL,
    tf_alpha: float = TF_ALPHA,
    mar: float = MAR,
    grad_clip: float = GRAD_CLIP,
    behaviour: bool = BEHAVIOUR,
    out: Path = typer.Option(
        None, "--out", help="Run directory (default runs/DATASET-MODEL-M<M>-P<P>-seed<SEED>)."
    ),
    config: Path = CONFIG,
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out."),
) -> None:
    """Fit a model to DATASET and save model, latents, metrics and curves in a run dir."""
    settings = fit_settings(
        config, latent_dim=latent_dim, pwl_units=pwl_units, obs=obs, model=model,
        epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
        tf_interval=tf_interval, tf_alpha=tf_alpha, mar=mar, grad_clip=grad_clip,
        behaviour=behaviour,
    )  # fmt: skip
    cfg = FitConfig.from_dict(settings)
    run = check_output_path(out if out is not None else default_run_dir(dataset, cfg))

    if resume and (run / rd.CONFIG).is_file():
        saved = rd.read_json(run / rd.CONFIG).get("config", {})
        cfg = FitConfig.from_dict({**saved, **settings})
    from alrnn_neuro.training.api import fit

    ds = load_dataset(dataset)
    display = EpochProgress(Console(stderr=True))
    started = time.perf_counter()
    try:
        result = fit(ds, cfg, out=run, resume=resume, overwrite=overwrite, callback=display,
                     dataset_path=dataset)  # fmt: skip
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


class EpochProgress:
    """Rich progress bar fed by the training callback; starts with the first finished epoch,
    so nothing is drawn when a fit is refused before training."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, info: dict[str, Any]) -> None:
        """Show one finished epoch (``epoch``, ``epochs``, losses, ``best_epoch``)."""
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]epoch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("train {task.fields[train]:.4f}  val {task.fields[val]:.4f}"),
                TextColumn("best {task.fields[best]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                "fit", total=info["epochs"], completed=info["epoch"] - 1, train=0.0, val=0.0,
                best=0,
            )  # fmt: skip
        self.progress.update(self.task, completed=info["epoch"], train=info["train_loss"],
                             val=info["val_loss"], best=info["best_epoch"])  # fmt: skip

    def stop(self, *, erase: bool = False) -> None:
        """Close the bar (idempotent); ``erase`` removes it from the screen."""
        if self.progress is not None:
            if erase:
                self.progress.live.transient = True
            self.progress.stop()
            self.progress = None


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

"""``alrnn-neuro simulate``: simulated datasets.

``alrnn-neuro simulate stimulus-selection --out FILE [--generator NAME]``: recordings with ground
truth from one of the generators of :mod:`alrnn_neuro.simulate.generators`;
``alrnn-neuro simulate task NAME --out FILE [--variant short|study]``: a task dataset
(``addition``, ``copy``, ..., ``multitask`` = the 11-task suite; ``study`` = the AL-RNN study's
definitions) to fit with ``alrnn-neuro fit FILE``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import OVERWRITE, seed_option
from alrnn_neuro.cli.outputs import refuse_existing_file
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.tasks import MULTITASK, STUDY_TASKS, TASKS, VARIANTS, make_task

#: largest simulated sizes (beyond them the arrays would not fit a workstation's memory)
MAX_TRIALS, MAX_UNITS = 1_000_000, 100_000

simulate_app = typer.Typer(
    help="Simulate datasets with a known generating system.", no_args_is_help=True
)


def _not_written(out: Path, **_: object) -> str:
    return f"{out} was not written; run the same command again"


@simulate_app.command("stimulus-selection")
@on_interrupt(_not_written)
def stimulus_selection(
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset.h5 (written atomically)."),
    n_trials: int = typer.Option(
        500, "--n-trials", min=1, max=MAX_TRIALS, help="Number of trials (>= 1)."
    ),
    n_units: int = typer.Option(
        30, "--n-units", min=2, max=MAX_UNITS, help="Units (>= 2), half mPFC-, half A1-like."
    ),
    seed: int = seed_option(0, "Random seed (>= 0); same seed, same file."),
    bin_size: float = typer.Option(0.05, "--bin-size", help="Bin width in seconds."),
    lfp: bool = typer.Option(True, "--lfp/--no-lfp", help="Add LFP band amplitudes."),
    generator: str = typer.Option(
        "pwl",
        "--generator",
        help="Ground truth: pwl, linear, no_routing, softplus, bilinear or lstm "
        "(docs/generators.md).",
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Simulate the stimulus-selection task (after Rodgers & DeWeese 2014) with ground truth."""

    refuse_existing_file(out, overwrite)

    ds = simulate_stimulus_selection(
        n_trials=n_trials,
        n_units=n_units,
        seed=seed,
        bin_size=bin_size,
        lfp=lfp,
        generator=generator,
    )
    save_dataset(ds, out)
    correct = ds["correct"].values
    cue = ds["cue_trial"].values
    congruent = ds["congruent"].values
    table = Table(title=f"wrote {escape(str(out))}", show_header=False, title_justify="left")
    table.add_row(
        "trials × bins × units",
        f"{ds.sizes['trial']} × {ds.sizes['time']} × "
        f"{ds.sizes['unit']} ({ds.attrs['bin_size'] * 1e3:g} ms bins)",
    )
    for rule in ("local", "pitch"):
        chosen = (ds["rule"].values == rule) & ~cue
        table.add_row(f"accuracy, {rule} blocks", _fraction(correct, chosen))
    table.add_row("accuracy, congruent", _fraction(correct, congruent))
    table.add_row("accuracy, incongruent", _fraction(correct, ~congruent & ~cue))
    table.add_row("accuracy, switch trials", _fraction(correct, ds["switch"].values))
    table.add_row(
        f"ground truth ({ds.attrs['generator']})",
        ", ".join(name for name in ds.data_vars if str(name).startswith("true_")),
    )
    table.add_row("LFP", "lfp_amplitude (trial, time, channel, band)" if lfp else "no")
    Console().print(table)


TASK_HELP = (
    f"Task name: {', '.join(sorted(TASKS, key=str.lower))}, or {MULTITASK} (the 11 suite "
    f"tasks in one dataset); --variant study has all but "
    f"{', '.join(sorted(set(TASKS) - set(STUDY_TASKS)))}."
)


@simulate_app.command("task")
@on_interrupt(_not_written)
def task(
    name: str = typer.Argument(..., help=TASK_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset.h5 (written atomically)."),
    n_trials: int = typer.Option(
        500, "--n-trials", min=1, max=MAX_TRIALS, help="Trials (per task for multitask)."
    ),
    seed: int = seed_option(0, "Random seed (>= 0); same seed, same file."),
    variant: str = typer.Option(
        "short",
        "--variant",
        help=f"{' | '.join(VARIANTS)}; short: the toolbox's quick version, study: the AL-RNN "
        "study's definition.",
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Generate a task dataset (targets, loss_mask, inputs) with default task parameters."""

    refuse_existing_file(out, overwrite)
    if variant not in VARIANTS:
        raise ConfigError(f"--variant {variant!r} is unknown; fix: one of {', '.join(VARIANTS)}")
    names = [*sorted(STUDY_TASKS if variant == "study" else TASKS), MULTITASK]
    if name in TASKS and name not in names:
        raise ConfigError(
            f"task {name!r} has no study variant; fix: --variant short, or one of "
            f"{', '.join(names)}"
        )
    if name not in names:
        raise ConfigError(f"task {name!r} is unknown; fix: one of {', '.join(names)}")
    ds = make_task(name, n_trials=n_trials, seed=seed, variant=variant)
    save_dataset(ds, out)
    table = Table(title=f"wrote {escape(str(out))}", show_header=False, title_justify="left")
    table.add_row("task", f"{name} ({ds.attrs['task_loss']} loss, {variant} variant)")
    table.add_row("trials × steps", f"{ds.sizes['trial']} × {ds.sizes['time']}")
    table.add_row("inputs", ", ".join(map(str, ds["input"].values)))
    table.add_row("outputs", ", ".join(map(str, ds["output"].values)))
    table.add_row("scored steps", f"{int(ds['loss_mask'].values.sum())} (loss_mask)")
    Console().print(table)


def _fraction(values, mask) -> str:
    return f"{values[mask].mean():.1%} of {int(mask.sum())}" if mask.any() else "n/a"


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command group to ``app``."""
    app.add_typer(simulate_app, name="simulate")

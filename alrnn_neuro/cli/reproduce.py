"""``alrnn-neuro reproduce TARGET --out DIR``: reproduce the study in one command.

Targets: ``stimulus-selection`` (simulated session or ``--dataset`` recordings: nonlinearity
sweep with baselines, the chosen model's regimes and primitives, RSA, claims, report) and
``tasks`` (classic tasks and the 11-task suite: sweeps over P, multi-task region sharing).
``--quick`` takes a few minutes on two CPU cores; without it the full setting runs (hours; see
docs/reproduce.md). Examples::

    alrnn-neuro reproduce stimulus-selection --quick --out repro/ss
    alrnn-neuro reproduce stimulus-selection --dataset my_session.h5 --out repro/mine
    alrnn-neuro reproduce tasks --quick --out repro/tasks
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro._atomic import check_output_path
from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import SEED_MAX, max_threads
from alrnn_neuro.errors import ConfigError, FileFormatError
from alrnn_neuro.training.progress import CellProgress, for_command_line

TARGETS = ("stimulus-selection", "tasks")


def describe_interrupted_reproduction(
    target: str, out: Path, quick: bool = False, setting: str | None = None, **_: object
) -> str:
    """What an interrupted reproduction keeps in ``out`` and the command that continues it."""
    done = sum(1 for _ in Path(out).rglob("sweep_cell.json")) if Path(out).is_dir() else 0
    flags = " --quick" if quick and setting is None else ""
    flags += f" --setting {setting}" if setting else ""
    return (
        f"workers stopped; {done} finished sweep cells are kept in {out}; continue with: "
        f"alrnn-neuro reproduce {target}{flags} --out {out} --resume"
    )


@on_interrupt(describe_interrupted_reproduction)
def reproduce_command(
    target: str = typer.Argument(
        ..., help="stimulus-selection (sweep, regimes, RSA, claims) | tasks (classic tasks, suite)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (see docs/reproduce.md)."),
    quick: bool = typer.Option(False, "--quick", help="Small setting: minutes on 2 CPU cores."),
    dataset: Path = typer.Option(
        None, "--dataset", help="Your recordings instead of the simulation (stimulus-selection)."
    ),
    seed: int = typer.Option(
        2014, "--seed", min=0, max=SEED_MAX, help="Seed of the data and the split."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue a reproduction in --out (finished cells are kept)."
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        min=1,
        max=max_threads(),
        help="Parallel sweep workers (default: the setting's, 2).",
    ),
    setting: str = typer.Option(None, "--setting", hidden=True, help="quick | full | tiny."),
) -> None:
    """Reproduce the study: sweeps, regimes, RSA, claims and report.html in --out."""
    import dataclasses

    from alrnn_neuro.reproduce.settings import stimulus_settings, task_settings

    check_output_path(out)
    if target not in TARGETS:
        raise ConfigError(f"target {target!r} is unknown; fix: use one of {', '.join(TARGETS)}")
    if dataset is not None and target != "stimulus-selection":
        raise ConfigError("--dataset applies to stimulus-selection only; fix: drop --dataset")
    if dataset is not None and not dataset.is_file():
        raise FileFormatError(
            f"--dataset {str(dataset)!r} does not exist; fix: give the path of a recordings file"
        )
    name = setting or ("quick" if quick else "full")
    pick = stimulus_settings if target == "stimulus-selection" else task_settings
    chosen = pick(name)
    if workers is not None:
        chosen = dataclasses.replace(chosen, workers=workers)
    command = "alrnn-neuro " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    console = Console()
    console.print(f"reproduce {target} ({name}) -> [bold]{escape(str(out))}[/]", highlight=False)
    options = {"settings": chosen, "seed": seed, "resume": resume, "command": command}
    display = for_command_line(CellProgress)
    try:
        if target == "stimulus-selection":
            from alrnn_neuro.reproduce.stimulus import reproduce_stimulus_selection

            record = reproduce_stimulus_selection(out, dataset=dataset, progress=display, **options)
        else:
            from alrnn_neuro.reproduce.tasks import reproduce_tasks

            record = reproduce_tasks(out, progress=display, **options)
    finally:
        display.stop()
    print_claims(console, record)


def print_claims(console: Console, record: dict) -> None:
    """Table of the claims, then the run time and where the report is."""
    table = Table("claim", "holds", "evidence", title="claims", title_justify="left")
    marks = {True: "[green]yes[/]", False: "[red]no[/]", None: "n/a"}
    for c in record["claims"]:
        table.add_row(escape(c["claim"]), marks[c["holds"]], escape(c["evidence"]))
    console.print(table)
    console.print(f"done in {record['seconds']:.0f} s", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command to ``app``."""
    app.command("reproduce")(reproduce_command)

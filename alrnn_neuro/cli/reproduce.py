"""``alrnn-neuro reproduce TARGET --out DIR``: reproduce the study in one command.

Targets: ``stimulus-selection`` (simulated session or ``--dataset`` recordings: nonlinearity
sweep with baselines, the chosen model's regimes and primitives, RSA, claims, report) and
``tasks`` (classic tasks and the 11-task suite: sweeps over P, multi-task region sharing).
``--quick`` takes a few minutes on two CPU cores; without it the full setting runs (hours; see
docs/reproduce.md). Examples::

    alrnn-neuro reproduce stimulus-selection --quick --out repro/ss
    alrnn-neuro reproduce stimulus-selection --quick --controls --out repro/ss-controls
    alrnn-neuro reproduce stimulus-selection --dataset my_session.h5 --out repro/mine
    alrnn-neuro reproduce tasks --quick --out repro/tasks
    alrnn-neuro reproduce tasks --setting study-reduced --out repro/study --resume
    alrnn-neuro reproduce tasks --setting study --device cuda --out repro/study-full --resume
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
from alrnn_neuro._claim_status import (
    DOES_NOT_HOLD,
    HOLDS,
    LOW_POWER,
    NOT_REPLICATED,
    NOT_TESTABLE,
    UNCALIBRATED,
)
from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import SEED_MAX, max_threads
from alrnn_neuro.errors import ConfigError, FileFormatError
from alrnn_neuro.training.progress import CellProgress, for_command_line

TARGETS = ("stimulus-selection", "tasks")
#: colour of each claim status in the printed table (``n.a.`` stays plain)
STATUS_COLOURS = {
    HOLDS: "green",
    DOES_NOT_HOLD: "red",
    UNCALIBRATED: "yellow",
    NOT_REPLICATED: "yellow",
    LOW_POWER: "yellow",
}


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


def _on_device(target: str, chosen, device: str):
    """The task setting with its fits on ``device``, or a ConfigError naming the fix."""
    import torch

    from alrnn_neuro.reproduce.settings import on_device

    if device != "cuda":
        raise ConfigError(f"--device {device!r} is unknown; fix: --device cpu or --device cuda")
    if target != "tasks":
        raise ConfigError("--device applies to tasks only; fix: drop --device")
    if not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda: no CUDA device is visible to torch; fix: run on a GPU machine with "
            "a CUDA build of torch, or drop --device"
        )
    return on_device(chosen, device)


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
        None,
        "--seed",
        min=0,
        max=SEED_MAX,
        help="Seed of the simulated data and the nulls (default: stimulus-selection 3000, "
        "tasks 2014).",
    ),
    controls: bool = typer.Option(
        None,
        "--controls/--no-controls",
        help="Also run the control sessions (linear and no-routing generators, untrained, "
        "one-epoch and shuffled-rule models) for each claim's false-positive rate and power "
        "(stimulus-selection; default: on with the full setting).",
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
    device: str = typer.Option(
        "cpu",
        "--device",
        help="cpu | cuda: where the fits of `tasks` run (cuda is not yet checked on a GPU here).",
    ),
    setting: str = typer.Option(
        None,
        "--setting",
        help="Named setting instead of --quick: quick | full | tiny (tests) | study-reduced "
        "(tasks: the study's definitions and training, a quarter of its epochs; hours) | study "
        "(tasks: all of the study's epochs and P values; days on a CPU).",
    ),
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
    if controls is not None and target != "stimulus-selection":
        raise ConfigError("--controls applies to stimulus-selection only; fix: drop --controls")
    if setting is not None and quick:
        raise ConfigError(f"--quick and --setting {setting} disagree; fix: give one of them")
    name = setting or ("quick" if quick else "full")
    pick = stimulus_settings if target == "stimulus-selection" else task_settings
    chosen = pick(name)
    if device != "cpu":
        chosen = _on_device(target, chosen, device)
    if workers is not None:
        chosen = dataclasses.replace(chosen, workers=workers)
    command = "alrnn-neuro " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    console = Console()
    console.print(
        f"reproduce {target} ({name}) -> [bold]{escape(str(out))}[/]",
        highlight=False,
        soft_wrap=True,
    )
    options = {"settings": chosen, "resume": resume, "command": command}
    display = for_command_line(CellProgress)
    try:
        if target == "stimulus-selection":
            from alrnn_neuro.reproduce.stimulus import DEFAULT_SEED, reproduce_stimulus_selection

            record = reproduce_stimulus_selection(
                out,
                dataset=dataset,
                seed=DEFAULT_SEED if seed is None else seed,
                controls=controls,
                progress=display,
                **options,
            )
        else:
            from alrnn_neuro.reproduce.tasks import reproduce_tasks

            seed = 2014 if seed is None else seed
            record = reproduce_tasks(out, seed=seed, progress=display, **options)
    finally:
        display.stop()
    print_claims(console, record)


def print_claims(console: Console, record: dict) -> None:
    """Table of the claims (status, effect, p, false-positive rate, power), their evidence,
    then the run time."""
    from alrnn_neuro.report.meta_sections import interval_text, worst_control_ci

    table = Table(
        "claim",
        "status",
        "effect",
        "p",
        "FPR",
        "power",
        title="claims",
        title_justify="left",
    )
    low_power = []
    for c in record["claims"]:
        status = c.get("status") or {True: HOLDS, False: DOES_NOT_HOLD}.get(
            c["holds"], NOT_TESTABLE
        )
        colour = STATUS_COLOURS.get(status)
        mark = f"[{colour}]{status}[/]" if colour else status
        if status == LOW_POWER:
            low_power.append(c)
        power = c.get("power") or {}
        table.add_row(
            escape(c.get("name") or c["claim"]),
            mark,
            _number(c.get("effect")),
            _number(c.get("p_value")),
            _number(c.get("false_positive_rate")) + interval_text(worst_control_ci(c)),
            _number(power.get("rate")),
        )
    console.print(table)
    for c in low_power:
        console.print(_low_power_line(c), highlight=False)
    for c in record["claims"]:
        label = f"[bold]{escape(c['name'])}[/]: " if c.get("name") else ""
        console.print(f"{label}{escape(c['claim'])}. {escape(c['evidence'])}", highlight=False)
    if record.get("study"):
        console.print(f"study: {record['study']}", highlight=False)
    console.print(f"done in {record['seconds']:.0f} s", highlight=False)


def _low_power_line(claim: dict) -> str:
    """Why a claim reads :data:`LOW_POWER`: its failure here is no evidence against it."""
    power = claim.get("power") or {}
    name = escape(claim.get("name") or claim["claim"])
    return (
        f"{name}: {LOW_POWER}: it failed on this draw, but held on only "
        f"{power.get('n_holds', '?')} of {power.get('n', '?')} fresh draws where it is true "
        f"(power {_number(power.get('rate'))}, below min_power of criteria.toml), so the test "
        "could not have shown it: not evidence that it does not hold."
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command to ``app``."""
    app.command("reproduce")(reproduce_command)

"""``alrnn-neuro info FILE``: a rich summary of a dataset."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.messages import warnings_after_success
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.summary import summarize_dataset


def _nothing(**_: object) -> str:
    return "info writes nothing; run it again"


@on_interrupt(_nothing)
def info(
    file: Path = typer.Argument(..., help="dataset.h5 (canonical or plain layout)."),
    bin_size: float = typer.Option(None, help="Bin size (s) for plain event-layout files."),
    align: str = typer.Option(None, help="Alignment event for plain event-layout files."),
) -> None:
    """Summarise a dataset: trials, units, inputs, bins, epochs, conditions, ragged lengths."""
    with warnings_after_success():  # a file refused after a warning: the error's one line
        summary = summarize_dataset(load_dataset(file, bin_size=bin_size, align=align))
    console = Console()
    lo, hi = summary["time_range"]
    shortest, median, longest = summary["trial_lengths"]
    head = Table(title=escape(str(file)), show_header=False, title_justify="left")
    head.add_row("observation", summary["observation"])
    head.add_row("trials", str(summary["n_trials"]))
    head.add_row("units", str(summary["n_units"]))
    head.add_row("observed (trial × unit)", f"{summary['observed_fraction']:.1%}")
    head.add_row("bins", f"{summary['n_bins']} × {summary['bin_size'] * 1e3:g} ms")
    head.add_row("time", f"{lo:+.3f} … {hi:+.3f} s from '{escape(str(summary['align_event']))}'")
    head.add_row("valid bins / trial", f"min {shortest}, median {median}, max {longest}")
    head.add_row("inputs", escape(", ".join(map(str, summary["inputs"]))) or "(none)")
    if summary["outputs"]:
        head.add_row("task outputs", escape(", ".join(map(str, summary["outputs"]))))
    extra = escape(", ".join(map(str, summary["extra_variables"])))
    head.add_row("extra variables", extra or "(none)")
    console.print(head)
    disjoint = summary["disjoint_units"]
    if disjoint:
        listed = ", ".join(disjoint[:8]) + (" ..." if len(disjoint) > 8 else "")
        Console(stderr=True).print(
            f"[yellow]warning:[/] {len(disjoint)} units ({listed}) fire in disjoint sets of "
            "trials, so this looks like a pseudo-population (units recorded in different "
            f"trials), but observed is {summary['observed_fraction']:.0%}: a fit would treat "
            "each unit as recorded and silent in the other trials; fix: declare the units "
            "each trial recorded (trials/observed_units, observed, or observed.csv; see "
            "docs/dataset-format.md)",
            highlight=False,
            soft_wrap=True,
        )
    epochs = Table("epoch", "valid bins", title="epochs", title_justify="left")
    for label, count in summary["epochs"].items():
        epochs.add_row(escape(str(label)) or '""', str(count))
    console.print(epochs)
    for title, levels in (("conditions", summary["conditions"]), ("units", summary["unit_coords"])):
        if not levels:
            continue
        table = Table("variable", "levels (count)", title=title, title_justify="left")
        for name, counts in levels.items():
            values = ", ".join(f"{k} ({v})" for k, v in counts.items())
            table.add_row(escape(str(name)), escape(values))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``info`` command to ``app``."""
    app.command("info")(info)

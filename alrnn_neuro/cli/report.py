"""``alrnn-neuro report DIR``: one self-contained ``report.html`` of a reproduction or sweep.

DIR may be the output folder of ``alrnn-neuro reproduce`` or of ``sweep``, ``fit``,
``analyze`` or ``rsa``; whatever of it exists is rendered (see :mod:`alrnn_neuro.report`).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import OVERWRITE
from alrnn_neuro.cli.outputs import refuse_existing_file


def _not_written(directory: Path, out: Path | None = None, **_: object) -> str:
    path = out if out is not None else directory / "report.html"
    return f"{path} was not written; run the same command again"


@on_interrupt(_not_written)
def report_command(
    directory: Path = typer.Argument(
        ..., help="Folder of `alrnn-neuro reproduce` (or of sweep, fit, analyze, rsa)."
    ),
    out: Path = typer.Option(None, "--out", help="HTML file to write (default DIR/report.html)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Write one self-contained HTML report (figures embedded, works offline)."""
    from alrnn_neuro.report import build_report, save_report

    refuse_existing_file(out if out is not None else directory / "report.html", overwrite)
    report = build_report(directory)
    path = save_report(report, directory, out=out)
    console = Console()
    console.print(
        f"report written to [bold]{escape(str(path))}[/]", highlight=False, soft_wrap=True
    )
    console.print(f"sections: {escape(', '.join(report.sections))}", highlight=False)
    for name, why in report.skipped:
        console.print(f"[dim]skipped {escape(name)}: {escape(why)}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report")(report_command)

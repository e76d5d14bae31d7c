"""``alrnn-neuro analyze RUN_DIR``: regimes, dynamics, primitives and figures of a fitted run.

Writes ``regimes.nc``, ``dynamics.nc``, ``primitives.json``, ``alignment.json`` and
``figures/*.png|svg`` into ``--out`` (default ``RUN_DIR/analysis``). Everything is computed
before anything is written, so a bad input leaves no files behind.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def analyze_command(
    run_dir: Path = typer.Argument(..., help="Run directory written by `alrnn-neuro fit`."),
    dataset: Path = typer.Option(
        None, "--dataset", help="Dataset the run was fitted to (default: path in config.json)."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder (default RUN_DIR/analysis)."),
    n_null: int = typer.Option(200, "--n-null", min=0, help="Null draws for p-values."),
    seed: int = typer.Option(0, "--seed", help="Seed of the null draws."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Also draw figures."),
) -> None:
    """Analyse the linear regimes of a fitted AL-RNN and write tables and figures."""
    from alrnn_neuro.analysis.report import analyze_run, write_analysis

    console = Console()
    result = analyze_run(run_dir, dataset, n_null=n_null, seed=seed)
    target = out if out is not None else run_dir / "analysis"
    written = write_analysis(result, target)
    if figures:
        from alrnn_neuro.plotting import plot_analysis

        written += plot_analysis(result, target / "figures")
    _summary(console, result.summary, target, len(written))


def _summary(console: Console, s: dict, target: Path, n_files: int) -> None:
    if s["n_pwl"] == 0:
        head = f"M = {s['n_latent']}, P = 0: linear RNN, one region"
    else:
        head = (
            f"M = {s['n_latent']}, P = {s['n_pwl']}: {s['n_regions_used']} of "
            f"{s['n_regions_total']} regions used, {s['n_regions_90']} cover 90 % of steps"
        )
    console.print(f"[bold]{head}[/]")
    table = Table(title="Top regions")
    for col in ("region", "bits", "time share", "epochs (>= 10 % of their steps)"):
        table.add_column(col)
    for r in s["top_regions"]:
        epochs = ", ".join(r["epochs"]) or "-"
        table.add_row(str(r["region"]), r["bits"] or "-", f"{r['frequency']:.1%}", epochs)
    console.print(table)
    if s["epoch_ami"] is not None:
        p = "n/a" if s["epoch_p"] is None else f"{s['epoch_p']:.3g}"
        console.print(f"region/epoch AMI = {s['epoch_ami']:.3f} (circular-shift null p = {p})")
    found = ", ".join(s["primitives_found"]) or "none"
    console.print(f"primitives found: {found} ({s['n_primitives_tested']} tests)")
    if s["note"]:
        console.print(f"note: {s['note']}")
    console.print(f"wrote {n_files} files to {target}")


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command to ``app``."""
    app.command("analyze")(analyze_command)

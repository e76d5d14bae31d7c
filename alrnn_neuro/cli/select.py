"""``alrnn-neuro select SWEEP_DIR``: how much nonlinearity the data need, as calibrated inference.

Example::

    alrnn-neuro sweep data.h5 --pwl-units 0,1,2 --seeds 2 --folds 5 --out sweeps/demo
    alrnn-neuro select sweeps/demo

Reads the per-trial held-out log-likelihoods of the sweep's AL-RNN cells, prints one row per P
(bits/spike vs the PSTH, the gain over P = 0 and the loss to the best P, with bootstrap CIs over
trials, and the p-values) and the verdicts in words, and writes ``selection.json``,
``selection.nc`` and ``selection.png`` into ``--out`` (default: SWEEP_DIR). Method and defaults:
docs/selection.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.options import check_n_boot, seed_option


def select_command(
    sweep_dir: Path = typer.Argument(..., help="Sweep folder (best run with --folds K)."),
    alpha: float = typer.Option(None, "--alpha", help="Level of every test (default: 0.05)."),
    margin: float = typer.Option(
        None, "--margin", help="Equivalence margin, bits/spike ('as good as') (default: 0.003)."
    ),
    min_effect: float = typer.Option(
        None, "--min-effect", help="Gain over P = 0 (bits/spike) that counts (default: 0.002)."
    ),
    n_boot: int = typer.Option(
        None, "--n-boot", help="Bootstrap resamples: 0 (no CI) or >= 200 (default: 2000)."
    ),
    confidence: float = typer.Option(None, "--confidence", help="CI level (default: 0.95)."),
    seed: int = seed_option(0, "Seed of the bootstrap."),
    latent_dim: int = typer.Option(None, "--latent-dim", help="M (if the sweep has several)."),
    train_fraction: float = typer.Option(
        None, "--train-fraction", help="Train fraction (default: the largest)."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder (default: SWEEP_DIR)."),
) -> None:
    """Select the number of PWL units P: tests on held-out trials, verdicts, replication."""
    from alrnn_neuro.sweep.selection import select_nonlinearity, verdict_lines, write_selection
    from alrnn_neuro.sweep.selection_stats import DEFAULT_N_BOOT

    check_n_boot(n_boot, DEFAULT_N_BOOT)
    # unset options take the library's documented defaults (the CLI stays free of torch)
    given = {
        "alpha": alpha,
        "min_effect": min_effect,
        "margin": margin,
        "n_boot": n_boot,
        "confidence": confidence,
    }
    options = {name: value for name, value in given.items() if value is not None}
    result = select_nonlinearity(
        sweep_dir, seed=seed, latent_dim=latent_dim, train_fraction=train_fraction, **options
    )
    paths = write_selection(result, sweep_dir if out is None else out)
    console = Console()
    console.print(_table(result))
    for line in verdict_lines(result):
        console.print(escape(line), highlight=False)
    console.print(f"written: {escape(', '.join(str(p) for p in paths))}", highlight=False)


def _table(result) -> Table:
    a = result.attrs
    level = f"{100 * a['confidence']:g}% CI"
    title = (
        f"held-out trials: {a['n_trials']} ({a['folds']} fold(s), split seed {a['split_seed']}), "
        f"M={a['latent_dim']}, {result.sizes['seed']} model seed(s)"
    )
    table = Table(
        "P",
        "bits/spike",
        "P − P0",
        f"p(>{a['min_effect']:g})",
        "P − best",
        f"p(±{a['margin']:g})",
        "≈ best",
        title=title,
        caption=f"bits/spike vs the PSTH; differences paired on trials; [{level}] bootstrap",
    )
    for p in result["pwl_units"].values:
        row = result.sel(pwl_units=p)
        table.add_row(
            str(int(p)),
            _with_ci(row, "bits_per_spike"),
            _with_ci(row, "gain_vs_zero"),
            _p(float(row["p_vs_zero"])),
            _with_ci(row, "gain_vs_best"),
            _p(float(row["p_equivalent"])),
            "yes" if bool(row["equivalent"]) else "no",
        )
    return table


def _with_ci(row, name: str) -> str:
    lo, hi = row[f"{name}_ci"].values
    value = float(row[name])
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:+.4f}"
    return f"{value:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2g}"


def register(app: typer.Typer) -> None:
    """Add the ``select`` command to ``app``."""
    app.command("select")(select_command)

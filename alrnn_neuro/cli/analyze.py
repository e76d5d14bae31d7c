"""``alrnn-neuro analyze RUN_DIR``: regimes, dynamics, primitives and figures of a fitted run.

Writes ``regimes.nc``, ``dynamics.nc`` (with the period-k cycles), ``primitives.json``
(integration, gating, rule-based integration), ``alignment.json`` and ``figures/*.png|svg``
into ``--out`` (default ``RUN_DIR/analysis``). Everything is computed before anything is
written, so a bad input leaves no files behind. ``--gate-inputs a,b`` restricts the gating
test to those input channels (default: every channel with onsets; ``none`` skips it).
``--trial-vars a,b`` scores those trial coords (any, e.g. ``signed_coherence``) against the
regions instead of the default list. One run's findings rest on one fit: the output says so.
The network the fit started from (same seed, same inputs) is analysed too, as a reference;
findings it shows as well are named as not coming from training (``--no-untrained`` skips
it; see :mod:`alrnn_neuro.analysis.untrained_reference`).

Several fits of one configuration -- ``alrnn-neuro analyze RUN0 RUN1 RUN2`` (run dirs that
differ only in ``--seed``) or ``alrnn-neuro analyze SWEEP_DIR`` (every M x P x train
fraction x fold of a sweep, across its model seeds) -- give a replication table instead:
``replication.csv``, ``replication.json`` and ``replication.png`` in ``--out`` (default
``SWEEP_DIR/replication``, or ``replication/`` beside the runs); see
:mod:`alrnn_neuro.cli.analyze_replication`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.analyze_replication import analyze_replication, check_run_dir, is_sweep
from alrnn_neuro.cli.interrupts import nothing_written, on_interrupt
from alrnn_neuro.cli.options import OVERWRITE, seed_option
from alrnn_neuro.cli.outputs import refuse_earlier_output
from alrnn_neuro.errors import ConfigError

#: most null draws and longest cycle period searched (beyond them: hours, no new answer)
MAX_NULL, MAX_PERIOD = 1_000_000, 10
#: what an earlier analysis leaves in --out (replaced only with --overwrite)
ANALYSIS_OUTPUTS = ("regimes.nc", "dynamics.nc", "primitives.json", "alignment.json", "figures")


@on_interrupt(nothing_written)
def analyze_command(
    paths: list[Path] = typer.Argument(
        ...,
        help="A run directory of `alrnn-neuro fit`; or several (same config, other --seed), "
        "or a sweep folder: a replication table across seeds.",
        metavar="RUN_DIR... | SWEEP_DIR",
        show_default=False,
    ),
    dataset: Path = typer.Option(
        None, "--dataset", help="Dataset the run was fitted to (default: path in config.json)."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Output folder (default RUN_DIR/analysis; SWEEP_DIR/replication; replication/ "
        "beside several runs).",
    ),
    n_null: int = typer.Option(
        200, "--n-null", min=0, max=MAX_NULL, help="Null draws for p-values."
    ),
    seed: int = seed_option(0, "Seed of the null draws."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Also draw figures."),
    gate_inputs: str = typer.Option(
        None,
        "--gate-inputs",
        help="Comma-separated input channels tested as gates (default: all; 'none' skips).",
    ),
    evidence_inputs: str = typer.Option(
        None,
        "--evidence-inputs",
        help="Comma-separated input channels tested for integration and as gated targets "
        "(default: the stimulus-selection sounds when present, else all).",
    ),
    max_period: int = typer.Option(
        None,
        "--max-period",
        min=1,
        max=MAX_PERIOD,
        help="Search cycles of periods 2..N (1: fixed points only) (default: 3).",
    ),
    overwrite: bool = OVERWRITE,
    trial_vars: str = typer.Option(
        None,
        "--trial-vars",
        help="Comma-separated trial coords scored against the regions (default: rule, "
        "context, choice, target, correct, condition, stimulus when present).",
    ),
    untrained: bool = typer.Option(
        True,
        "--untrained/--no-untrained",
        help="Also analyse the network the fit started from (same seed and inputs): "
        "findings it shows too are not findings of training.",
    ),
) -> None:
    """Analyse the linear regimes of a fitted AL-RNN (or their replication across seeds)."""
    from alrnn_neuro.analysis import analyze_run, write_analysis

    if len(paths) > 1 or is_sweep(paths[0]):
        single = {
            "--gate-inputs": gate_inputs,
            "--max-period": max_period,
            "--trial-vars": trial_vars,
            "--no-untrained": None if untrained else True,
        }
        analyze_replication(
            paths,
            [name for name, value in single.items() if value is not None],
            dataset=dataset,
            out=out,
            n_null=n_null,
            seed=seed,
            figures=figures,
            overwrite=overwrite,
            evidence_inputs=_channels(evidence_inputs, "--evidence-inputs"),
        )
        return
    run_dir = paths[0]
    check_run_dir(run_dir)
    target = out if out is not None else run_dir / "analysis"
    refuse_earlier_output(target, overwrite, ANALYSIS_OUTPUTS, "an earlier analysis")
    console = Console()
    result = analyze_run(
        run_dir,
        dataset,
        n_null=n_null,
        seed=seed,
        gate_inputs=_channels(gate_inputs, "--gate-inputs"),
        evidence_inputs=_channels(evidence_inputs, "--evidence-inputs"),
        cycle_periods=tuple(range(2, (3 if max_period is None else max_period) + 1)),
        trial_variables=_trial_variables(trial_vars),
        untrained=untrained,
    )
    draw = None
    if figures:
        from alrnn_neuro.plotting import plot_analysis

        def draw(folder: Path) -> list[Path]:
            return plot_analysis(result, folder / "figures")

    written = write_analysis(result, target, extra=draw)  # all files or none
    _summary(console, result.summary, target, len(written))


def _channels(text: str | None, option: str) -> tuple[str, ...] | None:
    """``None`` (default: all), ``()`` for 'none', else the comma-separated names."""
    if text is None:
        return None
    if text.strip().lower() == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{option}={text!r} names no channel; fix: e.g. {option} cue_local,hold")
    return names


def _trial_variables(text: str | None) -> tuple[str, ...] | None:
    """``None`` (default list), ``()`` for 'none', else the comma-separated trial coords."""
    if text is None:
        return None
    if text.strip().lower() == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(
            f"--trial-vars={text!r} names no trial coord; fix: e.g. --trial-vars choice,coherence"
        )
    return names


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
        epochs = escape(", ".join(r["epochs"])) or "-"
        table.add_row(str(r["region"]), r["bits"] or "-", f"{r['frequency']:.1%}", epochs)
    console.print(table)
    if s["epoch_ami"] is not None:
        p = "n/a" if s["epoch_p"] is None else f"{s['epoch_p']:.3g}"
        console.print(f"region/epoch AMI = {s['epoch_ami']:.3f} (circular-shift null p = {p})")
    for c in s.get("cycles", []):
        seqs = "; ".join("->".join(q) for q in c["region_sequences"][:3])
        more = " ..." if len(c["region_sequences"]) > 3 else ""
        found = f"{c['n_cycles']} ({c['n_stable']} stable): {seqs}{more}" if c["n_cycles"] else "0"
        console.print(
            f"period-{c['period']} cycles: {escape(found)} ({c['method']})", highlight=False
        )
    found = escape(", ".join(s["primitives_found"])) or "none"
    console.print(f"primitives found: {found} ({s['n_primitives_tested']} tests)")
    for g in s.get("gating", [])[:5]:
        console.print(
            f"  gating: {escape(str(g['input']))} onset ({escape(str(g['epoch']))}, "
            f"{escape(str(g['condition']))}) flips region "
            f"{g['region_before']} -> {g['region_after']}; gain on {escape(str(g['target']))} x"
            f"{g['gain_ratio']:.3g}{_readout_text(g.get('readout_gain_ratio'))} (p_flip, "
            "Holm-corrected, "
            f"{_p_text(g.get('p_flip_corrected', g['p_flip']))})",
            highlight=False,
        )
    if len(s.get("gating", [])) > 5:
        console.print(f"  ... {len(s['gating']) - 5} more gating rows in primitives.json")
    support = s.get("gating_support") or {}
    if support.get("n_rows") and not support.get("n_supported"):
        console.print(
            f"  gating: not testable on these trials: in none of the {support['n_rows']} gate "
            "onset x target pairs does the target input arrive both in the region before the "
            f"onsets and in the region after, in {support['min_target_trials']} trials or more "
            "(one of the two gains would be an extrapolation)",
            highlight=False,
        )
    _untrained_lines(console, s)
    if s.get("scope"):
        console.print(f"scope: {escape(str(s['scope']))}", highlight=False)
    if s["note"]:
        console.print(f"note: {escape(str(s['note']))}", highlight=False)
    console.print(f"replication: {escape(str(s['replication']))}", highlight=False)
    # soft_wrap: a long path stays on one line (copyable), whatever the terminal width
    console.print(
        f"wrote {n_files} files to {escape(str(target))}", highlight=False, soft_wrap=True
    )


def _untrained_lines(console: Console, s: dict) -> None:
    """The untrained reference, and the findings it shows too (a caution)."""
    ref = s.get("untrained")
    if not ref:
        return
    if "skipped" in ref:
        console.print(f"untrained reference: skipped ({escape(ref['skipped'])})", highlight=False)
        return
    ami = "n/a" if ref["epoch_ami"] is None else f"{ref['epoch_ami']:.3f}"
    found = ", ".join(f"{k} ({n} rows)" for k, n in ref["n_detected"].items()) or "none"
    console.print(
        f"untrained reference (the network this fit started from, seed {ref['model_seed']}, "
        f"same inputs): region/epoch AMI = {ami}; primitives found: {escape(found)}",
        highlight=False,
    )
    if s.get("shared_with_untrained"):
        console.print(
            "[yellow]also shown by the untrained network, so not a finding of training: "
            f"{escape(', '.join(s['shared_with_untrained']))}[/]",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command to ``app``."""
    app.command("analyze")(analyze_command)


def _readout_text(ratio: float | None) -> str:
    """``, readout xR`` where the gate's readout gain ratio is known."""
    return "" if ratio is None or ratio != ratio else f", readout x{ratio:.3g}"


def _p_text(p: float) -> str:
    """``= 0.012``, or ``< 1e-300`` where the p-value underflowed to 0."""
    return "< 1e-300" if p == 0 else f"= {p:.2g}"

"""``alrnn-neuro rsa RUN_DIR``: compare a fitted model's RDMs with the recorded data's.

Writes ``rsa.nc`` (RDMs and the comparison table; read with
:func:`alrnn_neuro.data.h5.read_netcdf`), ``rsa.json`` (settings and one row per area and
segment) and figures (PNG + SVG) into ``--out`` (default ``RUN_DIR/rsa``); the folder appears
only when everything has been computed and written. Only trials the model was not fitted on
are compared (``--trials heldout``; ``all`` warns), and the bins from which the model
inferred its initial state (``init_bins`` in the run's config.json) are left out.
``--exclude COORD=VALUE`` drops trials (e.g. ``cue_trial=True``) from model and data alike;
``--bootstrap-units`` takes the CI from resampled neural units instead of resampled conditions.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.interrupts import nothing_written, on_interrupt
from alrnn_neuro.cli.options import OVERWRITE, check_n_boot, seed_option
from alrnn_neuro.cli.outputs import refuse_earlier_output
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import FileFormatError, RunDirError
from alrnn_neuro.training import rundir as rd

#: choices of --distance and --compare (alrnn_neuro.analysis.rsa DISTANCES, COMPARE_ALIASES;
#: named here so `--help` need not import the analysis; tests/test_cli_help.py compares them)
DISTANCE_CHOICES = ("crossnobis", "euclidean", "sqeuclidean", "mahalanobis", "correlation")
COMPARE_CHOICES = ("tau-a", "spearman", "pearson", "cosine", "cka", "cka_biased")
#: what an earlier RSA leaves in --out (replaced only with --overwrite)
RSA_OUTPUTS = ("rsa.nc", "rsa.json")
#: most label permutations / bootstrap samples (more adds nothing but hours)
MAX_RESAMPLES = 1_000_000


@on_interrupt(nothing_written)
def rsa_command(
    run_dir: Path = typer.Argument(..., help="Run directory written by `alrnn-neuro fit`."),
    conditions: str = typer.Option(
        ..., "--conditions", help="Comma-separated trial variables, e.g. rule,location,pitch."
    ),
    dataset: Path = typer.Option(
        None, "--dataset", help="Recordings (default: the dataset path in config.json)."
    ),
    by: str = typer.Option(
        "epoch",
        "--by",
        help="Segments compared: epoch (task epochs) | region (the AL-RNN's linear regions; "
        "'regime' = region) | time (each time bin).",
    ),
    distance: str = typer.Option(
        "crossnobis", "--distance", help=f"RDM distance: {' | '.join(DISTANCE_CHOICES)}."
    ),
    compare: str = typer.Option(
        "tau-a",
        "--compare",
        help=f"RDM comparison: {' | '.join(COMPARE_CHOICES)} (tau-a = kendall_tau_a).",
    ),
    trials: str = typer.Option(
        "heldout", "--trials", help="heldout (val+test) | test | all (includes training trials)."
    ),
    min_units: int = typer.Option(
        5,
        "--min-units",
        help="Pseudo-populations: fewest units shared by a condition pair (capped at an "
        "area's usable units, so a full population is never left out).",
    ),
    init_bins: int = typer.Option(
        None, "--init-bins", help="Bins that inferred z0 (default: from the run's config.json)."
    ),
    n_perm: int = typer.Option(
        1000, "--n-perm", min=0, max=MAX_RESAMPLES, help="Label permutations per segment."
    ),
    n_boot: int = typer.Option(
        1000,
        "--n-boot",
        min=0,
        max=MAX_RESAMPLES,
        help="Bootstrap samples for the CI: 0 (no CI) or >= 200.",
    ),
    area: list[str] = typer.Option(None, "--area", help="Unit area(s) (repeatable)."),
    shuffle_labels: bool = typer.Option(
        False, "--shuffle-labels", help="Control: permute the neural condition labels."
    ),
    exclude: list[str] = typer.Option(
        None,
        "--exclude",
        help="Drop trials with COORD=VALUE, e.g. cue_trial=True (repeatable).",
    ),
    bootstrap_units: bool = typer.Option(
        False,
        "--bootstrap-units",
        help="CI from resampling neural units (RDM recomputed) instead of conditions.",
    ),
    out: Path = typer.Option(None, "--out", help="Output folder (default RUN_DIR/rsa)."),
    seed: int = seed_option(0, "Seed of permutations, bootstrap, splits."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Model vs neural RSA per epoch/regime/time bin and brain area."""
    from alrnn_neuro.analysis.files import check_fitted_dataset
    from alrnn_neuro.analysis.rsa.matching import check_run_trials
    from alrnn_neuro.analysis.rsa.pipeline import exclude_trials, run_rsa
    from alrnn_neuro.analysis.rsa.selection import init_bins_of

    check_n_boot(n_boot, 1000)

    target = out if out is not None else run_dir / "rsa"
    refuse_earlier_output(target, overwrite, RSA_OUTPUTS, "an earlier RSA")
    latents_file = run_dir / rd.LATENTS
    if not latents_file.is_file():
        raise RunDirError(
            f"run_dir = {str(run_dir)!r} has no {rd.LATENTS}; fix: pass a finished run "
            "directory of `alrnn-neuro fit`"
        )
    rd.check_run_ids(run_dir)
    path = dataset if dataset is not None else _recorded_dataset(run_dir)
    names = [c.strip() for c in conditions.split(",") if c.strip()]
    latents, data = rd.read_netcdf(latents_file), load_dataset(path)
    if (run_dir / rd.CONFIG).is_file():
        data = _run_trials_of(latents, data)  # a sweep cell holds a subset of the swept trials
        check_run_trials(latents, data)  # other trials or bins: named precisely, first
        check_fitted_dataset(run_dir, data, path)
    if exclude:
        latents, data = exclude_trials(latents, exclude), exclude_trials(data, exclude)
    if init_bins is None and (run_dir / rd.CONFIG).is_file():
        init_bins = init_bins_of(rd.read_json(run_dir / rd.CONFIG).get("config"))
    rsa, summary = run_rsa(
        latents,
        data,
        conditions=names,
        by=by,
        distance=distance,
        compare=compare,
        trials=trials,
        init_bins=init_bins,
        min_units=min_units,
        n_perm=n_perm,
        n_boot=n_boot,
        areas=area or None,
        shuffle_labels=shuffle_labels,
        bootstrap="units" if bootstrap_units else "conditions",
        seed=seed,
    )
    excluded = ";".join(exclude or [])
    summary.update(run_dir=str(run_dir), dataset=str(path), exclude=list(exclude or []))
    summary[rd.MODEL_DIGEST] = rd.model_digest(run_dir)  # which model (report: stale or not)
    rsa.attrs.update(run_dir=str(run_dir), dataset=str(path), exclude=excluded)
    write_outputs(target, rsa, summary, seed=seed)
    print_table(Console(), summary)
    Console().print(f"RSA written to [bold]{escape(str(target))}[/]", highlight=False)


def _recorded_dataset(run_dir: Path) -> Path:
    path = rd.recorded_dataset_path(run_dir)
    if path is None:
        record = rd.read_json(run_dir / rd.CONFIG) if (run_dir / rd.CONFIG).is_file() else {}
        recorded = record.get("data", {}).get("path")
        raise FileFormatError(
            f"the dataset of run {str(run_dir)!r} is not available from here (config.json "
            f"records {recorded!r}); fix: pass it with --dataset FILE"
        )
    return path


def write_outputs(target: Path, rsa, summary: dict, *, seed: int = 0) -> None:
    """Write rsa.nc, rsa.json and the figures into ``target`` all at once (atomic swap)."""
    from alrnn_neuro.analysis.rsa.files import write_rsa_outputs
    from alrnn_neuro.plotting.rsa import save_rsa_figures

    write_rsa_outputs(target, rsa, summary, draw=lambda f: save_rsa_figures(rsa, f, seed=seed))


def _run_trials_of(latents, data):
    """``data`` on the run's trials when the run holds fewer of them (a sweep cell is fitted to
    the sweep's pool of trials: the swept file holds its test trials too); else ``data``."""
    ids = latents["trial"].values
    if ids.size < data.sizes["trial"] and set(ids.tolist()) <= set(data["trial"].values.tolist()):
        return data.sel(trial=ids)
    return data


def print_table(console: Console, summary: dict) -> None:
    """Rich table: area, segment, similarity, CI, p (raw / corrected), noise ceiling and the
    model's place against it; for two conditions the model and neural distances vs 0."""
    seg = summary["segment_dim"]
    if summary.get("statistic") == "distance_vs_zero":
        _print_distances(console, summary)
        return
    table = Table(
        "area",
        seg,
        "similarity",
        "95% CI",
        "p",
        "p (Holm)",
        "noise ceiling",
        title=f"model vs neural RSA ({summary['compare']}, {summary['distance']}, "
        f"{summary.get('trials', '?')} trials)",
        title_justify="left",
    )
    rows = [row for row in summary["rows"] if row["similarity"] is not None]
    for row in rows:
        table.add_row(
            escape(str(row["area"])),
            escape(_label(row[seg])),
            _fmt(row["similarity"]),
            f"[{_fmt(row['ci'][0])}, {_fmt(row['ci'][1])}]",
            _fmt(row["p_value"]),
            _fmt(row["p_corrected"]),
            f"[{_fmt(row['noise_ceiling'][0])}, {_fmt(row['noise_ceiling'][1])}]" + _placed(row),
        )
    console.print(table)
    console.print(
        "noise ceiling: [lower, upper] from split halves of the trials; below/within/above "
        "places the model's similarity to the same halves (in parentheses, on the conditions "
        "every half holds: it can differ from the similarity column); ceiling_fraction in "
        "rsa.json. p: label permutation; 95% CI: bootstrap over conditions, wider with few "
        "conditions, so a row can be significant while its CI holds 0",
        markup=False,
    )
    if len(rows) < len(summary["rows"]):
        console.print(
            f"({len(summary['rows']) - len(rows)} rows without a comparison, e.g. segments "
            "with < 3 conditions, are in rsa.json as null)"
        )


def _placed(row: dict) -> str:
    """`` within (0.15, 9/12 cond.)``: the model's place against the ceiling and the value
    placed, with the conditions it rests on where they are fewer than the similarity's."""
    position = row.get("ceiling_position")
    if not position:
        return ""
    value, used = row.get("model_vs_splits"), row.get("noise_ceiling_conditions")
    fewer = used is not None and row.get("n_conditions") and used < row["n_conditions"]
    detail = f", {used}/{row['n_conditions']} cond." if fewer else ""
    return f" {position} ({_fmt(value)}{detail})"


def _print_distances(console: Console, summary: dict) -> None:
    seg = summary["segment_dim"]
    table = Table(
        "area",
        seg,
        "neural distance",
        "p (Holm)",
        "model distance",
        "p (Holm)",
        title=f"two conditions: {summary['distance']} distance vs 0 "
        f"({summary.get('trials', '?')} trials)",
        title_justify="left",
    )
    for row in summary["rows"]:
        table.add_row(
            row["area"],
            _label(row[seg]),
            _fmt(row["neural_distance"]),
            _fmt(row["neural_p_corrected"]),
            _fmt(row["model_distance"]),
            _fmt(row["model_p_corrected"]),
        )
    console.print(table)


def _label(label) -> str:
    return f"{label:.3f}" if isinstance(label, float) else str(label)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def register(app: typer.Typer) -> None:
    """Add the ``rsa`` command to ``app``."""
    app.command("rsa")(rsa_command)

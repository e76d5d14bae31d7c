"""``alrnn-neuro analyze RUN0 RUN1 ...`` / ``analyze SWEEP_DIR``: what replicates across seeds.

Examples::

    alrnn-neuro fit data.h5 --config recipe.toml --seed 0 --out runs/s0   # ... --seed 4
    alrnn-neuro analyze runs/s0 runs/s1 runs/s2 runs/s3 runs/s4     # -> runs/replication/
    alrnn-neuro analyze sweeps/cv                                   # -> sweeps/cv/replication/

Run directories must differ only in the model seed (settings, data and split equal; the
thread count and device do not count). A sweep gives one replication table per M x P x
train fraction x fold, over its model seeds, and rates per P pooled over folds. Prints the
rates (holds / testable fits) and writes ``replication.csv``, ``replication.json`` and
``replication.png`` (files: :mod:`alrnn_neuro.sweep.replication_files`; criteria:
:mod:`alrnn_neuro.analysis.replication`). Nothing is written when an input is refused.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alrnn_neuro.cli.outputs import refuse_earlier_output
from alrnn_neuro.errors import ConfigError, RunDirError

#: the files of a replication (also what an earlier one leaves in --out)
REPLICATION_OUTPUTS = ("replication.csv", "replication.json", "replication.png")
SWEEP_FILE, RUN_CONFIG = "sweep.json", "config.json"


def is_sweep(path: Path) -> bool:
    """Whether ``path`` is a sweep folder (holds ``sweep.json``)."""
    return (path / SWEEP_FILE).is_file()


def check_run_dir(path: Path) -> None:
    """Refuse a folder that is neither a run directory nor a sweep folder (one line, exit 2).

    A path that is not a folder, or a run directory lacking files, is left to the loader,
    whose messages name the missing file.
    """
    if path.is_dir() and not (path / RUN_CONFIG).is_file() and not is_sweep(path):
        raise RunDirError(
            f"{path} holds neither {RUN_CONFIG} (a run directory of `alrnn-neuro fit`) nor "
            f"{SWEEP_FILE} (a sweep folder); fix: give a run directory, several run "
            "directories of one config, or a sweep folder"
        )


def analyze_replication(
    paths: list[Path],
    single_options: list[str],
    *,
    dataset: Path | None,
    out: Path | None,
    n_null: int,
    seed: int,
    figures: bool,
    overwrite: bool,
    evidence_inputs: tuple[str, ...] | None,
) -> None:
    """Replication table of several run dirs or of a sweep folder: print it, write its files."""
    if single_options:
        raise ConfigError(
            f"{', '.join(single_options)} apply to one RUN_DIR, not to a replication across "
            "fits; fix: drop them, or analyse one run directory at a time"
        )
    sweeps = [p for p in paths if is_sweep(p)]
    if sweeps and len(paths) > 1:
        raise RunDirError(
            f"{sweeps[0]} is a sweep folder among other paths; fix: give one sweep folder "
            "alone, or several run directories"
        )
    for path in paths:
        check_run_dir(path)
    target = _target(paths, out, bool(sweeps))
    refuse_earlier_output(target, overwrite, REPLICATION_OUTPUTS, "an earlier replication")
    from alrnn_neuro.sweep.replication import replicate_runs, replicate_sweep
    from alrnn_neuro.sweep.replication_files import pooled_rates, write_replication

    options = {"n_null": n_null, "seed": seed, "evidence_inputs": evidence_inputs}
    console = Console()
    if sweeps:
        console.print(f"replication across the model seeds of sweep {escape(str(paths[0]))}")
        report = replicate_sweep(paths[0], dataset, **options)
    else:
        console.print(f"replication across {len(paths)} fits of one configuration")
        report = replicate_runs(paths, dataset, **options)
    written = write_replication(report, target, figure=figures)
    if report.kind == "sweep":
        console.print(_groups_table(report))
        console.print(_pooled_table(pooled_rates(report)))
    else:
        console.print(_runs_table(report))
    console.print("a finding holds in a fit when:", highlight=False)
    for name, text in report.criteria.items():
        console.print(f"  {name}: {escape(text)}", highlight=False)
    for note in report.parameters["notes"]:
        console.print(f"note: {escape(note)}", highlight=False)
    console.print(
        f"wrote {', '.join(p.name for p in written)} to {escape(str(target))}", highlight=False
    )


def _target(paths: list[Path], out: Path | None, sweep: bool) -> Path:
    if out is not None:
        return out
    if sweep:
        return paths[0] / "replication"
    parents = {p.resolve().parent for p in paths}
    if len(parents) > 1:
        raise ConfigError(
            "the run directories lie in different folders, so there is no default output "
            "folder; fix: pass --out DIR"
        )
    return paths[0].parent / "replication"


#: short column names of the findings in the sweep tables
SHORT = {
    "epoch_regions": "epochs",
    "integration": "integr.",
    "gating": "gating",
    "rule_routing": "routing",
    "slow_hold": "hold",
}


def _rate(n_holds: int, n_testable: int, percent: bool = True) -> str:
    if not n_testable:
        return "n/a"
    share = f" ({n_holds / n_testable:.0%})" if percent else ""
    return f"{n_holds}/{n_testable}{share}"


def _runs_table(report) -> Table:
    group = report.groups[0]
    seeds = ", ".join(str(s) for s in group.seeds)
    table = Table(
        "finding",
        "holds / testable fits",
        "rate",
        title=(
            f"replication over {len(group.runs)} fits (seeds {seeds}), "
            f"M = {group.key['latent_dim']}, P = {group.key['pwl_units']}"
        ),
    )
    for name, s in group.summary.items():
        rate = "n/a" if s["rate"] is None else f"{s['rate']:.0%}"
        if name == "integration" and s.get("same_region_rate") is not None:
            rate += f" (same region {s['same_region_rate']:.0%})"
        table.add_row(name, _rate(s["n_holds"], s["n_testable"], percent=False), rate)
    return table


def _groups_table(report) -> Table:
    keys = ["latent_dim", "pwl_units", "train_fraction", "fold"]
    findings = list(report.groups[0].summary)
    table = Table(
        "M",
        "P",
        "tf",
        "fold",
        "seeds",
        *(SHORT.get(f, f) for f in findings),
        title="holds / testable fits, per configuration",
    )
    for group in report.groups:
        cells = ["-" if group.key[k] is None else f"{group.key[k]:g}" for k in keys]
        s = group.summary
        rates = [_rate(s[f]["n_holds"], s[f]["n_testable"], percent=False) for f in findings]
        table.add_row(*cells, str(len(group.runs)), *rates)
    return table


def _pooled_table(pooled) -> Table:
    findings = list(dict.fromkeys(pooled["finding"]))
    table = Table("M", "P", "tf", "fits", *(SHORT.get(f, f) for f in findings), title="rates per P")
    for (m, p, f), rows in pooled.groupby(
        ["latent_dim", "pwl_units", "train_fraction"], sort=False, dropna=False
    ):
        by = rows.set_index("finding")
        rates = [_rate(int(by.at[x, "n_holds"]), int(by.at[x, "n_testable"])) for x in findings]
        n_fits = int(rows["n_fits"].iloc[0])
        table.add_row(f"{m:g}", f"{p:g}", f"{f:g}", str(n_fits), *rates)
    return table

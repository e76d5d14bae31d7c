"""Tables and files of a replication report: ``replication.csv``, ``.json`` and ``.png``.

=====================  ==================================================================
file                   content
=====================  ==================================================================
``replication.csv``    one row per (configuration, fit, finding): the configuration
                       (``latent_dim``, ``pwl_units``, ``train_fraction``, ``fold``), the
                       fit (``run``, ``seed``), ``testable``, ``holds``, ``effect``,
                       ``effect_untrained`` (epoch_regions: the AMI of the network the fit
                       started from), ``region`` (matched reference region, -1 where the
                       finding does not hold) and the configuration's rate
                       columns ``n_fits``, ``n_testable``, ``n_holds``, ``rate``
``replication.json``   parameters, the criterion of each finding, and per configuration
                       and finding ``n_fits``, ``n_testable``, ``n_holds``, ``rate``; for a
                       sweep also ``per_pwl_units``: the rates pooled over folds
``replication.png``    replication rate per finding (per P for a sweep)
=====================  ==================================================================

The three files are staged together and replace earlier ones only when all were written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alrnn_neuro._atomic import atomic_path, check_output_path, replace_path, staging_folder
from alrnn_neuro._json import dumps
from alrnn_neuro.analysis.replication import FINDINGS
from alrnn_neuro.errors import OutputError
from alrnn_neuro.plotting.replication import plot_replication, save_replication_figure
from alrnn_neuro.sweep.replication import ReplicationReport

__all__ = [
    "REPLICATION_FILES",
    "pooled_rates",
    "replication_frame",
    "replication_summary",
    "write_replication",
]

REPLICATION_FILES = ("replication.csv", "replication.json", "replication.png")
_COUNTS = ("n_fits", "n_testable", "n_holds")


def replication_frame(report: ReplicationReport) -> pd.DataFrame:
    """One row per (configuration, fit, finding), with the configuration's rate columns."""
    rows = []
    for group in report.groups:
        table = group.table
        for i, (run, seed) in enumerate(zip(group.runs, group.seeds, strict=True)):
            for finding in FINDINGS:
                cell = table.isel(fit=i).sel(finding=finding)
                rate = group.summary[finding]
                rows.append(
                    {
                        **group.key,
                        "run": run,
                        "seed": seed,
                        "finding": finding,
                        "testable": bool(cell["testable"]),
                        "holds": bool(cell["found"]) and bool(cell["testable"]),
                        "effect": float(cell["effect"]),
                        "effect_untrained": _untrained(table, i, finding),
                        "region": int(cell["region"]),
                        "n_fits": rate["n_fits"],
                        "n_testable": rate["n_testable"],
                        "n_holds": rate["n_holds"],
                        "rate": np.nan if rate["rate"] is None else rate["rate"],
                    }
                )
    return pd.DataFrame(rows)


def _untrained(table, i: int, finding: str) -> float:
    """The effect of the network fit ``i`` started from: the epoch AMI (NaN elsewhere)."""
    if finding != "epoch_regions" or "epoch_ami_untrained" not in table:
        return np.nan
    return float(table["epoch_ami_untrained"].isel(fit=i))


def pooled_rates(report: ReplicationReport) -> pd.DataFrame:
    """Rates per (M, P, train fraction) and finding, pooled over folds (sums of holds and of
    testable fits); for run dirs the one group's rates.

    Returns
    -------
    DataFrame
        ``latent_dim``, ``pwl_units``, ``train_fraction``, ``finding``, ``n_fits``,
        ``n_testable``, ``n_holds``, ``rate`` (NaN where never testable), ``n_groups``.
    """
    rows = []
    for group in report.groups:
        for finding in FINDINGS:
            s = group.summary[finding]
            rows.append({**group.key, "finding": finding, **{k: s[k] for k in _COUNTS}})
    frame = pd.DataFrame(rows)
    keys = ["latent_dim", "pwl_units", "train_fraction", "finding"]
    frame["train_fraction"] = frame["train_fraction"].fillna(-1.0)
    pooled = frame.groupby(keys, sort=False)[list(_COUNTS)].sum().reset_index()
    pooled["n_groups"] = frame.groupby(keys, sort=False).size().values
    testable = pooled["n_testable"].to_numpy(dtype=float)
    holds = pooled["n_holds"].to_numpy(dtype=float)
    pooled["rate"] = np.divide(holds, testable, out=np.full_like(holds, np.nan), where=testable > 0)
    pooled["train_fraction"] = pooled["train_fraction"].replace(-1.0, np.nan)
    return pooled


def replication_summary(report: ReplicationReport) -> dict[str, Any]:
    """JSON-ready summary: parameters, criteria, per configuration and finding the rates."""
    criteria = report.criteria
    groups = []
    for group in report.groups:
        findings = {name: {**group.summary[name], "criterion": criteria[name]} for name in FINDINGS}
        groups.append(
            {
                **group.key,
                "runs": group.runs,
                "seeds": group.seeds,
                "n_fits": len(group.runs),
                "findings": findings,
            }
        )
    out: dict[str, Any] = {
        "kind": report.kind,
        "source": report.source,
        "parameters": report.parameters,
        "criteria": criteria,
        "groups": groups,
    }
    if report.kind == "sweep":
        pooled = pooled_rates(report)
        per_p = []
        for (m, p, f), rows in pooled.groupby(
            ["latent_dim", "pwl_units", "train_fraction"], sort=False, dropna=False
        ):
            findings = {
                r.finding: {k: getattr(r, k) for k in (*_COUNTS, "rate")} for r in rows.itertuples()
            }
            per_p.append(
                {
                    "latent_dim": m,
                    "pwl_units": p,
                    "train_fraction": f,
                    "n_folds": int(rows["n_groups"].iloc[0]),
                    "findings": findings,
                }
            )
        out["per_pwl_units"] = per_p
    return out


def write_replication(
    report: ReplicationReport, out: str | os.PathLike, *, figure: bool = True
) -> list[Path]:
    """Write ``replication.csv``, ``replication.json`` and ``replication.png`` into ``out``.

    All are written into a staging folder first and moved into ``out`` only when every one
    succeeded, so a failure leaves ``out`` as it was.

    Parameters
    ----------
    report : ReplicationReport
        Output of :func:`~alrnn_neuro.sweep.replication.replicate_runs` or
        :func:`~alrnn_neuro.sweep.replication.replicate_sweep`.
    out : str or PathLike
        Output folder (created if needed).
    figure : bool
        Also draw ``replication.png``.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = check_output_path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file; fix: give a folder path")
    frame = replication_frame(report)
    summary = replication_summary(report)
    names = REPLICATION_FILES if figure else REPLICATION_FILES[:2]
    drawn = plot_replication(pooled_rates(report), sweep=report.kind == "sweep") if figure else None

    def fill(stage: Path) -> None:
        frame.to_csv(stage / names[0], index=False)
        (stage / names[1]).write_text(dumps(summary))
        if drawn is not None:
            save_replication_figure(drawn, stage / names[2])

    if not folder.exists():
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            fill(tmp)
    else:
        with staging_folder(folder) as stage:
            fill(stage)
            for name in names:
                replace_path(stage / name, folder / name)
    return [folder / name for name in names]

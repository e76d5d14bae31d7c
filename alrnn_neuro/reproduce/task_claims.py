"""Claims of ``reproduce tasks``: the sparse-P claim per task and multi-task region sharing.

Every claim is a dict ``{"claim": str, "holds": bool | None, "evidence": str}``; ``holds`` is
None when the data cannot test it (and the evidence says why).

Per task, the minimal sufficient P (smallest P within one sem of the best mean test accuracy)
is below M, provided some P learned the task (best mean accuracy >= 0.6); multi-task: the
shared index falls with P over P > 0 (Spearman rho < 0, p < 0.05; P = 0 is excluded because
one region is shared trivially).

These claims have no controls yet (issue 15 lists what they need: "P = 0 insufficient and a
small P sufficient" on whole-sequence accuracy, and a null matched on the number of regions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.sweep import summarize

LEARNED = 0.6


def claim(text: str, holds: bool | None, evidence: str) -> dict[str, Any]:
    """One claim record."""
    return {"claim": text, "holds": None if holds is None else bool(holds), "evidence": evidence}


def _ms(mean: xr.DataArray, sem: xr.DataArray, **sel: Any) -> tuple[float, float]:
    return float(mean.sel(**sel)), float(sem.sel(**sel))


def _row(mean, sem, ps, **sel) -> str:
    return ", ".join(f"P={p} {_fmt(*_ms(mean, sem, pwl_units=p, **sel))}" for p in ps)


def _fmt(m: float, s: float) -> str:
    return f"{m:.4g} ± {s:.2g}"


def task_claim(task: str, results: xr.Dataset, latent_dim: int) -> dict[str, Any]:
    """Minimal sufficient P of one task (test accuracy), and whether it is below M."""

    text = f"{task}: a sparse AL-RNN (P < M = {latent_dim}) is as good as the best P"
    metric = "test_accuracy" if "test_accuracy" in results else "test_loss"
    if bool(results[metric].sel(model="alrnn").isnull().all()):
        return claim(text, None, f"not testable: no finished cell has a {metric}")
    summary = summarize(results, metric)
    mean = summary["mean"].sel(model="alrnn", drop=True)
    sem = summary["sem"].sel(model="alrnn", drop=True)
    if "train_fraction" in mean.dims:
        big = float(mean["train_fraction"].max())
        mean, sem = mean.sel(train_fraction=big), sem.sel(train_fraction=big)
        minimal = summary["minimal_pwl_units"].sel(train_fraction=big).item()
    else:
        minimal = summary["minimal_pwl_units"].item()
    ps = [int(p) for p in mean["pwl_units"].values]
    evidence = f"{summary.attrs['metric']}: {_row(mean, sem, ps)}; minimal sufficient P = "
    evidence += f"{minimal:g}" if np.isfinite(minimal) else "n/a"
    best = float(mean.max())
    if summary.attrs["metric"] == "test_accuracy" and not best >= LEARNED:
        return claim(
            text,
            None,
            f"not testable: no P learned the task (best mean accuracy "
            f"{best:.3g} < {LEARNED}); {evidence}",
        )
    return claim(text, bool(np.isfinite(minimal) and minimal < latent_dim), evidence)


def multitask_claims(summary: dict[str, Any], latent_dim: int) -> list[dict[str, Any]]:
    """Shared-vs-distributed claim from :func:`~alrnn_neuro.reproduce.tasks.summarize_multitask`."""
    text = (
        "Multi-task: small P shares regions across tasks, large P makes them task-specific "
        "(shared index falls with P over P > 0; Spearman rho < 0, p < 0.05)"
    )
    rows = summary["by_pwl_units"]
    per_p = "; ".join(
        f"P={r['pwl_units']}: shared {_pair(r['shared_index'])}, specificity "
        f"{_pair(r['task_specificity'])}, accuracy {_pair(r['task_accuracy'])}"
        for r in rows
    )
    trend = summary["spearman_shared_vs_p"]
    if trend["rho"] is None:
        return [claim(text, None, f"not testable: fewer than two P > 0 with data; {per_p}")]
    ok = trend["rho"] < 0 and trend["p_value"] < 0.05
    return [
        claim(
            text,
            ok,
            (
                f"Spearman rho = {trend['rho']:.2f} (p = {trend['p_value']:.3g}, "
                f"{trend['n_cells']} "
                f"cells, M = {latent_dim}); {per_p}"
            ),
        )
    ]


def _pair(v: list) -> str:
    return "n/a" if v[0] is None else f"{v[0]:.3f} ± {v[1]:.2g}"

"""Report sections of a run's analyses: regimes vs epochs, primitives (and cycles), RSA.

Inputs are the folders written by ``alrnn-neuro analyze`` (``alignment.json``,
``primitives.json``, ``regimes.nc``, ``figures/*.png``) and ``alrnn-neuro rsa`` (``rsa.json``,
``rsa.nc``, ``rsa_*.png``); the figures those commands drew are embedded as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alrnn_neuro.analysis.rsa.pipeline import summarize
from alrnn_neuro.data.h5 import read_netcdf
from alrnn_neuro.plotting.regimes import plot_region_epoch
from alrnn_neuro.plotting.rsa import plot_similarity
from alrnn_neuro.report.html import Section, esc, fmt, img_figure, img_file, mark, note, table

#: analysis figures in reading order (others follow alphabetically)
FIGURE_ORDER = (
    "region_epoch",
    "trajectories_pc",
    "transition_graph",
    "eigenvalues",
    "switch_latency",
)
#: alignment rows shown outside the collapsed full table
MAX_ROWS = 12


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``."""
    return json.loads(path.read_text())


def figures(folder: Path, order: tuple[str, ...] = ()) -> list[Path]:
    """PNG figures in ``folder`` and ``folder/figures`` (SVG where no PNG of that name)."""
    found: dict[str, Path] = {}
    for place in (folder, folder / "figures"):
        if not place.is_dir():
            continue
        for path in sorted(place.iterdir()):
            if path.suffix.lower() == ".png" or (
                path.suffix.lower() == ".svg" and path.stem not in found
            ):
                found[path.stem] = path
    rank = {name: k for k, name in enumerate(order)}
    return sorted(found.values(), key=lambda p: (rank.get(p.stem, len(rank)), p.stem))


def _facts(a: dict) -> str:
    keys = (
        ("n_latent", "latent states M"),
        ("n_pwl", "PWL units P"),
        ("n_regions_used", "regions used"),
        ("n_regions_total", "regions that exist (2^P)"),
        ("n_regions_90", "regions covering 90 % of steps"),
        ("epoch_ami", "AMI(region; epoch)"),
        ("epoch_p", "circular-shift null p"),
        ("n_null", "null draws"),
    )
    rows = [(label, a[k]) for k, label in keys if k in a]
    reference = a.get("untrained") or {}
    if "epoch_ami" in reference:
        rows.append(("AMI(region; epoch) of the untrained network", reference["epoch_ami"]))
        found = ", ".join(reference["primitives_found"]) or "none"
        rows.append(("primitives the untrained network shows", found))
    if a.get("shared_with_untrained") is not None:
        shared = ", ".join(a["shared_with_untrained"]) or "none"
        rows.append(("findings not from training (the untrained network shows them)", shared))
    if a.get("trial_variables"):
        rows.append(("trial variables scored", ", ".join(map(str, a["trial_variables"]))))
    if a.get("note"):
        rows.append(("note", a["note"]))
    return table(["quantity", "value"], rows)


def regimes_section(folder: Path) -> Section:
    """Region/epoch alignment (AMI with null p-values), switch latencies, analysis figures."""
    section = Section("regimes", "Regimes and task epochs")
    section.add(note(f"From {folder} (alrnn-neuro analyze)."))
    align = folder / "alignment.json"
    if align.is_file():
        a = read_json(align)
        section.add("<h3>Alignment of regions with epochs</h3>")
        section.add(_facts(a))
        top = a.get("top_regions") or []
        if top:
            rows = [
                (
                    r.get("region"),
                    r.get("bits"),
                    r.get("frequency"),
                    ", ".join(map(str, r.get("epochs", []))),
                )
                for r in top
            ]
            heads = ["region", "bits", "time share", "epochs (>= 10 % of steps)"]
            section.add(table(heads, rows))
        scores = a.get("scores") or []
        cols = (
            "variable",
            "epoch",
            "ami",
            "null_circular_mean",
            "p_circular",
            "null_shuffle_mean",
            "p_shuffle",
            "n_steps",
        )
        heads = (
            "variable",
            "epoch",
            "AMI",
            "null mean (circular)",
            "p (circular shift)",
            "null mean (shuffle)",
            "p (trial shuffle)",
            "steps",
        )
        rows = [[s.get(c) for c in cols] for s in scores]
        overall = [r for r in rows if r[1] == "all"]
        if overall:
            section.add(table(heads, overall))
        if len(rows) > len(overall):
            section.add(
                "<details><summary>AMI per epoch (all rows)</summary>"
                f"{table(heads, rows)}</details>"
            )
        latency = a.get("switch_latency_median_s") or {}
        if latency:
            section.add("<h3>Switch latency</h3>")
            section.add(note("Median time from each task event to the next region switch."))
            section.add(table(["event", "median latency (s)"], list(latency.items())))
    else:
        section.add(note("No alignment.json in the analysis folder."))
    found = figures(folder, FIGURE_ORDER)
    if not found and (folder / "regimes.nc").is_file():
        regimes = read_netcdf(folder / "regimes.nc")
        if "region_epoch" in regimes:
            section.add(img_figure(plot_region_epoch(regimes["region_epoch"]), "region_epoch"))
    if found:
        section.add("<h3>Figures</h3>")
        section.add("".join(img_file(p) for p in found))
    return section


def _record_table(records: list[dict], first: tuple[str, ...] = (), skip: tuple = ()) -> str:
    keys: list[str] = list(first)
    for r in records:
        keys += [k for k in r if k not in keys and k not in skip and r.get(k) is not None]
    keys = [k for k in keys if any(r.get(k) is not None for r in records)]
    raw = tuple(k for k, name in enumerate(keys) if name == "detected")
    rows = [[mark(r.get(k)) if k == "detected" else r.get(k) for k in keys] for r in records]
    return table(keys, rows, raw=raw)


def primitives_section(folder: Path) -> Section:
    """One table per primitive kind (one row per test with its evidence numbers); cycles."""
    section = Section("primitives", "Computational primitives")
    records = read_json(folder / "primitives.json")
    if not isinstance(records, list):
        records = records.get("primitives", []) if isinstance(records, dict) else []
    found = sorted({str(r.get("primitive")) for r in records if r.get("detected") is True})
    section.add(
        note(
            f"From {folder / 'primitives.json'}: {len(records)} test(s); detected: "
            f"{', '.join(found) or 'none'}. Detected rows first."
        )
    )
    kinds = list(dict.fromkeys(str(r.get("primitive")) for r in records))
    for kind in kinds:
        rows = [r for r in records if str(r.get("primitive")) == kind]
        rows.sort(key=lambda r: r.get("detected") is not True)
        n = sum(r.get("detected") is True for r in rows)
        section.add(f"<h3>{esc(kind)} ({n} of {len(rows)} detected)</h3>")
        full = _record_table(rows, ("detected",), skip=("primitive",))
        if len(rows) <= MAX_ROWS:
            section.add(full)
            continue
        if n:
            section.add(_record_table(rows[:n], ("detected",), skip=("primitive",)))
        summary = f"all {len(rows)} {esc(kind)} tests"
        section.add(f"<details><summary>{summary}</summary>{full}</details>")
    cycles = _cycles(folder)
    if cycles:
        section.add("<h3>Cycles</h3>")
        section.add(note("Period-k cycles of the fitted map under each epoch's mean input."))
        section.add(cycles)
    return section


def _cycles(folder: Path) -> str:
    """Table of the cycle summary in alignment.json, or of dynamics.nc's cycles."""
    align = folder / "alignment.json"
    summary = read_json(align).get("cycles") if align.is_file() else None
    if isinstance(summary, list) and summary:
        rows = [
            (
                c.get("period"),
                c.get("n_cycles"),
                c.get("n_stable"),
                "; ".join("->".join(map(str, q)) for q in (c.get("region_sequences") or [])[:6]),
                ", ".join(map(str, c.get("epochs") or [])),
                c.get("method"),
            )
            for c in summary
        ]
        heads = ["period", "cycles", "stable", "region sequences", "epochs", "method"]
        return table(heads, rows)
    if not (folder / "dynamics.nc").is_file():
        return ""

    dyn = read_netcdf(folder / "dynamics.nc")
    if "cycle_period" not in dyn or dyn.sizes.get("cycle", 0) == 0:
        return ""
    names = ("cycle_period", "cycle_epoch", "cycle_stable", "cycle_max_multiplier")
    rows = [[dyn[n].values[k].item() for n in names if n in dyn] for k in range(dyn.sizes["cycle"])]
    return table([n.removeprefix("cycle_") for n in names if n in dyn], rows[:50])


def rsa_section(folder: Path) -> Section:
    """Model-neural RSA per segment (epoch) and area with CI, p-values and noise ceiling."""
    section = Section("rsa", "RSA by epoch")
    rsa = None
    if (folder / "rsa.json").is_file():
        summary = read_json(folder / "rsa.json")
    else:
        rsa = read_netcdf(folder / "rsa.nc")
        summary = summarize(rsa)
    seg = summary.get("segment_dim", "epoch")
    if seg != "epoch":
        section.title = f"RSA by {seg}"
    units = summary.get("n_units") or {}
    section.add(
        note(
            f"From {folder}: {summary.get('distance', '?')} RDMs over the conditions "
            f"{', '.join(map(str, summary.get('conditions', [])))}, compared with "
            f"{summary.get('compare', '?')}; units per area: "
            f"{', '.join(f'{k} {v}' for k, v in units.items()) or '?'}. The noise ceiling bounds "
            "what RDMs from half of the trials reach (split-half)."
        )
    )
    labels = summary.get("conditions_list") or []
    if labels:
        section.add(note(f"conditions: {', '.join(map(str, labels))}"))
    rows = [
        [
            r.get("area"),
            r.get(seg),
            r.get("similarity"),
            fmt(r.get("ci")),
            r.get("p_value"),
            r.get("p_corrected"),
            fmt(r.get("noise_ceiling")),
            r.get("n_conditions"),
        ]
        for r in summary.get("rows", [])
    ]
    section.add(
        table(
            ["area", seg, "similarity", "95 % CI", "p", "p (Holm)", "noise ceiling", "conditions"],
            rows,
        )
    )
    found = figures(folder, ("rsa_similarity", "rsa_rdms", "rsa_mds"))
    if not found and (folder / "rsa.nc").is_file():
        import matplotlib.pyplot as plt

        fig = plot_similarity(rsa if rsa is not None else read_netcdf(folder / "rsa.nc"))
        section.add(img_figure(fig, "rsa_similarity"))
        plt.close(fig)
    section.add("".join(img_file(p) for p in found))
    return section

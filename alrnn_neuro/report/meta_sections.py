"""Report sections from JSON records: claims (top), fitted run metrics, config and versions."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from alrnn_neuro._claim_status import STATUS_MEANINGS
from alrnn_neuro.report.html import Section, esc, key_values, mark, note, table

#: config.json ``data`` entries too long to list (their length is shown instead)
LONG_LISTS = ("unit_ids", "classes")


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def claims_section(path: Path) -> Section:
    """The science claims of ``reproduce.json`` with ✓ / ✗ / n.a. and their evidence."""
    record = _json(path)
    section = Section("claims", "Claims")
    head = ", ".join(f"{k} {record[k]}" for k in ("target", "setting") if record.get(k))
    if head:
        section.add(note(f"reproduce {head}; see the configuration at the bottom."))
    claims = record.get("claims") or []
    if not claims:
        section.add(note("reproduce.json lists no claims."))
        return section
    if record.get("study"):
        section.add(note(f"Study: {record['study']}."))
    if record.get("criteria_sha256"):
        section.add(
            note(
                "Criteria: alrnn_neuro/reproduce/criteria.toml, sha256 "
                f"{record['criteria_sha256'][:16]}…; FPR = the largest false-positive rate over "
                "the controls the claim must fail [exact 95 % interval of that control's rate]; "
                "power = how often it held on the positive generator's control seeds."
            )
        )
    rows = [
        (
            esc(c.get("claim", "")),
            _status(c),
            _number(c.get("effect")),
            _number(c.get("p_value")),
            _number(c.get("false_positive_rate")) + interval_text(worst_control_ci(c)),
            _number((c.get("power") or {}).get("rate")),
            esc(c.get("evidence", "")),
        )
        for c in claims
    ]
    section.add(
        table(["claim", "status", "effect", "p", "FPR", "power", "evidence"], rows, raw=(0, 1, 6))
    )
    shown = {c.get("status") for c in claims}
    for status, meaning in STATUS_MEANINGS.items():
        if status in shown:
            section.add(note(f"{status}: {meaning}."))
    controls = _control_rows(claims)
    if controls:
        section.add(
            note(
                "Controls, each a setting where the claim must fail: testable runs where it "
                "held anyway, the rate with its exact 95 % interval (0 of 5 allows up to 52 %), "
                "and each run's effect (same units as the claim's; n.a.: the run could not test "
                "the claim)."
            )
        )
        section.add(table(["claim", "control", "held / runs", "FPR", "effects", "seeds"], controls))
    return section


def _control_rows(claims: list[dict]) -> list[tuple]:
    """One row per (claim, control) of ``reproduce.json`` claims."""
    rows = []
    for c in claims:
        for name, entry in (c.get("controls") or {}).items():
            effects = entry.get("effects")
            shown = (
                "–"
                if effects is None
                else ", ".join("n.a." if e is None else f"{e:+.3g}" for e in effects)
            )
            rows.append(
                (
                    c.get("name") or c.get("claim", ""),
                    name,
                    f"{entry.get('n_holds', 0)} / {entry.get('n', 0)}",
                    _number(entry.get("false_positive_rate")) + interval_text(entry.get("ci_95")),
                    shown,
                    ", ".join(str(k) for k in entry.get("seeds", [])),
                )
            )
    return rows


def worst_control_ci(claim: dict) -> list | None:
    """The ``ci_95`` of the control that gives a ``reproduce.json`` claim its false-positive
    rate (the largest over its tested controls), or None.

    Examples
    --------
    >>> worst_control_ci({"controls": {"a": {"n": 5, "false_positive_rate": 0.0,
    ...                                      "ci_95": [0.0, 0.52]},
    ...                                "b": {"n": 5, "false_positive_rate": 0.2,
    ...                                      "ci_95": [0.005, 0.72]}}})
    [0.005, 0.72]
    """
    tested = [c for c in (claim.get("controls") or {}).values() if c.get("n")]
    if not tested:
        return None
    return max(tested, key=lambda c: c.get("false_positive_rate") or 0.0).get("ci_95")


def interval_text(ci: list | None) -> str:
    """`` [0, 0.52]``: the exact 95 % interval of a rate (records before it: nothing)."""
    return "" if not ci else f" [{_number(ci[0])}, {_number(ci[1])}]"


def _status(claim: dict) -> str:
    status = claim.get("status")
    if status is None or status in ("holds", "does not hold"):
        return mark(claim.get("holds"))
    return esc(status)


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


def run_section(run: Path) -> Section:
    """Held-out metrics of the fitted run (``metrics.json``) per split."""
    metrics = _json(run / "metrics.json")
    section = Section("run", "Fitted model")
    section.add(note(f"Run directory {run}."))
    splits = [s for s in ("train", "val", "test") if isinstance(metrics.get(s), dict)]
    names: list[str] = []
    for s in splits:
        names += [k for k, v in metrics[s].items() if k not in names and not isinstance(v, dict)]
    if splits:
        rows = [[s, *(metrics[s].get(k) for k in names)] for s in splits]
        section.add(table(["split", *names], rows))
    extra = {k: v for k, v in metrics.items() if k not in splits and not isinstance(v, dict)}
    if extra:
        section.add(key_values(extra))
    return section


def _data_summary(data: dict) -> dict:
    out = {}
    for k, v in data.items():
        out[k] = f"{len(v)} entries" if k in LONG_LISTS and isinstance(v, list) else v
    return out


#: (key, title) of the dict entries of reproduce.json / sweep.json shown as tables
REPRODUCE_TABLES = (
    ("versions", "Versions"),
    ("fit_config", "Fit configuration"),
    ("grid", "Sweep grid"),
)
SWEEP_TABLES = (("grid", "Grid"), ("base_config", "Base fit configuration"), ("data", "Data"))


def _add_tables(section: Section, record: dict, parts: tuple[tuple[str, str], ...]) -> None:
    """One titled key/value table per ``(key, title)`` whose ``record[key]`` is a dict."""
    for key, title in parts:
        if isinstance(record.get(key), dict):
            section.add(f"<h4>{esc(title)}</h4>")
            section.add(key_values(record[key]))


def config_section(
    reproduce: Path | None, run: Path | None, sweep: Path | None, version: str
) -> Section:
    """reproduce.json (command, settings, fit config, grid, versions), run and sweep configs."""
    section = Section("config", "Configuration and versions")
    if reproduce is not None:
        record = _json(reproduce)
        section.add("<h3>reproduce.json</h3>")
        top = {k: v for k, v in record.items() if not isinstance(v, dict | list)}
        section.add(key_values(top))
        _add_tables(section, record, REPRODUCE_TABLES)
    if sweep is not None and (sweep / "sweep.json").is_file():
        record = _json(sweep / "sweep.json")
        section.add(f"<h3>Sweep ({esc(sweep)})</h3>")
        _add_tables(section, record, SWEEP_TABLES)
    if run is not None and (run / "config.json").is_file():
        record = _json(run / "config.json")
        section.add(f"<h3>Run config ({esc(run)})</h3>")
        if isinstance(record.get("config"), dict):
            section.add(key_values(record["config"]))
        if isinstance(record.get("data"), dict):
            section.add("<h4>Data</h4>")
            section.add(key_values(_data_summary(record["data"])))
        if record.get("alrnn_neuro_version"):
            section.add(note(f"fitted with alrnn-neuro {record['alrnn_neuro_version']}"))
    section.add(
        note(f"Report written by alrnn-neuro {version}, Python {platform.python_version()}.")
    )
    return section


def skipped_section(skipped: list[tuple[str, str]]) -> Section:
    """One line per section left out: its name and what was absent or unreadable."""
    section = Section("skipped", "Not in this report")
    rows = "".join(f"<li><strong>{esc(name)}</strong>: {esc(why)}</li>" for name, why in skipped)
    return section.add(f'<ul class="note">{rows}</ul>')

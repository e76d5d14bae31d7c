"""Recovery table of docs/generators.md: the reproduction's claims on every generator.

For each generator and data seed this simulates a session of the quick setting and runs the
reproduction's pipeline on it (k-fold sweep, the recipe fitted with its model seeds, every
claim of :mod:`alrnn_neuro.reproduce.stimulus_claims`), exactly as the control sessions of
``alrnn-neuro reproduce stimulus-selection --controls`` do. Sessions run in parallel
processes and are resumed (``OUT/controls/<generator>-<seed>/claims.json``).

The data seeds 100001..100010 are away from every seed used while developing the toolbox and
the generators (docs/generators.md). Not part of the test suite: about 1-2 minutes per session
and core, 60 sessions. Run::

    OMP_NUM_THREADS=1 python scripts/recovery_table.py --out /tmp/recovery --workers 2

It prints the markdown table of docs/generators.md and writes ``OUT/recovery.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from collections import Counter
from pathlib import Path

from alrnn_neuro.reproduce.settings import stimulus_settings
from alrnn_neuro.reproduce.stimulus_claims import CLAIMS
from alrnn_neuro.reproduce.stimulus_controls import run_controls
from alrnn_neuro.simulate.generators import GENERATOR_NAMES

SEEDS = tuple(range(100001, 100011))
COLUMNS = ("zero_insufficient", "sparse_suffices", "rule_routing", "slow_hold",
           "epoch_alignment", "rsa")  # fmt: skip


def minimal_p(record: dict) -> str:
    """The session's minimal sufficient P (the ``sparse_suffices`` effect), or "cannot tell"."""
    effect = record["claims"]["sparse_suffices"].get("effect")
    return "cannot tell" if effect is None or not math.isfinite(effect) else f"{effect:g}"


def table(records: dict, generators: list[str]) -> tuple[str, dict]:
    """Markdown rows (one per generator) and the JSON summary."""
    lines = [
        "| generator | data seeds | minimal sufficient P | " + " | ".join(COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    summary = {}
    for generator in generators:
        rows = [r for r in records.values() if r["generator"] == generator]
        rows.sort(key=lambda r: r["seed"])
        counts = Counter(minimal_p(r) for r in rows)
        per_claim = {}
        for claim in COLUMNS:
            outcomes = [r["claims"][claim]["holds"] for r in rows]
            tested = [o for o in outcomes if o is not None]
            per_claim[claim] = {"n": len(tested), "n_holds": sum(tested)}
        seeds = f"{rows[0]['seed']}–{rows[-1]['seed']}" if rows else "–"
        minimal = ", ".join(f"{p}: {n}" for p, n in sorted(counts.items()))
        cells = [f"{c['n_holds']}/{c['n']}" if c["n"] else "n.a." for c in per_claim.values()]
        lines.append(f"| `{generator}` | {seeds} | {minimal} | " + " | ".join(cells) + " |")
        summary[generator] = {
            "seeds": [r["seed"] for r in rows],
            "minimal_pwl_units": dict(counts),
            "claims": per_claim,
            "seconds": sum(r["seconds"] for r in rows),
        }
    return "\n".join(lines), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("recovery"))
    parser.add_argument("--generators", default=",".join(GENERATOR_NAMES))
    parser.add_argument("--seeds", default=",".join(str(s) for s in SEEDS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--setting", default="quick")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("alrnn_neuro.sweep", "alrnn_neuro.training", "alrnn_neuro.analysis"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    s = dataclasses.replace(stimulus_settings(args.setting), workers=args.workers)
    generators = args.generators.split(",")
    seeds = [int(x) for x in args.seeds.split(",")]
    started = time.perf_counter()
    records = run_controls(args.out, s, generators=generators, seeds=seeds)
    markdown, summary = table(records, generators)
    record = {
        "setting": s.to_dict(),
        "claims": {k: CLAIMS[k] for k in COLUMNS},
        "generators": summary,
        "wall_seconds": time.perf_counter() - started,
    }
    (args.out / "recovery.json").write_text(json.dumps(record, indent=2))
    logging.info("done in %.0f s", record["wall_seconds"])
    print(markdown)  # noqa: T201  (a script's output)


if __name__ == "__main__":
    main()

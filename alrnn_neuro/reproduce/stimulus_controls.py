"""Controls of the stimulus-selection claims: false-positive rates and power over data seeds.

Each claim is re-evaluated, with the very pipeline of the reproduction, on data where it must
not hold, one simulated session per control data seed (``settings.control_seeds``):

===============  ============================================================================
control          the claims that must fail there
===============  ============================================================================
linear           the ``linear`` generator (true P = 0, no routing): every selection claim,
                 rule routing and the slow hold in a rule-dependent region
no_routing       the ``no_routing`` generator (the rule is held but routes nothing): routing
untrained        the recipe network at its initialisation (one per model seed, seeds other
                 than the reference untrained network's), on the ``pwl`` sessions: every
                 claim about a fitted model
one_epoch        the recipe network trained for one epoch (one per model seed), on the
                 ``pwl`` sessions: same
shuffled_rule    the ``pwl`` fits with the rule labels permuted across trials: routing and
                 the slow hold (which read the rule)
===============  ============================================================================

The same ``pwl`` sessions give each claim's *power* (how often it holds where it is true).
Sessions run in parallel processes; each writes ``controls/<generator>-<seed>/claims.json``,
so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from alrnn_neuro.reproduce import stimulus_session as ss
from alrnn_neuro.reproduce.claim_records import rate
from alrnn_neuro.reproduce.common import write_json
from alrnn_neuro.reproduce.settings import StimulusSettings
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.threads import torch_threads

logger = logging.getLogger(__name__)

#: control -> the claims that must not hold on it
MUST_FAIL: dict[str, tuple[str, ...]] = {
    "linear": (*ss.SELECTION_CLAIMS, "rule_routing", "slow_hold"),
    "no_routing": ("rule_routing",),
    "untrained": ss.MODEL_CLAIMS,
    "one_epoch": ss.MODEL_CLAIMS,
    "shuffled_rule": ("rule_routing", "slow_hold"),
}
#: generator of every simulated session, and whether it needs the nonlinearity sweep
SESSIONS = {"pwl": True, "linear": True, "no_routing": False}
MODEL_CONTROLS = ("untrained", "one_epoch", "shuffled_rule")
RECORD = "claims.json"


def run_controls(
    root: Path,
    s: StimulusSettings,
    *,
    generators: Sequence[str] = tuple(SESSIONS),
    seeds: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Evaluate every control session of ``s`` under ``root/controls`` (finished ones are kept).

    Parameters
    ----------
    root : Path
        The reproduction folder.
    s : StimulusSettings
        Session size, fit settings, control data seeds and ``workers``.
    generators : sequence of str
        Generators simulated (any of :data:`~alrnn_neuro.simulate.generators.GENERATOR_NAMES`;
        those of :data:`SESSIONS` by default; the sweep runs for all but ``no_routing``).
    seeds : sequence of int, optional
        Data seeds (default ``s.control_seeds``).

    Returns
    -------
    dict
        ``"<generator>-<seed>"`` -> the session record (see :func:`control_session`).
    """
    folder = Path(root) / "controls"
    folder.mkdir(parents=True, exist_ok=True)
    todo, records = [], {}
    for generator in generators:
        for seed in s.control_seeds if seeds is None else seeds:
            name = f"{generator}-{seed}"
            done = folder / name / RECORD
            if done.is_file():
                records[name] = json.loads(done.read_text())
            else:
                todo.append((generator, seed, str(folder / name), s))
    logger.info("controls: %d of %d sessions to run", len(todo), len(todo) + len(records))
    if s.workers > 1 and len(todo) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(s.workers, len(todo)), mp_context=context) as pool:
            for record in pool.map(_control_session_task, todo):
                records[record["name"]] = record
    else:
        for task in todo:
            record = _control_session_task(task)
            records[record["name"]] = record
    return records


def _control_session_task(task: tuple[str, int, str, StimulusSettings]) -> dict[str, Any]:
    generator, seed, workdir, s = task
    # the baselines are reported on the reproduction's own session, never claimed: skip them
    return control_session(generator, seed, Path(workdir), dataclasses.replace(s, baselines=()))


def control_session(generator: str, seed: int, workdir: Path, s: StimulusSettings) -> dict:
    """Simulate one control session, evaluate the claims (and model controls), save the record.

    Returns
    -------
    dict
        ``{"name", "generator", "seed", "seconds", "claims": {claim: ClaimResult dict},
        "model_controls": {control: {claim: ClaimResult dict}}}``; model controls only for
        ``pwl``. Written to ``workdir/claims.json``.
    """
    started = time.perf_counter()
    with torch_threads(1):
        ds = simulate_stimulus_selection(
            n_trials=s.n_trials, n_units=s.n_units, seed=seed, lfp=False, generator=generator
        )
        with_sweep = SESSIONS.get(generator, True)
        outcome = ss.evaluate_session(ds, workdir, s, seed=seed, with_sweep=with_sweep)
        controls = {}
        if generator == "pwl":
            controls = ss.model_control_claims(ds, outcome, s, seed=seed)
    record = {
        "name": f"{generator}-{seed}",
        "generator": generator,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "claims": {k: v.to_dict() for k, v in outcome.claims.items()},
        "model_controls": {
            c: {k: v.to_dict() for k, v in claims.items()} for c, claims in controls.items()
        },
    }
    write_json(Path(workdir) / RECORD, record)
    logger.info("control session %s: %.0f s", record["name"], record["seconds"])
    return record


def calibration(records: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Per claim: its outcomes on each control it must fail, and its power on ``pwl``.

    Returns
    -------
    dict
        claim -> ``{"controls": {control: {"seeds", "holds", "effects", "n", "n_holds",
        "false_positive_rate"}}, "power": {"seeds", "holds", "effects", "n", "n_holds",
        "rate", "true_by_construction"}}`` (``effects``: each run's effect size, None where it
        could not test; ``true_by_construction``: True, the pwl sessions have the structure
        the claims test, so a low rate is low power).
    """
    out: dict[str, dict[str, Any]] = {}
    by_generator: dict[str, list[dict]] = {}
    for record in sorted(records.values(), key=lambda r: (r["generator"], r["seed"])):
        by_generator.setdefault(record["generator"], []).append(record)
    positive = by_generator.get("pwl", [])
    for control, claims in MUST_FAIL.items():
        for claim in claims:
            if control in MODEL_CONTROLS:
                found = [r["model_controls"].get(control, {}) for r in positive]
                pairs = [(r["seed"], f.get(claim)) for r, f in zip(positive, found, strict=True)]
            else:
                pairs = [(r["seed"], r["claims"].get(claim)) for r in by_generator.get(control, [])]
            entry = out.setdefault(claim, {"controls": {}, "power": None})
            entry["controls"][control] = _outcomes(pairs, untested_if_unfit=True)
    for claim in {c for r in positive for c in r["claims"]}:
        pairs = [(r["seed"], r["claims"].get(claim)) for r in positive]
        power = _outcomes(pairs)
        power["rate"] = power.pop("false_positive_rate")
        power["true_by_construction"] = True  # the pwl generator has what the claims test
        out.setdefault(claim, {"controls": {}, "power": None})["power"] = power
    return out


def _outcomes(pairs: list[tuple[int, dict | None]], untested_if_unfit=False) -> dict[str, Any]:
    """Outcomes, effects and their rate; with ``untested_if_unfit`` (controls) a claim that
    failed only because the control's model does not fit counts as untested, not as a pass."""

    def untested(r: dict) -> bool:
        return untested_if_unfit and r.get("model_fits", True) is False

    pairs = [(seed, None if r is None or untested(r) else r) for seed, r in pairs]
    holds = [None if r is None else r.get("holds") for _, r in pairs]
    effects = [None if r is None or r.get("holds") is None else r.get("effect") for _, r in pairs]
    return {"seeds": [seed for seed, _ in pairs], "holds": holds, "effects": effects, **rate(holds)}


def session_model_controls(ds, outcome: ss.SessionOutcome, s: StimulusSettings, *, seed: int):
    """The model controls on the reproduction's own session: control -> claim -> holds (None
    where the control's model does not fit: no test of the claim)."""
    controls = ss.model_control_claims(ds, outcome, s, seed=seed)
    return {
        control: {
            k: v.holds if v.model_fits else None
            for k, v in claims.items()
            if k in MUST_FAIL[control]
        }
        for control, claims in controls.items()
    }

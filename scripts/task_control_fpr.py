"""False-positive rates of the task claims' untrained controls over many data seeds.

``reproduce tasks`` runs each control on ``settings.control_seeds`` (quick: 5), enough to
flag a claim but a coarse estimate: with a true false-positive rate of 0.05, one hit in five
(rate 0.2 > alpha + 0.05, "uncalibrated") happens about 23 % of the time. This script reruns
the untrained controls of a finished reproduction on more data seeds (default 4001-4040, away
from the reproduction's own) and prints each claim's rate with a Clopper-Pearson interval::

    python scripts/task_control_fpr.py repro/tasks                  # about 3 min (quick)
    python scripts/task_control_fpr.py repro/tasks --n-seeds 100 --json fpr.json

The linear-model control is not here: it uses the reproduction's own trained P = 0 networks,
whose number (the model seeds) is fixed by the sweep.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

from scipy.stats import beta

from alrnn_neuro.reproduce import task_controls as tctl
from alrnn_neuro.reproduce.settings import TaskSpec, task_settings
from alrnn_neuro.reproduce.tasks import MULTITASK, generate_task
from alrnn_neuro.training.config import FitConfig


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of k successes in n trials."""
    tail = (1 - level) / 2
    lower = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return lower, upper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder of a finished `reproduce tasks`")
    parser.add_argument("--first-seed", type=int, default=4001)
    parser.add_argument("--n-seeds", type=int, default=40)
    parser.add_argument("--tasks", nargs="*", default=None, help="default: all, and the suite")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    record = json.loads((args.out / "reproduce.json").read_text())
    settings = task_settings(record["setting"])
    if settings.to_dict() != {**record["settings"], "workers": settings.workers}:
        raise SystemExit(f"{args.out} was run with other {record['setting']!r} settings")
    specs = {**settings.tasks, MULTITASK: settings.multitask}
    seeds = list(range(args.first_seed, args.first_seed + args.n_seeds))
    results = {}
    for task in args.tasks or [*settings.tasks, MULTITASK, "multitask_sharing"]:
        started = time.perf_counter()
        sweep_dir = args.out / "tasks" / (MULTITASK if task == "multitask_sharing" else task)
        spec: TaskSpec = specs[MULTITASK if task == "multitask_sharing" else task]
        make = partial(generate_task, MULTITASK if task == "multitask_sharing" else task, spec)
        if task == "multitask_sharing":
            found = tctl.untrained_sharing_outcomes(sweep_dir / "sweep", make, seeds)
        else:
            base = FitConfig.from_dict(record["fit_config"][task])
            found = tctl.untrained_task_outcomes(
                make, base, spec.pwl_units, settings.n_seeds, seeds
            )
        entry = tctl.control_entry(found)
        entry["ci95"] = clopper_pearson(entry["n_holds"], entry["n"]) if entry["n"] else None
        entry["seconds"] = time.perf_counter() - started
        results[task] = entry
        ci = "" if entry["ci95"] is None else " (95% CI {:.3f}-{:.3f})".format(*entry["ci95"])
        print(
            f"{task}: untrained control holds {entry['n_holds']} of {entry['n']}{ci}, "
            f"{entry['seconds']:.0f} s"
        )
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "results": results}, indent=1))


if __name__ == "__main__":
    main()

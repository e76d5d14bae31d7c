"""Tiny helpers shared by the benchmark scripts (scripts, not tests; printing is their job).

Every benchmark script

* takes ``--json PATH`` (and nothing else it must have),
* prints one line per figure, ``name: value``,
* with ``--json`` writes the same figures as one flat JSON object ``{name: number}``.

Example
-------
>>> figures = {"demo_seconds": 0.5}
>>> report(figures, None)
demo_seconds: 0.5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.training.allocator import ENV_SWITCH, keep_freed_memory


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``--json PATH`` (optional); extend the returned namespace as needed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the figures as flat JSON here"
    )
    return parser.parse_args(argv)


def add_allocator_option(parser: argparse.ArgumentParser) -> None:
    """``--default-allocator``: measure without the fit's allocator setting."""
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave glibc malloc at its defaults (a fit keeps freed memory for reuse, see "
        "alrnn_neuro.training.allocator); compare the two in separate runs",
    )


def apply_allocator(args: argparse.Namespace) -> dict[str, int]:
    """Apply the fit's allocator setting unless ``--default-allocator``; its figure."""
    if args.default_allocator:
        os.environ[ENV_SWITCH] = "0"
    return {"keeps_freed_memory": int(keep_freed_memory())}


def time_call(
    fn: Callable[[], object], *, repeat: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median seconds of ``repeat`` calls of ``fn``.

    ``clock=time.perf_counter`` (default) measures wall time; ``clock=time.process_time``
    measures the CPU time of this process, which stays meaningful when other jobs share the
    cores.
    """
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def report(figures: Mapping[str, float], json_path: str | None) -> None:
    """Print ``name: value`` lines; write ``{name: value}`` to ``json_path`` when given."""
    for name, value in figures.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"figure {name!r} = {value!r} is not a number")
        if not math.isfinite(value):
            raise ValueError(f"figure {name!r} = {value!r} is not finite")
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name}: {shown}")
    if json_path:
        with atomic_path(Path(json_path)) as tmp:
            tmp.write_text(json.dumps(dict(figures), indent=2, sort_keys=True) + "\n")

"""Options shared by several commands, with their ranges checked by Typer (usage error)."""

from __future__ import annotations

import os

import typer

#: seeds must fit a signed 64-bit integer (numpy and torch generators)
SEED_MAX = 2**63 - 1

OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")


def seed_option(default: int | None, help: str, name: str = "--seed") -> typer.Option:  # noqa: A002
    """A seed option limited to 0 .. 2**63 - 1."""
    return typer.Option(default, name, min=0, max=SEED_MAX, help=help)


def max_threads() -> int:
    """CPU cores this process may use (the upper bound of every threads/workers option)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)

"""Options shared by several commands, with their ranges checked by Typer (usage error)."""

from __future__ import annotations

import os

import typer

from alrnn_neuro._resampling import MIN_N_BOOT
from alrnn_neuro.errors import ConfigError

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


def check_n_boot(n_boot: int | None, default: int) -> None:
    """Refuse an ``--n-boot`` that gives no usable interval: negative, or 1 .. ``MIN_N_BOOT`` - 1.

    0 means no CI and None the command's default (``default``, named in the message); both
    pass. The rule is the library's (:func:`alrnn_neuro._resampling.check_n_boot`: below
    :data:`~alrnn_neuro._resampling.MIN_N_BOOT` a percentile bound rests on one or two
    resamples), said here in terms of the flag.
    """
    if n_boot is None or n_boot == 0 or n_boot >= MIN_N_BOOT:
        return
    problem = "is negative" if n_boot < 0 else "is too few bootstrap resamples for a CI"
    raise ConfigError(
        f"--n-boot {n_boot} {problem} (a percentile interval needs >= {MIN_N_BOOT}); fix: "
        f"--n-boot {MIN_N_BOOT} or more (default: {default}), or --n-boot 0 for no CI"
    )

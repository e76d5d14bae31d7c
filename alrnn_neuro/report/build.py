"""Assemble the report: discover inputs, build each section, write one self-contained HTML."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from alrnn_neuro import __version__
from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.errors import AlrnnNeuroError
from alrnn_neuro.report import analysis_sections as an
from alrnn_neuro.report import meta_sections as meta
from alrnn_neuro.report.baseline_section import baseline_section
from alrnn_neuro.report.cost_section import cost_section
from alrnn_neuro.report.discover import LOOKED_FOR, Inputs, discover
from alrnn_neuro.report.html import Section, page
from alrnn_neuro.report.multitask_section import multitask_section
from alrnn_neuro.report.sweep_sections import sweep_section, tasks_section

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
#: errors of one unreadable input: that section is skipped with a note, the others go on
SECTION_ERRORS = (AlrnnNeuroError, OSError, ValueError, KeyError, TypeError)


@dataclass
class Report:
    """A rendered report.

    Attributes
    ----------
    html : str
        The whole document.
    sections : list of str
        Keys of the sections included, in order.
    skipped : list of (str, str)
        Sections left out and why.
    """

    html: str
    sections: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


#: report sections drawn from an output that :func:`discover` may leave out as stale
SOURCE_OF = {"regimes": "analysis", "primitives": "analysis", "rsa": "rsa"}


def _builders(found: Inputs) -> list[tuple[str, str, Callable[[], Section] | None]]:
    """(key, title, builder or None when the input is absent), in report order."""
    a = found.analysis
    primitives = a if a is not None and (a / "primitives.json").is_file() else None
    parts = [
        ("sweep", "Nonlinearity sweep", sweep_section, found.sweep),
        ("tasks", "Per-task sweeps", tasks_section, found.tasks),
        ("multitask", "Multi-task region sharing", multitask_section, found.multitask),
        ("cost", "Cost of nonlinearity vs P", cost_section, found.cost),
        ("baselines", "Sparse P vs fully nonlinear networks", baseline_section, found.baselines),
        ("run", "Fitted model", meta.run_section, found.run),
        ("regimes", "Regimes and task epochs", an.regimes_section, a),
        ("primitives", "Computational primitives", an.primitives_section, primitives),
        ("rsa", "RSA by epoch", an.rsa_section, found.rsa),
    ]
    return [(key, title, partial(f, arg) if arg else None) for key, title, f, arg in parts]


def build_report(directory: str | os.PathLike) -> Report:
    """Render the report of whatever ``directory`` holds (see :mod:`alrnn_neuro.report`).

    Raises
    ------
    RunDirError
        If ``directory`` is not a folder or holds none of the known inputs.
    """

    found = discover(directory)
    done: list[Section] = []
    skipped: list[tuple[str, str]] = []

    def attempt(key: str, title: str, build: Callable[[], Section] | None) -> None:
        if build is None:
            stale = found.stale.get(SOURCE_OF.get(key, ""))
            why = f"left out: {stale}" if stale else f"absent (looked for {LOOKED_FOR[key]})"
            skipped.append((title, why))
            return
        try:
            done.append(build())
        except SECTION_ERRORS as error:
            logger.warning("report section %s skipped: %s", key, error)
            logger.debug("traceback of report section %s", key, exc_info=True)
            skipped.append((title, f"could not be read: {type(error).__name__}: {error}"))

    claims: list[Section] = []
    if found.reproduce is not None:
        try:
            claims.append(meta.claims_section(found.reproduce))
        except SECTION_ERRORS as error:
            skipped.append(("Claims", f"reproduce.json could not be read: {error}"))
    else:
        skipped.append(("Claims", f"absent (looked for {LOOKED_FOR['claims']})"))
    for key, title, build in _builders(found):
        attempt(key, title, build)
    config = meta.config_section(found.reproduce, found.run, found.sweep, __version__)
    sections = [*claims, *([meta.skipped_section(skipped)] if skipped else []), *done, config]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"alrnn-neuro report: {Path(directory).resolve().name}"
    subtitle = f"{Path(directory).resolve()} - written {stamp} by alrnn-neuro {__version__}"
    return Report(page(title, subtitle, sections), [s.key for s in sections], skipped)


def write_report(directory: str | os.PathLike, *, out: str | os.PathLike | None = None) -> Path:
    """Write ``report.html`` (self-contained: figures, CSS inline; no scripts, no network).

    Parameters
    ----------
    directory : str or PathLike
        A reproduce output folder, a sweep folder, a run dir, or an analysis / RSA folder.
    out : str or PathLike, optional
        Where to write (default ``directory/report.html``).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    RunDirError
        If ``directory`` is not a folder or holds none of the known inputs.
    """
    return save_report(build_report(directory), directory, out=out)


def save_report(
    report: Report, directory: str | os.PathLike, *, out: str | os.PathLike | None = None
) -> Path:
    """Write a built :class:`Report` atomically to ``out`` (default ``directory/report.html``)."""
    path = Path(out) if out is not None else Path(directory) / REPORT_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(report.html, encoding="utf-8")
    logger.info("report written to %s (%s)", path, ", ".join(report.sections))
    return path

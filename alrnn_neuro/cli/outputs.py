"""Checks every writing command makes on its ``--out`` before doing any work."""

from __future__ import annotations

from pathlib import Path

from alrnn_neuro._atomic import check_output_path
from alrnn_neuro.errors import OutputError


def refuse_existing_file(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` file that exists (unless ``overwrite``) or is not a regular file.

    Raises
    ------
    OutputError
        ``out`` is a link, device, fifo or socket; a folder; or an existing file without
        ``overwrite``.
    """
    check_output_path(out)
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; fix: give the path of a file")
    if out.exists() and not overwrite:
        raise OutputError(
            f"--out {out} already exists; fix: pass --overwrite to replace it, or choose "
            "another --out"
        )


def refuse_earlier_output(out: Path, overwrite: bool, names: tuple[str, ...], what: str) -> None:
    """Refuse an ``--out`` folder holding an earlier ``what`` (any of ``names``) unless
    ``overwrite``; refuse a file, link or special file there in any case."""
    check_output_path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; fix: give a folder path")
    earlier = [n for n in names if (out / n).exists()]
    if earlier and not overwrite:
        raise OutputError(
            f"--out {out} already holds {what} ({', '.join(earlier[:3])}); fix: pass "
            "--overwrite to replace it, or choose another --out"
        )

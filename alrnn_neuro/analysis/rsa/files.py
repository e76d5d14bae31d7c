"""Write an RSA result folder: ``rsa.nc``, ``rsa.json`` and (optionally) figures, atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from alrnn_neuro._atomic import write_entries
from alrnn_neuro.data.h5 import write_netcdf
from alrnn_neuro.errors import FileFormatError

__all__ = ["write_rsa_outputs"]


def write_rsa_outputs(
    target: str | os.PathLike,
    rsa: xr.Dataset,
    summary: dict,
    *,
    draw: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``rsa.nc``, ``rsa.json`` (and figures) into ``target`` all at once.

    Everything is written into a staging folder first and moved in when complete
    (:func:`~alrnn_neuro._atomic.write_entries`); the files of an earlier RSA in ``target``
    are replaced, other files there kept; an existing folder without an RSA is refused.

    Parameters
    ----------
    target : str or PathLike
        Output folder.
    rsa : xr.Dataset
        RDMs and comparison table (:func:`~alrnn_neuro.analysis.rsa.pipeline.run_rsa`).
    summary : dict
        JSON-ready settings and rows.
    draw : callable, optional
        ``draw(folder)`` writes figures into the folder (e.g.
        ``lambda f: save_rsa_figures(rsa, f)`` from :mod:`alrnn_neuro.plotting.rsa`).

    Returns
    -------
    Path
        ``target``.
    """
    target = Path(target)
    if target.exists() and not (target / "rsa.json").is_file():
        if not target.is_dir() or any(target.iterdir()):
            raise FileFormatError(
                f"out = {str(target)!r} exists and holds no earlier RSA; fix: choose another "
                "--out or remove it"
            )

    def fill(folder: Path) -> None:
        write_netcdf(rsa, folder / "rsa.nc")
        (folder / "rsa.json").write_text(json.dumps(summary, indent=1, allow_nan=False))
        if draw is not None:
            draw(folder)

    write_entries(target, fill)  # an earlier RSA's files replaced, anything else kept
    return target

"""Figure files that are the same bytes on every run, written atomically.

matplotlib stamps each SVG with the date (``<dc:date>``) and names its elements with random
ids, so two runs of the same analysis wrote different SVGs (the PNGs and data files were
identical). Here the date is left out and the ids are drawn from a fixed salt.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from alrnn_neuro._atomic import atomic_path

#: seed of matplotlib's SVG element ids (``svg.hashsalt``)
SVG_SALT = "alrnn-neuro"


def save_png_and_svg(
    fig: Figure,
    stem: Path,
    *,
    png_dpi: float,
    svg_dpi: float | None = None,
    svg_text: bool = False,
) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg``; return the two paths.

    Parameters
    ----------
    fig : Figure
    stem : Path
        Path without the suffix.
    png_dpi : float
        Resolution of the PNG.
    svg_dpi : float, optional
        Resolution of raster parts of the SVG (default: the figure's).
    svg_text : bool
        Keep SVG text as text (small, editable files) instead of glyph paths.
    """
    paths = [stem.with_name(f"{stem.name}.png"), stem.with_name(f"{stem.name}.svg")]
    settings = {"svg.hashsalt": SVG_SALT, **({"svg.fonttype": "none"} if svg_text else {})}
    with matplotlib.rc_context(settings):
        for path, dpi in zip(paths, (png_dpi, svg_dpi), strict=True):
            kind = path.suffix[1:]
            with atomic_path(path) as tmp:
                fig.savefig(
                    tmp, format=kind, dpi=dpi, metadata={"Date": None} if kind == "svg" else None
                )
    return paths

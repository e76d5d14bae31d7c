"""Small HTML builders for the self-contained report: escaping, tables, embedded figures.

Everything returned here is an HTML fragment (``str``); every piece of text that comes from a
file or a dataset passes through :func:`esc`. Figures are embedded as base64 data URIs (PNG,
or SVG when only an SVG exists), so the page needs no network, no JavaScript and no other file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:1em 2em 3em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0a7d22;font-weight:bold}.no{color:#b3261e;font-weight:bold}.na{color:#777}
.note{color:#555;font-size:.92em}.meta{color:#666;font-size:.9em}
figure{margin:.8em 0;display:inline-block;vertical-align:top}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
nav ul{columns:2;font-size:.92em}details{margin:.5em 0}summary{cursor:pointer;color:#333}
code{background:#f5f5f5;padding:0 .25em}
"""


def esc(value: Any) -> str:
    """HTML-escaped text of ``value`` (quotes too)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """Plain text of a table value: floats to ``digits`` significant digits, None to ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if 1e3 <= abs(value) < 1e7:
            return f"{value:.0f}"
        return f"{value:.{digits}g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return str(value)


def mark(holds: Any) -> str:
    """✓ / ✗ / n.a. for True / False / anything else."""
    if holds is True:
        return '<span class="ok">✓</span>'
    if holds is False:
        return '<span class="no">✗</span>'
    return '<span class="na">n.a.</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped and formatted with :func:`fmt` except columns ``raw``
    (already HTML, e.g. from :func:`mark`)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for k, value in enumerate(row):
            if k in raw:
                cells.append(f"<td>{value}</td>")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f'<td class="num">{esc(fmt(value))}</td>')
            else:
                cells.append(f"<td>{esc(fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(mapping: dict[str, Any]) -> str:
    """Two-column table of a flat mapping (nested values shown as compact text)."""
    return table(["key", "value"], [(k, _compact(v)) for k, v in mapping.items()])


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    return value


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def img(data: bytes, caption: str = "", *, mime: str = "image/png") -> str:
    """A ``<figure>`` with the image embedded as a base64 data URI and an escaped caption."""
    encoded = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(caption)}" src="data:{mime};base64,{encoded}">{cap}</figure>'


def img_figure(fig: Figure, caption: str = "") -> str:
    """:func:`img` of a freshly drawn matplotlib figure."""
    return img(figure_png(fig), caption)


def img_file(path: Path, caption: str | None = None) -> str:
    """:func:`img` of a PNG or SVG file on disk."""
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    return img(path.read_bytes(), path.stem if caption is None else caption, mime=mime)


def note(text: str) -> str:
    """A one-line grey note (escaped)."""
    return f'<p class="note">{esc(text)}</p>'


@dataclass
class Section:
    """One top-level part of the report.

    Attributes
    ----------
    key : str
        Short id (anchor and the name the CLI prints).
    title : str
        Heading text.
    body : list of str
        HTML fragments, in order.
    """

    key: str
    title: str
    body: list[str] = field(default_factory=list)

    def add(self, fragment: str) -> Section:
        """Append an HTML fragment; return self."""
        self.body.append(fragment)
        return self

    def render(self) -> str:
        """The ``<section>`` element."""
        content = "\n".join(self.body)
        return f'<section id="{esc(self.key)}">\n<h2>{esc(self.title)}</h2>\n{content}\n</section>'


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document: inline CSS, a table of contents (in-page links) and the sections."""
    toc = "".join(f'<li><a href="#{esc(s.key)}">{esc(s.title)}</a></li>' for s in sections)
    parts = "\n".join(s.render() for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<h1>{esc(title)}</h1>\n<p class="meta">{esc(subtitle)}</p>\n'
        f"<nav><ul>{toc}</ul></nav>\n{parts}\n</body>\n</html>\n"
    )

"""Text from data files, drawn as is: never parsed as matplotlib mathtext.

Labels come from users' files (epoch names, condition values, areas, tasks); a ``$`` in one of
them would switch matplotlib to mathtext, and ``$\\foo{$`` makes drawing fail. Every label taken
from data passes through :func:`literal` before it is drawn.
"""

from __future__ import annotations


def literal(text: object) -> str:
    """``str(text)`` with every ``$`` escaped, so matplotlib draws it literally.

    Examples
    --------
    >>> literal("cue $x$")
    'cue \\\\$x\\\\$'
    """
    return str(text).replace("$", r"\$")

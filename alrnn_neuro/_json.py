"""JSON helpers shared by run directories and analysis outputs."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value``: numpy to Python, NaN / inf to ``None``, keys to ``str``.

    Examples
    --------
    >>> to_jsonable({"a": np.float64("nan"), 1: np.arange(2)})
    {'a': None, '1': [0, 1]}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    """Strict JSON text (no NaN) of :func:`to_jsonable` of ``value``, newline-terminated."""
    return json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n"

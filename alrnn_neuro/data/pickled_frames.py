"""Rebuild the columns of a pickled pandas DataFrame from its inert records.

:func:`alrnn_neuro.data.safe_pickle.load_pickle` never constructs pandas objects: a pickled
frame comes back as :class:`~alrnn_neuro.data.safe_pickle.PickledFrame` records holding plain
arrays (old and new pandas block layouts). :func:`frame_columns` turns them into
``{column: array}``, :func:`index_values` an index into an array.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from alrnn_neuro.data.safe_pickle import (
    PickledFrame,
    PickledIndex,
    PickledRangeIndex,
    PickledRecord,
)
from alrnn_neuro.errors import FileFormatError


def frame_columns(obj: Any, path: str | os.PathLike = "") -> dict[str, np.ndarray]:
    """The columns of a pickled data frame as numpy arrays, in column order.

    Parameters
    ----------
    obj : PickledFrame or dict
        What :func:`load_pickle` returned: a pandas frame (pandas 0.10's ``BlockManager``
        state ``(axes, block_values, block_items)``, or pandas >= 1 with numpy-backed blocks)
        or a plain dict of column name -> 1-D array.
    path : str or PathLike
        The file, for messages.

    Returns
    -------
    dict of str to ndarray, shape (row,)

    Raises
    ------
    FileFormatError
        ``obj`` is neither, or its layout is not one of the two above.
    """
    if isinstance(obj, dict) and not isinstance(obj, PickledRecord):
        return {str(k): np.asarray(v).reshape(-1) for k, v in obj.items()}
    if not isinstance(obj, PickledFrame):
        raise FileFormatError(
            f"{path}: holds a {type(obj).__name__}, not a table; expected a pandas DataFrame "
            "or a dict of columns"
        )
    try:
        manager = obj.state
        if isinstance(manager, dict):
            manager = manager.get("_mgr", manager.get("_data"))
        if manager.state is None:  # pandas >= 1: BlockManager(blocks, axes), blocks hold locs
            blocks, axes = manager.args[:2]
            columns = [str(c) for c in index_values(axes[0])]
            block_values = [b.args[0] for b in blocks]
            block_items = [np.asarray(columns)[_locations(b.args[1])] for b in blocks]
        else:  # pandas 0.10: state (axes, block values, block items)
            axes, block_values, block_items = manager.state[:3]
            columns = [str(c) for c in index_values(axes[0])]
        n_rows = len(index_values(axes[1]))
        found: dict[str, np.ndarray] = {}
        for values, items in zip(block_values, block_items, strict=True):
            names = [str(c) for c in index_values(items)]
            block = np.asarray(values).reshape(len(names), n_rows)
            found.update(zip(names, block, strict=True))
        return {name: found[name] for name in columns}
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:
        raise FileFormatError(
            f"{path}: a pandas frame in a layout this reader does not know "
            f"({type(error).__name__}: {error}); fix: save the table as a dict of numpy "
            "columns or as CSV"
        ) from error


def _locations(locs: Any) -> Any:
    """Column positions of a block: a slice or an integer array."""
    return locs if isinstance(locs, slice) else np.asarray(locs, dtype=np.int64)


def index_values(index: Any) -> np.ndarray:
    """The labels of a pickled pandas index (or an array / list) as a numpy array."""
    if isinstance(index, PickledRangeIndex):
        state = index.state
        return np.arange(state.get("start", 0), state["stop"], state.get("step", 1))
    if isinstance(index, PickledIndex):
        state = index.state
        if isinstance(state, dict):  # pandas >= 1: _new_Index(cls, {"data": ..., "name": ...})
            return np.asarray(state["data"])
        array = np.ndarray.__new__(np.ndarray, (0,), "b")  # pandas 0.10: (ndarray state, name)
        array.__setstate__(state[0] if isinstance(state[0], tuple) else state)
        return array
    if isinstance(index, PickledRecord):
        raise TypeError(f"a pandas {index.kind} is not an index")
    return np.asarray(index)

"""Unit ids are labels, never numbers: read them as text, reject missing ones, order them.

``01``, ``1`` and ``007`` name three different units, so the event-recording readers keep every
unit id exactly as written (:func:`read_csv_with_text`) and refuse blank or NaN ids
(:func:`check_ids`) instead of inventing a unit ``"nan"``. :func:`unit_codes` turns the unit
label of each spike into sorted unit ids and an index per spike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alrnn_neuro.errors import DataValidationError

# pandas' default NA strings; applied to every CSV column except the id columns
NA_TEXT = (
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
)


def read_csv_with_text(file: Path, text_columns: Sequence[str]) -> pd.DataFrame:
    """Read a CSV file, keeping ``text_columns`` as the exact text of each cell.

    Parameters
    ----------
    file : Path
        CSV file with a header line.
    text_columns : sequence of str
        Columns read as str, exactly as written (``"01"`` stays ``"01"``, a blank cell is
        ``""``, ``"NA"`` is the text ``"NA"``); absent ones are ignored. Every other column is
        parsed as :func:`pandas.read_csv` does by default.

    Returns
    -------
    DataFrame
        One row per data line.
    """
    header = pd.read_csv(file, nrows=0).columns
    text = [name for name in header if name in text_columns]
    return pd.read_csv(
        file,
        dtype=dict.fromkeys(text, str),
        keep_default_na=False,
        na_values={name: list(NA_TEXT) for name in header if name not in text},
    )


def missing_ids(values: object) -> np.ndarray:
    """Boolean mask of entries that are not an id: None, NaN, ``pd.NA`` or blank text.

    Examples
    --------
    >>> missing_ids(np.array(["a", "", None, "  ", "0"], dtype=object)).tolist()
    [False, True, True, True, False]
    """
    array = np.asarray(values)
    if array.dtype.kind in "biu":
        return np.zeros(array.shape, bool)
    if array.dtype.kind in "fc":
        return np.isnan(array)
    flat = array.ravel().tolist()
    mask = [v is None or v is pd.NA or (isinstance(v, str) and not v.strip()) for v in flat]
    mask = [m or (isinstance(v, float) and np.isnan(v)) for m, v in zip(mask, flat, strict=True)]
    return np.array(mask, dtype=bool).reshape(array.shape)


def check_ids(values: object, what: str, *, rows: str = "row", first: int = 0, fix: str) -> None:
    """Raise a :class:`DataValidationError` naming the entries of ``values`` that are missing.

    Parameters
    ----------
    values : array-like (n,)
        Unit ids, one per spike or per unit.
    what : str
        The field, e.g. ``"spikes.csv column 'unit'"``.
    rows : str
        What one position is called in the message (``"line"``, ``"spike"``).
    first : int
        Number shown for position 0 (2 for the first data line of a CSV file).
    fix : str
        How to repair the input.

    Raises
    ------
    DataValidationError
        If any entry is None, NaN or blank text.

    Examples
    --------
    >>> check_ids(["a", ""], "spikes.csv column 'unit'", rows="line", first=2, fix="an id")
    Traceback (most recent call last):
    ...
    alrnn_neuro.errors.DataValidationError: spikes.csv column 'unit' is blank or NaN on line 3; \
fix: an id
    """
    bad = np.flatnonzero(missing_ids(values)) + first
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:10])
        more = f" ... ({bad.size} in all)" if bad.size > 10 else ""
        plural = "s" if bad.size > 1 else ""
        raise DataValidationError(
            f"{what} is blank or NaN on {rows}{plural} {shown}{more}; fix: {fix}"
        )


def natural_key(unit: str) -> tuple[int, int, str]:
    """Sort key: ids of ASCII digits by number (ties by text), then every other id by text.

    Examples
    --------
    >>> sorted(["10", "b", "2", "01", "1", "a"], key=natural_key)
    ['01', '1', '2', '10', 'a', 'b']
    """
    if unit.isascii() and unit.isdigit():
        return 0, int(unit), unit
    return 1, 0, unit


def unit_codes(labels: object) -> tuple[list[str], np.ndarray]:
    """Unit ids (str, sorted) and the index of each spike's unit among them.

    Numeric labels sort by value; text labels by :func:`natural_key`. Labels that differ but
    read the same as text (``1`` and ``"1"``) are an error, as are missing ones.

    Parameters
    ----------
    labels : array-like (spike,)
        Unit label of each spike (str, int, float).

    Returns
    -------
    units : list of str (unit,)
    index : ndarray of int (spike,)

    Raises
    ------
    DataValidationError
        Missing labels, or labels that collide as text.

    Examples
    --------
    >>> units, index = unit_codes(["07", "7", "07", "a"])
    >>> units, index.tolist()
    (['07', '7', 'a'], [0, 1, 0, 2])
    """
    array = np.asarray(labels)
    check_ids(array, "the spike table's column 'unit'", fix="give the unit id of every spike")
    if array.dtype.kind in "biuf":
        names, index = np.unique(array, return_inverse=True)
        return [str(n) for n in names], index.ravel()
    text = np.array([str(v) for v in array.ravel().tolist()], dtype=str)
    names, index = np.unique(text, return_inverse=True)
    if names.size != len(pd.unique(pd.Series(array.ravel(), dtype=object))):
        raise DataValidationError(
            f"unit ids {names[:10].tolist()} mix labels that read the same as text (e.g. 1 and "
            "'1'); fix: give each unit one id, all as str"
        )
    order = sorted(range(names.size), key=lambda i: natural_key(str(names[i])))
    rank = np.empty(names.size, np.int64)
    rank[order] = np.arange(names.size)
    return [str(names[i]) for i in order], rank[index.ravel()]

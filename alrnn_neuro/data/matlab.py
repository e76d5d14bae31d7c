"""Read MATLAB ``.mat`` files (v4/v5/v7 via scipy, v7.3 via h5py) into plain Python objects.

Both readers return the same normalised structure (as ``scipy.io.loadmat(squeeze_me=True)``
would, with MATLAB objects turned into plain Python):

===================  =============================================================
MATLAB               Python
===================  =============================================================
numeric / logical    ``numpy.ndarray`` in native byte order, singleton dims squeezed;
                     a 1x1 value becomes a Python scalar; an empty array has shape (0,)
char                 ``str`` (a multi-row char matrix: ``list`` of ``str``, one per row)
struct (1x1)         ``dict`` field name -> value, in MATLAB field order
struct array, cell   ``list`` when 1-D (after squeezing), otherwise an object
                     ``numpy.ndarray`` of converted elements; a 1x1 cell is its element;
                     an empty cell/struct array is ``[]``
sparse               ``scipy.sparse.csc_matrix``
===================  =============================================================

NaNs come back as quiet NaNs (files from old SGI machines store signalling NaNs, which make
numpy warn on arithmetic). Known difference: scipy returns MATLAB ``logical`` arrays of v5
files as ``uint8``; the v7.3 reader returns ``bool`` (equal values). Top-level variables
come in file order for v5 and in HDF5 (alphabetical) order for v7.3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io
import scipy.sparse

from alrnn_neuro.errors import FileFormatError

_V73_MAGIC = b"MATLAB 7.3 MAT-file"
_SKIP_GROUPS = ("#refs#", "#subsystem#")
_MATLAB_DTYPES = {
    "double": np.float64,
    "single": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "logical": np.bool_,
}


def load_mat(path: str | os.PathLike) -> dict[str, Any]:
    """Read a MATLAB ``.mat`` file (v4, v5/v7 or v7.3) into a dict of plain Python values.

    Parameters
    ----------
    path : str or PathLike
        The ``.mat`` file.

    Returns
    -------
    dict
        Variable name -> value, converted as described in the module docstring
        (structs -> dict, cells -> list / object array, char -> str, numbers -> ndarray).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FileFormatError
        If ``path`` is a folder or not a MATLAB MAT-file.

    Examples
    --------
    >>> import pathlib, tempfile, scipy.io
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.mat"
    >>> scipy.io.savemat(path, {"s": {"name": "dots", "coh": [0.0, 3.2]}})
    >>> load_mat(path)
    {'s': {'name': 'dots', 'coh': array([0. , 3.2])}}
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such MAT-file; fix: check the path")
    if file.is_dir():
        raise FileFormatError(f"{file}: is a folder, expected a MATLAB .mat file")
    if h5py.is_hdf5(file):
        with open(file, "rb") as handle:
            header = handle.read(128)
        if not header.startswith(_V73_MAGIC):
            raise FileFormatError(
                f"{file}: an HDF5 file without the 'MATLAB 7.3 MAT-file' header; expected a "
                "MATLAB .mat file (v5 or v7.3); fix: save it from MATLAB with save(..., '-v7.3')"
            )
        return _read_v73(file)
    return _read_v5(file)


def _read_v5(file: Path) -> dict[str, Any]:
    """Read a v4/v5/v7 file with scipy and normalise the result."""
    try:
        raw = scipy.io.loadmat(file, squeeze_me=True, struct_as_record=False)
    except Exception as error:  # scipy raises ValueError, TypeError, OSError, ... on bad files
        raise FileFormatError(
            f"{file}: not a readable MATLAB MAT-file ({type(error).__name__}: {error}); "
            "expected a MATLAB v5/v7 or v7.3 .mat file; fix: check that the file is a .mat "
            "file written by MATLAB or scipy.io.savemat"
        ) from error
    return {key: _normalise(value) for key, value in raw.items() if not key.startswith("__")}


def _normalise(value: Any) -> Any:
    """Turn scipy/numpy MATLAB objects into plain Python (see the module docstring)."""
    if isinstance(value, scipy.io.matlab.mat_struct):
        return {name: _normalise(getattr(value, name)) for name in value._fieldnames}
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if scipy.sparse.issparse(value):
        return scipy.sparse.csc_matrix(value)
    if isinstance(value, np.generic):
        return _normalise(value.item())
    if isinstance(value, float) and np.isnan(value):
        return float("nan")  # a quiet NaN (old SGI files store signalling NaNs)
    if not isinstance(value, np.ndarray):
        return value
    if value.ndim == 0:
        return _normalise(value.item())
    if value.dtype == object:
        if value.size == 0:
            return []
        converted = [_normalise(item) for item in value.ravel()]
        if value.ndim == 1:
            return converted
        out = np.empty(len(converted), dtype=object)
        out[:] = converted
        return out.reshape(value.shape)
    if value.dtype.kind == "U":
        return [str(item) for item in value.ravel()]
    if value.size == 0:
        return np.empty(0, dtype=value.dtype.newbyteorder("="))
    value = value.astype(value.dtype.newbyteorder("="), copy=False)
    if value.dtype.kind in "fc" and np.isnan(value).any():
        value = np.where(np.isnan(value), np.nan, value).astype(value.dtype)
    return value


def _read_v73(file: Path) -> dict[str, Any]:
    """Read a v7.3 (HDF5) MAT-file with h5py."""
    try:
        with h5py.File(file, "r") as handle:
            return {
                name: _normalise(_read_node(handle, handle[name]))
                for name in handle
                if name not in _SKIP_GROUPS
            }
    except FileFormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise FileFormatError(
            f"{file}: could not read as a MATLAB 7.3 MAT-file ({type(error).__name__}: {error}); "
            "expected the HDF5 layout MATLAB writes with save(..., '-v7.3')"
        ) from error


def _matlab_class(node: h5py.HLObject) -> str:
    value = node.attrs.get("MATLAB_class", b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_node(handle: h5py.File, node: h5py.HLObject) -> Any:
    """Convert one HDF5 node written by MATLAB into scipy-like (squeezed) values."""
    cls = _matlab_class(node)
    if isinstance(node, h5py.Group):
        if node.attrs.get("MATLAB_sparse") is not None:
            return _read_sparse(node, cls)
        return _read_struct(handle, node)
    if node.attrs.get("MATLAB_empty", 0):
        return _empty(cls)
    data = node[()]
    if node.dtype == h5py.ref_dtype:
        cells = np.empty(data.shape, dtype=object)
        for index, ref in np.ndenumerate(data):
            cells[index] = _read_node(handle, handle[ref])
        return _squeeze(cells.T)
    if cls == "char":
        return _decode_chars(np.asarray(data))
    if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):
        data = data["real"] + 1j * data["imag"]
    array = np.asarray(data)
    if cls in _MATLAB_DTYPES:
        array = array.astype(_MATLAB_DTYPES[cls])
    return _squeeze(array.T)


def _read_struct(handle: h5py.File, group: h5py.Group) -> Any:
    """A 1x1 struct -> dict; a struct array (fields stored as references) -> object array."""
    order = group.attrs.get("MATLAB_fields")
    names = [_field_name(item) for item in order] if order is not None else list(group)
    fields = {name: group[name] for name in names if name in group}
    is_array = any(
        isinstance(node, h5py.Dataset) and node.dtype == h5py.ref_dtype and not _matlab_class(node)
        for node in fields.values()
    )
    if not is_array:
        return {name: _read_node(handle, node) for name, node in fields.items()}
    refs = {name: node[()] for name, node in fields.items()}
    shape = next(iter(refs.values())).shape
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = {name: _read_node(handle, handle[ref[index]]) for name, ref in refs.items()}
    return _squeeze(out.T)


def _field_name(item: Any) -> str:
    chars = np.asarray(item).ravel()
    return b"".join(c if isinstance(c, bytes) else bytes([int(c)]) for c in chars).decode()


def _read_sparse(group: h5py.Group, cls: str) -> scipy.sparse.csc_matrix:
    n_rows = int(group.attrs["MATLAB_sparse"])
    jc = group["jc"][()].astype(np.int64)
    ir = group["ir"][()].astype(np.int64) if "ir" in group else np.zeros(0, np.int64)
    values = group["data"][()] if "data" in group else np.zeros(0)
    if values.dtype.names:
        values = values["real"] + 1j * values["imag"]
    dtype = _MATLAB_DTYPES.get(cls, values.dtype)
    return scipy.sparse.csc_matrix((values.astype(dtype), ir, jc), shape=(n_rows, len(jc) - 1))


def _decode_chars(codes: np.ndarray) -> Any:
    """MATLAB char (uint16 codes, stored transposed) -> str or list of row strings."""
    rows = np.atleast_2d(codes.T)
    text = ["".join(map(chr, row.astype(np.int64))) for row in rows]
    return text[0] if len(text) == 1 else text


def _empty(cls: str) -> Any:
    if cls == "char":
        return ""
    if cls in ("cell", "struct"):
        return np.empty(0, dtype=object)
    return np.empty(0, dtype=_MATLAB_DTYPES.get(cls, np.float64))


def _squeeze(array: np.ndarray) -> Any:
    """Mimic ``squeeze_me=True``: drop singleton dims; a single element becomes the element."""
    array = np.squeeze(array)
    return array.item() if array.ndim == 0 else array

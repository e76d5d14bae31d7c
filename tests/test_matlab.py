"""load_mat: v5 (scipy) and v7.3 (h5py) readers give the same plain-Python structure."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from alrnn_neuro.data.matlab import load_mat
from alrnn_neuro.errors import FileFormatError

_CLASSES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int64): "int64",
}


def _cell(*items: object) -> np.ndarray:
    """A 1-D object array (scipy writes it as a 1xN cell)."""
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


def _grid() -> np.ndarray:
    out = np.empty((2, 2), dtype=object)
    out[:] = [["a", np.array([1.0, 2.0])], ["bc", 7.0]]
    return out


def _variables() -> dict:
    return {
        "coh": np.array([0.0, 3.2, 6.4, 12.8]),
        "name": "dots task",
        "matrix": np.arange(6.0).reshape(2, 3),
        "n": 5.0,
        "counts": np.array([1, -2, 3], dtype=np.int16),
        "cells": _cell("fix", np.array([1.0, 2.0]), {"x": 1.0, "label": "ston"}),
        "trial": {
            "events": np.array([10.0, 20.0]),
            "label": "go",
            "nested": {"deep": "yes", "value": np.array([[1.0, 2.0], [3.0, 4.0]])},
            "tags": _cell("a", "bc"),
        },
        "rows": np.array(["ab", "cd"]),
        "grid": _grid(),
        "empty": np.zeros((0, 0)),
    }


def _expected() -> dict:
    grid = np.empty((2, 2), dtype=object)
    grid[:] = [["a", np.array([1.0, 2.0])], ["bc", 7.0]]
    return {
        "coh": np.array([0.0, 3.2, 6.4, 12.8]),
        "name": "dots task",
        "matrix": np.arange(6.0).reshape(2, 3),
        "n": 5.0,
        "counts": np.array([1, -2, 3], dtype=np.int16),
        "cells": ["fix", np.array([1.0, 2.0]), {"x": 1.0, "label": "ston"}],
        "trial": {
            "events": np.array([10.0, 20.0]),
            "label": "go",
            "nested": {"deep": "yes", "value": np.array([[1.0, 2.0], [3.0, 4.0]])},
            "tags": ["a", "bc"],
        },
        "rows": ["ab", "cd"],
        "grid": grid,
        "empty": np.zeros(0),
    }


def write_v73(path: Path, variables: dict) -> None:
    """Write ``variables`` in the HDF5 layout MATLAB uses for ``save -v7.3``.

    512-byte userblock with the MAT header, ``MATLAB_class`` attributes, data stored
    transposed (column-major), char as uint16, cells as object references into ``#refs#``,
    structs as groups with a ``MATLAB_fields`` attribute, empties flagged ``MATLAB_empty``.
    """
    counter = itertools.count()
    with h5py.File(path, "w", userblock_size=512) as handle:
        refs = handle.create_group("#refs#")
        for name, value in variables.items():
            _put(handle, refs, name, value, counter)
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as handle:
        handle.write(text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def _put(parent: h5py.Group, refs: h5py.Group, name: str, value: object, counter) -> None:
    if isinstance(value, str):
        codes = np.array([[ord(c) for c in value]], dtype=np.uint16)
        node = parent.create_dataset(name, data=codes.T)
        node.attrs["MATLAB_class"] = np.bytes_("char")
        node.attrs["MATLAB_int_decode"] = np.int32(2)
    elif isinstance(value, dict):
        node = parent.create_group(name)
        node.attrs["MATLAB_class"] = np.bytes_("struct")
        vlen = h5py.vlen_dtype(np.dtype("S1"))
        fields = np.empty(len(value), dtype=object)
        fields[:] = [np.array(list(key), dtype="S1") for key in value]
        node.attrs.create("MATLAB_fields", fields, dtype=vlen)
        for key, item in value.items():
            _put(node, refs, key, item, counter)
    elif isinstance(value, np.ndarray) and value.dtype.kind == "U":
        codes = np.array([[ord(c) for c in row] for row in value], dtype=np.uint16)
        node = parent.create_dataset(name, data=codes.T)
        node.attrs["MATLAB_class"] = np.bytes_("char")
    elif isinstance(value, np.ndarray) and value.dtype == object:
        cells = np.atleast_2d(value)  # a 1-D cell is 1xN in MATLAB
        out = np.empty(cells.shape, dtype=h5py.ref_dtype)
        for index, item in np.ndenumerate(cells):
            key = str(next(counter))
            _put(refs, refs, key, item, counter)
            out[index] = refs[key].ref
        node = parent.create_dataset(name, data=out.T)
        node.attrs["MATLAB_class"] = np.bytes_("cell")
    else:
        array = np.atleast_2d(np.asarray(value))
        if array.size == 0:
            node = parent.create_dataset(name, data=np.array(array.shape, dtype=np.uint64))
            node.attrs["MATLAB_empty"] = np.uint8(1)
        else:
            node = parent.create_dataset(name, data=array.T)
        node.attrs["MATLAB_class"] = np.bytes_(_CLASSES[array.dtype])


def assert_same(actual: object, expected: object, where: str = "") -> None:
    """Recursive equality that also checks types, dtypes, shapes and key order."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        if expected.dtype == object:
            for index in np.ndindex(expected.shape):
                assert_same(actual[index], expected[index], f"{where}{list(index)}")
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _by_name(variables: dict) -> dict:
    """Top-level variables sorted by name: v7.3 lists them in HDF5 (alphabetical) order."""
    return dict(sorted(variables.items()))


@pytest.fixture
def both(tmp_path: Path) -> tuple[Path, Path]:
    v5, v73 = tmp_path / "v5.mat", tmp_path / "v73.mat"
    scipy.io.savemat(v5, _variables())
    write_v73(v73, _variables())
    return v5, v73


def test_v5_reader_gives_plain_python(both: tuple[Path, Path]) -> None:
    assert_same(load_mat(both[0]), _expected())


def test_v73_reader_gives_plain_python(both: tuple[Path, Path]) -> None:
    assert h5py.is_hdf5(both[1])
    with open(both[1], "rb") as handle:
        assert handle.read(19) == b"MATLAB 7.3 MAT-file"
    assert_same(_by_name(load_mat(both[1])), _by_name(_expected()))


def test_v5_and_v73_readers_agree(both: tuple[Path, Path]) -> None:
    assert_same(_by_name(load_mat(both[1])), _by_name(load_mat(both[0])))


def test_v73_struct_array_becomes_list_of_dicts(tmp_path: Path) -> None:
    path = tmp_path / "s.mat"
    with h5py.File(path, "w", userblock_size=512) as handle:
        refs = handle.create_group("#refs#")
        group = handle.create_group("s")
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        counter = itertools.count()
        for field, values in {"a": [1.0, 2.0], "b": ["x", "yz"]}.items():
            out = np.empty((2, 1), dtype=h5py.ref_dtype)
            for i, value in enumerate(values):
                key = str(next(counter))
                _put(refs, refs, key, value, counter)
                out[i, 0] = refs[key].ref
            group.create_dataset(field, data=out)
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file".ljust(116, b" "))
    assert_same(load_mat(path), {"s": [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "yz"}]})


def test_signalling_nans_become_quiet(tmp_path: Path) -> None:
    signalling = np.array([0x7FF7FFFFFFFFFFFF], dtype=np.uint64).view(np.float64)
    path = tmp_path / "nan.mat"
    scipy.io.savemat(path, {"x": np.concatenate([signalling, [1.0]])})
    x = load_mat(path)["x"]
    with np.errstate(invalid="raise"):
        result = x - 1.0  # raises FloatingPointError on a signalling NaN
    assert np.isnan(result[0]) and result[1] == 0.0


def test_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.mat: no such MAT-file"):
        load_mat(tmp_path / "nope.mat")


def test_text_file_is_not_mat(tmp_path: Path) -> None:
    path = tmp_path / "notes.mat"
    path.write_text("hello, this is not a MAT-file\n" * 10)
    with pytest.raises(FileFormatError, match=r"notes\.mat: not a readable MATLAB MAT-file"):
        load_mat(path)


def test_plain_hdf5_is_not_mat(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle["x"] = np.arange(3)
    with pytest.raises(FileFormatError, match="plain.h5: an HDF5 file without the 'MATLAB 7.3"):
        load_mat(path)


def test_folder_is_not_mat(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="is a folder, expected a MATLAB .mat file"):
        load_mat(tmp_path)

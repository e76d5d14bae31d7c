"""The restricted pickle/joblib loader: reads arrays and containers, never runs a payload."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from alrnn_neuro.data.pickled_frames import frame_columns
from alrnn_neuro.data.safe_pickle import UnsafePickleError, load_npy, load_pickle
from alrnn_neuro.errors import FileFormatError

REPO = Path(__file__).resolve().parents[1]


def fixtures_module():
    spec = importlib.util.spec_from_file_location("pfc1fx", REPO / "scripts/make_pfc1_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SystemPayload:
    """Unpickling this runs ``os.system('touch TARGET')``."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class OpenPayload:
    """Unpickling this runs ``builtins.open(TARGET, 'w')``, which creates the file."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


VALUES = [
    np.arange(6, dtype=np.int64).reshape(2, 3),
    np.asfortranarray(np.linspace(0, 1, 6).reshape(3, 2)),
    np.array(["le", "ri"]),
    np.array([1, "x"], dtype=object),
    np.float64(2.5),
    {"k": (1, 2.0, "s", b"b", None, True)},
    [np.zeros((0, 4), np.float32)],
]


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_pickles_of_every_protocol_read_back_exactly(tmp_path, protocol):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(VALUES, protocol=protocol))
    assert same(load_pickle(path), VALUES)


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_read_back_exactly_without_joblib_load(tmp_path, compress, monkeypatch):
    path = tmp_path / "x.pkl"
    joblib.dump(VALUES, path, compress=compress)
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load was called"))
    out = load_pickle(path)
    assert same(out, VALUES)
    assert out[1].flags.f_contiguous  # joblib wrote it in Fortran order


@pytest.mark.parametrize("payload", [SystemPayload, OpenPayload])
@pytest.mark.parametrize("writer", ["pickle", "joblib"])
def test_a_payload_is_refused_by_name_and_never_runs(tmp_path, payload, writer):
    target = tmp_path / "created_by_payload"
    path = tmp_path / "evil.pkl"
    obj = [np.arange(3), payload(target)]
    if writer == "joblib":
        joblib.dump(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refused to load.*'(posix|io)\.") as e:
        load_pickle(path)
    assert "\n" not in str(e.value)
    assert not target.exists()


def test_state_setting_on_an_admitted_callable_is_refused(tmp_path):
    # GLOBAL _codecs.encode, then BUILD with {"__defaults__": ...}: would rewrite the helper
    evil = b"\x80\x02c_codecs\nencode\n}X\x0c\x00\x00\x00__defaults__)sb."
    path = tmp_path / "build.pkl"
    path.write_bytes(evil)
    with pytest.raises(UnsafePickleError, match="sets the state of a function"):
        load_pickle(path)


def test_python2_pandas_010_spike_table_reads_into_columns(tmp_path):
    fx = fixtures_module()
    table = pd.DataFrame(
        {"unit": np.array([102, 305, 102]), "time": [0.5, 1.25, 2.0], "group": [1, 3, 1]}
    )
    path = tmp_path / "s.kkp"
    path.write_bytes(fx.py2_frame_pickle(table))
    assert path.read_bytes()[:2] == b"\x80\x02" and b"U\x04unit" in path.read_bytes()  # py2 str
    columns = frame_columns(load_pickle(path), path)
    assert list(columns) == ["unit", "time", "group"]
    for name in columns:
        np.testing.assert_array_equal(columns[name], table[name].to_numpy())


def test_modern_pandas_frame_with_numpy_backed_labels_reads_into_columns(tmp_path):
    table = pd.DataFrame({"unit": np.array([1, 2]), "time": [0.1, 0.2]})
    table.columns = pd.Index(["unit", "time"], dtype=object)
    path = tmp_path / "s.pkl"
    path.write_bytes(pickle.dumps(table, protocol=4))
    columns = frame_columns(load_pickle(path), path)
    np.testing.assert_array_equal(columns["unit"], [1, 2])
    np.testing.assert_array_equal(columns["time"], [0.1, 0.2])


def test_truncated_file_is_a_format_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps(VALUES)[:40])
    with pytest.raises(FileFormatError, match=r"cut\.pkl: not a readable pickle"):
        load_pickle(path)


def test_old_joblib_zfile_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "old.pkl"
    path.write_bytes(b"ZF0x00000010" + b"\x00" * 8)
    with pytest.raises(UnsafePickleError, match="joblib < 0.10.*re-save"):
        load_pickle(path)


def test_object_npy_goes_through_the_safe_loader(tmp_path):
    np.save(tmp_path / "o.npy", np.array(["left", 3], dtype=object), allow_pickle=True)
    np.save(tmp_path / "i.npy", np.array([1, 0, 1]))
    assert load_npy(tmp_path / "o.npy").tolist() == ["left", 3]
    assert load_npy(tmp_path / "i.npy").tolist() == [1, 0, 1]
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    target = tmp_path / "npy_payload"
    evil = tmp_path / "e.npy"
    evil.write_bytes(
        np.lib.format.magic(1, 0) + buffer.getvalue()[8:] + pickle.dumps([OpenPayload(target)])
    )
    with pytest.raises(UnsafePickleError, match=r"e\.npy"):
        load_npy(evil)
    assert not target.exists()

"""Load pickle and joblib files without running code from them.

A pickle names callables (``module.name``) and the loader calls them: ``pickle.load`` or
``joblib.load`` on a file from elsewhere runs whatever the file asks for. :func:`load_pickle`
uses a restricted unpickler that admits only

* numpy arrays, dtypes and scalars (the ``_reconstruct`` / ``scalar`` / ``_frombuffer``
  helpers numpy itself writes, and ``_codecs.encode`` for bytes in protocol-2 pickles),
* lists, tuples, dicts, sets, strings, bytes and numbers (built by pickle opcodes),
* joblib's ``NumpyArrayWrapper`` (the array bytes joblib stores after the pickle stream are
  read by this module, never by joblib), in plain, zlib, gzip, bz2, lzma or xz files,
* the pandas ``DataFrame`` layout of a spike table (pandas 0.10 / Python 2, and pandas 1-2
  with numpy-backed columns): the pandas classes are replaced by inert records that
  :func:`~alrnn_neuro.data.pickled_frames.frame_columns` turns into plain numpy columns;
  pandas is never called.

Anything else stops the load with :class:`UnsafePickleError` (one line naming the file and the
refused ``module.name``) before the callable is looked up, let alone called. Python-2 pickles
are read with ``encoding="latin1"`` (numpy's documented setting for them); old joblib files
(< 0.10, arrays in side files, or ``ZF`` compressed) are refused with a message saying so.

Examples
--------
>>> import pickle, tempfile, pathlib, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.pkl"
>>> _ = path.write_bytes(pickle.dumps([np.arange(3), {"a": 1.5}]))
>>> load_pickle(path)
[array([0, 1, 2]), {'a': 1.5}]
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from alrnn_neuro.errors import AlrnnNeuroError, FileFormatError

_COMPRESSED = (
    (b"\x1f\x8b", "gzip", gzip.decompress),
    (b"BZ", "bz2", bz2.decompress),
    (b"\xfd7zXZ", "xz", lzma.decompress),
    (b"\x5d\x00", "lzma", lzma.decompress),
    (b"\x78", "zlib", zlib.decompress),
)
_LZ4_PREFIX = b"\x04\x22\x4d\x18"
_OLD_JOBLIB_PREFIX = b"ZF"
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class UnsafePickleError(FileFormatError):
    """A pickle asks for a callable the safe loader does not admit; nothing of it ran."""


class PickledRecord:
    """Inert stand-in for a pandas object: keeps the constructor arguments and the state."""

    kind = "record"

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledRecord:
        record = object.__new__(cls)
        record.args, record.state = args, None
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class PickledFrame(PickledRecord):
    """A pickled ``pandas.DataFrame`` (see ``pickled_frames.frame_columns``)."""

    kind = "DataFrame"


class PickledIndex(PickledRecord):
    """A pickled ``pandas.Index`` (any numpy-backed index class)."""

    kind = "Index"


class PickledRangeIndex(PickledRecord):
    """A pickled ``pandas.RangeIndex``."""

    kind = "RangeIndex"


class PickledBlockManager(PickledRecord):
    """A pickled pandas ``BlockManager`` (the columns of a frame, grouped by dtype)."""

    kind = "BlockManager"


class PickledBlock(PickledRecord):
    """A pickled pandas block (``_unpickle_block(values, locs, ndim)``)."""

    kind = "Block"


class _ArrayWrapper(PickledRecord):
    """joblib's ``NumpyArrayWrapper``: array metadata; the bytes follow in the file."""

    kind = "NumpyArrayWrapper"


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
    """numpy's ``_reconstruct`` for plain arrays and the pandas stand-ins (empty shell only)."""
    if isinstance(subtype, type) and issubclass(subtype, PickledRecord):
        return subtype()
    if subtype is not np.ndarray or not _is_empty_shape(shape):
        raise pickle.UnpicklingError(f"_reconstruct({subtype!r}, {shape!r}) is not an array")
    return np.ndarray.__new__(np.ndarray, tuple(shape), np.dtype(dtype))


def _is_empty_shape(shape: Any) -> bool:
    return (
        isinstance(shape, tuple)
        and all(isinstance(s, int) and s >= 0 for s in shape)
        and (0 in shape)
    )


def _scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"scalar() needs a numpy dtype, got {type(dtype).__name__}")
    if dtype.hasobject:
        return data
    if not isinstance(data, bytes | str):
        raise pickle.UnpicklingError("scalar() needs the value's bytes")
    raw = data.encode("latin1") if isinstance(data, str) else data
    return np.frombuffer(raw, dtype=dtype, count=1)[0]


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.hasobject or not isinstance(buffer, bytes | bytearray | pickle.PickleBuffer):
        raise pickle.UnpicklingError("_frombuffer() needs raw bytes and a non-object dtype")
    array = np.frombuffer(bytes(buffer), dtype=dtype)
    return array.reshape(shape, order="F" if order == "F" else "C").copy()


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` for the stand-ins only (protocol 0/1 objects)."""
    if isinstance(cls, type) and issubclass(cls, PickledRecord) and base is object:
        return cls()
    raise pickle.UnpicklingError(f"copyreg._reconstructor({cls!r}, {base!r}) is not admitted")


def _new_index(cls: Any, data: Any) -> PickledRecord:
    """pandas' ``_new_Index(cls, d)``: a stand-in holding ``d`` (data/name or range fields)."""
    if not (isinstance(cls, type) and issubclass(cls, PickledIndex | PickledRangeIndex)):
        raise pickle.UnpicklingError(f"_new_Index({cls!r}) is not a numpy-backed index")
    record = cls()
    record.state = data
    return record


def _unpickle_block(values: Any, locs: Any, ndim: Any = 2) -> PickledBlock:
    return PickledBlock(values, locs, ndim)


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_PANDAS_INDEX_MODULES = (
    "pandas.core.index",
    "pandas.core.indexes.base",
    "pandas.core.indexes.numeric",
)
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "memmap"): np.ndarray,  # joblib records the array's class; read as ndarray
    ("_codecs", "encode"): _encode,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "object"): object,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "bytes"): bytes,
    ("collections", "OrderedDict"): dict,
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("pandas", "DataFrame"): PickledFrame,
    ("pandas.core.frame", "DataFrame"): PickledFrame,
    ("pandas", "Index"): PickledIndex,
    ("pandas", "RangeIndex"): PickledRangeIndex,
    ("pandas.core.indexes.range", "RangeIndex"): PickledRangeIndex,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas._libs.internals", "_unpickle_block"): _unpickle_block,
    ("pandas.core.internals", "BlockManager"): PickledBlockManager,
    ("pandas.core.internals.managers", "BlockManager"): PickledBlockManager,
}
for _module in _NUMPY_MODULES:
    _ALLOWED.update({(_module, "_reconstruct"): _reconstruct, (_module, "scalar"): _scalar})
    _ALLOWED[(_module.replace("multiarray", "numeric"), "_frombuffer")] = _frombuffer
for _module in _PANDAS_INDEX_MODULES:
    for _name in ("Index", "Int64Index", "UInt64Index", "Float64Index"):
        _ALLOWED[(_module, _name)] = PickledIndex
_OLD_JOBLIB = {"NDArrayWrapper", "ZNDArrayWrapper"}
_BUILD_TARGETS = (np.ndarray, np.dtype, PickledRecord)


class _SafeUnpickler(pickle._Unpickler):
    """Pure-Python unpickler with an allow-list ``find_class`` and a guarded ``BUILD``.

    The pure-Python class (not the C one) reads the stream byte-exactly, which joblib's
    array-after-pickle layout needs, and lets BUILD be checked before it runs.
    """

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, stream: io.BytesIO, path: Path) -> None:
        super().__init__(stream, encoding="latin1")
        self.stream, self.path = stream, path

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module.endswith("numpy_pickle") and name in _OLD_JOBLIB:
            raise UnsafePickleError(
                f"{self.path}: written by joblib < 0.10 ({name}: arrays in side files); this "
                "reader does not follow them; fix: in a trusted environment re-save it with a "
                "current joblib (joblib.dump(joblib.load(path), path))"
            )
        raise UnsafePickleError(
            f"{self.path}: refused to load: it asks for '{module}.{name}', which is not a numpy "
            "array, dtype, container, scalar or string, so it was not run; fix: if you trust "
            "this file, re-save its contents as numpy arrays in lists/dicts"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.path}: refused to load: persistent id {pid!r}")

    def load_build(self) -> None:
        inst = self.stack[-2] if len(self.stack) >= 2 else None
        if not isinstance(inst, _BUILD_TARGETS):
            raise UnsafePickleError(
                f"{self.path}: refused to load: it sets the state of a "
                f"{type(inst).__name__}, which the safe loader does not allow"
            )
        super().load_build()
        if isinstance(self.stack[-1], _ArrayWrapper):
            self.stack[-1] = self._read_wrapped_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_wrapped_array(self, wrapper: _ArrayWrapper) -> np.ndarray:
        """Read the array bytes joblib wrote right after the wrapper (joblib >= 0.10)."""
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        dtype, shape = state.get("dtype"), state.get("shape")
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            raise pickle.UnpicklingError("NumpyArrayWrapper without dtype/shape")
        if state.get("subclass", np.ndarray) is not np.ndarray:
            raise UnsafePickleError(
                f"{self.path}: refused to load: joblib array of class {state.get('subclass')!r}"
            )
        if dtype.hasobject:
            inner = _SafeUnpickler(self.stream, self.path)
            return np.asarray(inner.load())
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.stream.read(1)
            self.stream.read(int.from_bytes(padding, "little"))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count < 0 or count * dtype.itemsize > len(self.stream.getbuffer()):
            raise pickle.UnpicklingError(f"array shape {shape} does not fit the file")
        raw = self.stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise pickle.UnpicklingError("the file ends inside an array")
        array = np.frombuffer(raw, dtype=dtype).copy()
        if state.get("order") == "F":
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle or joblib file, admitting only arrays, containers and scalars.

    Parameters
    ----------
    path : str or PathLike
        A ``pickle`` file (any protocol, Python 2 or 3) or a ``joblib.dump`` file (plain or
        zlib/gzip/bz2/lzma/xz compressed).

    Returns
    -------
    object
        Lists, tuples, dicts, numpy arrays, scalars and strings; a pickled pandas frame comes
        back as a :class:`PickledFrame` (see ``pickled_frames.frame_columns``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    UnsafePickleError
        The file asks for any other callable or class (nothing of it ran), or is an old
        joblib layout.
    FileFormatError
        The file is not a readable pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = _decompress(path.read_bytes(), path)
    stream = io.BytesIO(data)
    try:
        return _SafeUnpickler(stream, path).load()
    except AlrnnNeuroError:
        raise
    except Exception as error:  # anything a malformed stream makes the admitted helpers raise
        raise FileFormatError(
            f"{path}: not a readable pickle/joblib file ({type(error).__name__}: {error}); "
            "fix: check that it was written by pickle.dump or joblib.dump and is complete"
        ) from error


def _decompress(data: bytes, path: Path) -> bytes:
    if data.startswith(_OLD_JOBLIB_PREFIX):
        raise UnsafePickleError(
            f"{path}: compressed by joblib < 0.10 ('ZF' files), which this reader does not "
            "read; fix: in a trusted environment re-save it with a current joblib"
        )
    if data.startswith(_LZ4_PREFIX):
        raise FileFormatError(
            f"{path}: lz4-compressed joblib file; fix: re-save it with compress='zlib' or none"
        )
    for prefix, name, decompress in _COMPRESSED:
        if data.startswith(prefix):
            try:
                return decompress(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as error:
                raise FileFormatError(
                    f"{path}: starts like a {name}-compressed file but does not decompress "
                    f"({error}); fix: check the file is complete"
                ) from error
    return data


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.npy`` file; an object array's pickled payload goes through the safe loader.

    ``np.load(allow_pickle=False)`` reads plain arrays; arrays of Python objects (e.g.
    strings saved as ``dtype=object``) are stored as a pickle after the header, which is
    read with the same restrictions as :func:`load_pickle`.

    Parameters
    ----------
    path : str or PathLike
        The ``.npy`` file.

    Returns
    -------
    ndarray

    Raises
    ------
    UnsafePickleError, FileFormatError
        As :func:`load_pickle`; also for a file that is not ``.npy``.
    """
    path = Path(path)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise FileFormatError(f"{path}: not a readable .npy file ({error})") from error
    with path.open("rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            reader = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                version, np.lib.format.read_array_header_2_0
            )
            reader(handle)
        except ValueError as error:
            raise FileFormatError(f"{path}: not a readable .npy file ({error})") from error
        stream = io.BytesIO(handle.read())
    try:
        return np.asarray(_SafeUnpickler(stream, path).load())
    except AlrnnNeuroError:
        raise
    except Exception as error:
        raise FileFormatError(
            f"{path}: the pickled object array is not readable ({type(error).__name__}: {error})"
        ) from error

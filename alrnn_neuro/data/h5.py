"""Read and write ``dataset.h5``: the canonical dataset stored as NetCDF4/HDF5 via h5netcdf.

A canonical file is written by :func:`save_dataset` and reads back exactly (values, coords,
dtypes, attrs). :func:`load_dataset` also reads the *plain HDF5 layout* that a lab can write
with h5py alone (root attribute ``layout`` = ``"binned"`` or ``"events"``; see
``docs/dataset-format.md``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path, check_output_path, write_bytes
from alrnn_neuro.data import limits
from alrnn_neuro.data.names import OBSERVATION_VARIABLES, REQUIRED_ATTRS
from alrnn_neuro.data.plain_h5 import read_plain_h5
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.data.validation import find_problems
from alrnn_neuro.data.variables import describe_variables
from alrnn_neuro.errors import ConfigError, DataValidationError, FileFormatError

logger = logging.getLogger(__name__)

_WIDTH_ATTR = "_unicode_width"
PLAIN_LAYOUTS = ("binned", "events")
MAX_FOREIGN_PROBLEMS = 2
"""How many schema problems the error for a foreign (non-canonical) HDF5 file lists."""


def save_dataset(ds: xr.Dataset, path: str | os.PathLike, *, compress: bool = True) -> Path:
    """Validate ``ds`` and write it to ``path`` (atomically: nothing is left on failure).

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset (see :mod:`alrnn_neuro.data.schema`).
    path : str or PathLike
        Destination ``.h5`` file; parent folders are created.
    compress : bool
        gzip-compress numeric and string variables (level 4; strings as UTF-8 char arrays).

    Returns
    -------
    Path
        The written path.
    """
    validate_dataset(ds)
    return write_netcdf(ds, path, compress=compress, describe=False)


def write_netcdf(
    ds: xr.Dataset, path: str | os.PathLike, *, compress: bool = True, describe: bool = True
) -> Path:
    """Write any Dataset as NetCDF4/HDF5 (h5netcdf), atomically, so strings reload exactly.

    Used for ``dataset.h5`` and for the ``.nc`` files of run and analysis directories;
    read back with :func:`read_netcdf`. See :func:`save_dataset` for ``compress``.
    ``describe`` gives every variable ``long_name``, ``units`` and ``description`` from
    :mod:`alrnn_neuro.data.variables` (a variable the table lacks is logged as a warning).
    """
    if describe:
        ds, unknown = describe_variables(ds, Path(path).name)
        if unknown:
            logger.warning(
                "%s: variables %s have no entry in alrnn_neuro.data.variables and are written "
                "without long_name/units/description",
                Path(path).name,
                unknown,
            )
    encoded = _encode_strings(ds)
    encoding = {}
    if compress:
        for name, var in encoded.variables.items():
            if var.ndim == 0 or var.size == 0:
                continue
            if var.dtype.kind == "f":
                # byte-shuffled, light zlib: float predictions/latents barely compress, and
                # level 4 without shuffle was 2.9x slower for a worse ratio (0.89 vs 0.84)
                encoding[name] = {"zlib": True, "complevel": 1, "shuffle": True}
            elif var.dtype.kind in "biu":
                encoding[name] = {"zlib": True, "complevel": 4, "shuffle": True}
            elif var.dtype.kind == "U" and name not in encoded.dims:
                # char arrays compress (epoch labels repeat a lot); vlen strings do not
                encoding[name] = {"dtype": "S1", "zlib": True, "complevel": 4}
    final = check_output_path(path)
    try:  # in memory first: HDF5 must never meet a full disk (h5py crashes on ENOSPC)
        with _local_dask_scheduler():
            content = encoded.to_netcdf(
                None, engine="h5netcdf", encoding=encoding, invalid_netcdf=True
            )
    except ValueError as error:  # older xarray writes bytes with scipy only: write in place
        if "engine" not in str(error):
            raise
        with atomic_path(final, size_hint=_uncompressed_bytes(encoded)) as tmp:
            encoded.to_netcdf(tmp, engine="h5netcdf", encoding=encoding, invalid_netcdf=True)
        return final
    return write_bytes(final, content)


def _local_dask_scheduler() -> contextlib.AbstractContextManager:
    """Inside a dask worker, xarray would guard an in-memory write with a cluster-wide lock
    named after the buffer, which the scheduler does not know; the data are in memory, so
    the synchronous scheduler (and a local lock) is right."""
    if "dask" not in sys.modules:
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="synchronous")


def _uncompressed_bytes(ds: xr.Dataset) -> int:
    """An upper bound of the file size of ``ds`` (its arrays, uncompressed)."""
    return int(sum(var.nbytes for var in ds.variables.values()))


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Load a file written by :func:`write_netcdf` into memory, restoring string dtypes.

    Raises
    ------
    FileFormatError
        If the file cannot be read as NetCDF4/HDF5.
    """
    try:
        # phony_dims: dims of datasets without dimension scales (a file not written by
        # write_netcdf) are named per access, as h5netcdf's default, without its warning
        ds = xr.load_dataset(path, engine="h5netcdf", phony_dims="access")
    except (OSError, ValueError) as error:
        raise FileFormatError(
            f"{path}: could not read as NetCDF4/HDF5 ({error}); fix: write it with "
            "alrnn_neuro.save_dataset or use the plain layout in docs/dataset-format.md"
        ) from error
    return _decode_strings(ds)


def read_attribute(path: str | os.PathLike, name: str) -> object:
    """The root attribute ``name`` of an HDF5 file (None if absent).

    Raises
    ------
    FileFormatError
        If ``path`` cannot be read as HDF5 (truncated, corrupt, another format).
    """
    try:
        with h5py.File(path, "r") as handle:
            value = handle.attrs.get(name)
    except (OSError, ValueError) as error:
        raise FileFormatError(
            f"{path}: not a readable HDF5 file ({' '.join(str(error).split())[:80]}); fix: "
            "rewrite it (refit the run or rerun the command that made it)"
        ) from error
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def load_dataset(
    path: str | os.PathLike,
    *,
    bin_size: float | None = None,
    align: str | None = None,
    window: tuple[float, float] | None = None,
    validate: bool = True,
) -> xr.Dataset:
    """Load a canonical ``dataset.h5`` or a plain-layout HDF5 file into memory.

    Parameters
    ----------
    path : str or PathLike
        File to read.
    bin_size, align, window : optional
        Binning options, used only for the plain *events* layout (binned on load).
    validate : bool
        Run :func:`~alrnn_neuro.data.schema.validate_dataset` on the result.

    Returns
    -------
    xr.Dataset
        Canonical dataset with dims (trial, time, unit, input).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FileFormatError
        If ``path`` is not an HDF5 file; is an NWB file (the message shows the
        ``alrnn-neuro convert nwb`` call); or is another HDF5 file without the canonical
        variables or attrs (the message lists the first problems).
    DataValidationError
        A canonical file that violates the data model (``validate=True``).
    ConfigError
        Binning options given for a canonical (already binned) file.
    """
    kind = detect_layout(path)
    if kind in PLAIN_LAYOUTS:
        return read_plain_h5(path, bin_size=bin_size, align=align, window=window)
    _refuse_nwb(path)
    given = {
        name: value
        for name, value in (("bin_size", bin_size), ("align", align), ("window", window))
        if value is not None
    }
    if given:
        raise ConfigError(
            f"{', '.join(f'{k}={v!r}' for k, v in given.items())}: {path} is a canonical "
            "dataset, binned already, so binning options do not apply (they bin plain "
            "events-layout files); fix: leave them out"
        )
    ds = read_netcdf(path)
    if not validate:
        return ds
    problems = find_problems(ds)
    if problems and _foreign(ds):
        shown = [_clip(text.split("; fix:")[0]) for text in problems[:MAX_FOREIGN_PROBLEMS]]
        more = len(problems) - len(shown)
        raise FileFormatError(
            f"{path} is not a canonical dataset ({'; '.join(shown)}"
            f"{f'; {more} more problems' if more > 0 else ''}); fix: see docs/dataset-format.md "
            "for the layouts read, or convert it with `alrnn-neuro convert`"
        )
    if problems:
        raise DataValidationError("; ".join(problems))
    return ds


def _refuse_nwb(path: str | os.PathLike) -> None:
    """An NWB file (root attribute ``nwb_version``, or groups ``/general`` and
    ``/acquisition``) is read by ``alrnn-neuro convert nwb``, not as a dataset."""
    with h5py.File(path, "r") as handle:
        nwb = "nwb_version" in handle.attrs or all(
            isinstance(handle.get(name), h5py.Group) for name in ("general", "acquisition")
        )
    if nwb:
        raise FileFormatError(
            f"{path} is an NWB file, not a canonical dataset; fix: alrnn-neuro convert nwb "
            f"{path} --out dataset.h5 (see alrnn-neuro convert nwb --help), then use dataset.h5"
        )


def _clip(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _foreign(ds: xr.Dataset) -> bool:
    """No observation variable, or none of the canonical attrs: not written by this toolbox."""
    observed = any(name in ds.data_vars for name in OBSERVATION_VARIABLES)
    return not observed or not any(attr in ds.attrs for attr in REQUIRED_ATTRS)


def detect_layout(path: str | os.PathLike) -> str:
    """Return ``"canonical"``, ``"binned"`` or ``"events"`` for an HDF5 file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FileFormatError
        If ``path`` exists but is not an HDF5 file.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such file; fix: check the path")
    if not file.is_file():
        raise FileFormatError(
            f"{file}: not a regular file (a folder, device, fifo or socket); fix: give a "
            "dataset.h5 file"
        )
    if not h5py.is_hdf5(file):
        raise FileFormatError(
            f"{file}: not an HDF5 file; fix: give a dataset.h5 (canonical or plain layout, "
            "docs/dataset-format.md), or convert first with `alrnn-neuro convert`"
        )
    try:
        with h5py.File(file, "r") as handle:
            layout = handle.attrs.get("layout")
            limits.check_declared_sizes(_declared_sizes(handle), file)
    except (OSError, RuntimeError, KeyError) as error:  # truncated or damaged HDF5
        raise FileFormatError(
            f"{file}: a damaged or truncated HDF5 file ({' '.join(str(error).split())[:100]}); "
            "fix: copy or write it again"
        ) from error
    if isinstance(layout, bytes):
        layout = layout.decode(errors="replace")
    if isinstance(layout, np.ndarray) and layout.size == 1:
        layout = layout.ravel()[0]
        layout = layout.decode(errors="replace") if isinstance(layout, bytes) else layout
    if layout is not None and not isinstance(layout, str):
        layout = str(layout)
    if layout is None:
        return "canonical"
    if layout not in PLAIN_LAYOUTS:
        raise FileFormatError(
            f"{file}: root attribute layout={layout!r} is unknown; fix: use one of "
            f"{list(PLAIN_LAYOUTS)} or omit it for a canonical file"
        )
    return str(layout)


def _declared_sizes(handle: h5py.File) -> dict[str, int]:
    """Declared (uncompressed) bytes of every dataset in an open HDF5 file, by name."""
    sizes: dict[str, int] = {}

    def visit(name: str, node: object) -> None:
        if isinstance(node, h5py.Dataset) and node.shape is not None:
            sizes[name] = int(np.prod(node.shape, dtype=float)) * node.dtype.itemsize

    handle.visititems(visit)
    return sizes


def _encode_strings(ds: xr.Dataset) -> xr.Dataset:
    """Record the width of fixed-width unicode variables so loading restores their dtype."""
    out = ds.copy()
    for name, var in out.variables.items():
        if var.dtype.kind == "U":
            out[name].attrs[_WIDTH_ATTR] = np.int64(var.dtype.itemsize // 4)
    return out


def _decode_strings(ds: xr.Dataset) -> xr.Dataset:
    """Turn object string arrays read from HDF5 back into fixed-width unicode arrays."""
    replacements = {}
    for name, var in ds.variables.items():
        width = var.attrs.get(_WIDTH_ATTR)
        if width is None and var.dtype != object:
            continue
        values = np.asarray(var.values)
        if values.dtype == object:
            values = np.array([_to_str(v) for v in values.ravel()], dtype=str).reshape(values.shape)
        if width is not None:
            values = values.astype(f"<U{int(width)}")
        attrs = {k: v for k, v in var.attrs.items() if k != _WIDTH_ATTR}
        replacements[name] = xr.Variable(var.dims, values, attrs)
    for name, variable in replacements.items():
        if name in ds.coords:
            ds = ds.assign_coords({name: variable})
        else:
            ds[name] = variable
    return ds


def _to_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

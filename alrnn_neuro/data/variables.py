"""What every variable of the toolbox's output files means: one table, applied at write time.

The table is ``variables.toml`` beside this module (one line per variable: ``long_name``,
``units``, ``description``), so that it reads as the list it is.

:func:`~alrnn_neuro.data.h5.write_netcdf` gives every data variable of a ``.nc`` file the
attributes ``long_name``, ``units`` (where the quantity has units) and ``description`` from
this table, and the dataset a ``description`` of the file, so that a file opened years later
(``ncdump -h``, ``xr.open_dataset``, Panoply) explains itself. Attributes a producer already
set are kept. Names mean the same in every file unless :data:`FILE_VARIABLES` gives the file
its own entry (``val_loss`` is per epoch in ``history.nc`` but the best epoch's in
``results.nc``).

A variable missing from the table is written bare and logged as a warning; the test suite
walks every file the toolbox writes and fails on any such variable, so add an entry to
``variables.toml`` when a producer gains one.

Units follow UDUNITS where one exists (``s``, ``1`` for dimensionless ratios, ``count``);
``bit/spike`` and ``nats`` name information per spike and per trial.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import xarray as xr


@dataclass(frozen=True)
class Variable:
    """Meaning of one variable: ``long_name`` (a short label), ``units`` (None: a label, flag or
    quantity without units) and ``description`` (how it is defined)."""

    long_name: str
    units: str | None
    description: str

    def attrs(self) -> dict[str, str]:
        """The netCDF attributes (``units`` only where there are units)."""
        out = {"long_name": self.long_name, "description": self.description}
        if self.units is not None:
            out["units"] = self.units
        return out


TABLE_FILE = "variables.toml"


def _entries(table: dict[str, dict[str, str]]) -> dict[str, Variable]:
    return {
        name: Variable(entry["long_name"], entry.get("units"), entry["description"])
        for name, entry in table.items()
    }


def _load() -> dict[str, Any]:
    text = resources.files("alrnn_neuro.data").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


_TABLE = _load()
#: what each file is (written as the dataset attribute ``description``)
FILES: dict[str, str] = dict(_TABLE["files"])
#: name -> meaning, for every data variable the toolbox writes
VARIABLES: dict[str, Variable] = _entries(_TABLE["variables"])
#: entries of one file that differ from :data:`VARIABLES`
FILE_VARIABLES: dict[str, dict[str, Variable]] = {
    file: _entries(table) for file, table in _TABLE["file_variables"].items()
}
#: coordinates the toolbox defines (lab-specific trial and unit coords are left as they are)
COORDINATES: dict[str, Variable] = _entries(_TABLE["coordinates"])
#: coordinates that mean something else in one file
FILE_COORDINATES: dict[str, dict[str, Variable]] = {
    file: _entries(table) for file, table in _TABLE["file_coordinates"].items()
}


def variable_info(name: str, file: str | None = None) -> Variable | None:
    """The table entry of data variable ``name`` (in ``file``, e.g. ``"results.nc"``), or None.

    Examples
    --------
    >>> variable_info("switch_latency").units
    's'
    >>> variable_info("val_loss", "results.nc").description
    'Best validation loss of the fit.'
    """
    specific = FILE_VARIABLES.get(file or "", {})
    return specific.get(name, VARIABLES.get(name))


def describe_variables(ds: xr.Dataset, file: str | None = None) -> tuple[xr.Dataset, list[str]]:
    """``ds`` with ``long_name``/``units``/``description`` on its variables, from the table.

    Parameters
    ----------
    ds : xr.Dataset
        Any output dataset; it is not modified.
    file : str, optional
        The file name (``"history.nc"``, ...): picks the file's own entries and the dataset
        ``description``.

    Returns
    -------
    described : xr.Dataset
        A shallow copy; attributes already set by the producer win over the table's.
    unknown : list of str
        Data variables the table does not know (written without attributes).

    Examples
    --------
    >>> ds = xr.Dataset({"train_loss": ("epoch", [1.0, 0.5])})
    >>> out, unknown = describe_variables(ds, "history.nc")
    >>> out["train_loss"].attrs["long_name"], unknown
    ('training loss', [])
    """
    out = ds.copy()
    unknown = []
    for name in out.data_vars:
        info = variable_info(str(name), file)
        if info is None:
            unknown.append(str(name))
            continue
        out[name].attrs = {**info.attrs(), **out[name].attrs}
    coords = {**COORDINATES, **FILE_COORDINATES.get(file or "", {})}
    for name in out.coords:
        if name in coords:
            out[name].attrs = {**coords[str(name)].attrs(), **out[name].attrs}
    if file in FILES and "description" not in out.attrs:
        out.attrs["description"] = FILES[file]
    return out, unknown

"""The AL-RNN paper's stimulus-selection files (binned CRCNS pfc-1 session) -> canonical dataset.

Layout (``shared/design/pfc1-format.md`` §a, from the paper's public loader; every file was
described from code, none was opened):

* ``<session>_spikes_<b>_list.pkl``: list over trials of ``(n_units, T_i)`` spike counts;
* ``<session>_inputs_<b>_list.pkl``: list over trials of ``(n_inputs, T_i)`` inputs;
* ``<session>_labels.pkl``: ``(n_trials,)`` labels in {0, 1};
* optional ``*.npy`` per-trial files (``cue_sides_day4.npy``, ...).

``<b>`` is the bin width in seconds with ``.`` written ``_`` (``0_050`` = 50 ms). The ``.pkl``
files are read by :func:`alrnn_neuro.data.safe_pickle.load_pickle` (joblib or plain pickle,
never executing code). Conversion rules (docs/pfc1.md):

* trials keep their own length ``T_i``: bins past it are padding (``valid`` False);
* ``time`` = bin centres from each trial's first bin (``align_event = "trial_start"``; the
  export's alignment event is not known);
* inputs are opaque channels ``in0 ... in{k-1}`` unless ``input_names`` are given, the labels
  a trial coord named ``label_name`` (their meaning is not known either);
* each ``.npy`` file whose leading length equals the number of trials becomes a trial coord
  named after the file stem (1-D only); others are skipped with an :class:`AuxFileWarning`;
* unit coord ``area`` from ``area`` or from the pfc-1 metadata rule for the rat named in the
  session (CR12B, CR17B: every unit in A1), else ``"unknown"``; the caveat is in attrs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.epochs import RESERVED
from alrnn_neuro.data.safe_pickle import load_npy, load_pickle
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, FileFormatError

SPIKES_PATTERN = re.compile(r"^(?P<session>.+)_spikes_(?P<int>\d+)_(?P<frac>\d{3})_list\.pkl$")
SOURCE = "AL-RNN paper's stimulus-selection files (fnnrth/Linear_Nonlinear_Memory, PFC1_task/Data)"
A1_RATS = ("CR12B", "CR17B")
"""Rats whose every unit is auditory cortex in the pfc-1 metadata (``kkrs.is_auditory``)."""
MIXED_RATS = ("YT6A", "CR20B", "CR21A", "CR24A")
"""Rats with A1 (electrode group >= 5) and PFC units; the binned files do not keep groups."""
AREA_NOTE = (
    "area from the pfc-1 metadata rule (Rodgers2014 kkrs.is_auditory: rats CR12B and CR17B "
    "were recorded in auditory cortex only), not from these files; despite the folder name "
    "PFC1_task, session CR12B_* holds A1 units"
)
INTEGRAL_TOL = 1e-6
MAX_COUNT = int(np.iinfo(np.int32).max)
"""Largest count the int32 ``spikes`` array holds."""


class AuxFileWarning(UserWarning):
    """An optional per-trial ``.npy`` file was not attached (length or shape mismatch)."""


@dataclass(frozen=True)
class StudyFiles:
    """The three files of one session and its bin width (s)."""

    session: str
    bin_width: float
    spikes: Path
    inputs: Path
    labels: Path


def find_study_files(
    directory: str | os.PathLike, *, session: str | None = None, bin_width: float | None = None
) -> StudyFiles:
    """Locate one session's spikes/inputs/labels files; the bin width comes from the name.

    Raises
    ------
    FileFormatError
        No spikes file, or a missing inputs/labels partner.
    ConfigError
        Several sessions or bin widths match; ``session`` / ``bin_width`` choose one.
    """
    folder = Path(directory)
    if folder.is_file():
        raise FileFormatError(
            f"{folder}: is a file, not a folder; fix: give the folder that holds the session's "
            f".pkl files ({folder.parent}) and choose the session with --session NAME"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; fix: give the folder of the .pkl files")
    if bin_width is not None and not (np.isfinite(bin_width) and bin_width > 0):
        raise ConfigError(
            f"bin_width={bin_width!r} s; fix: a positive bin width in seconds, e.g. 0.05, or "
            "none to take the one file present"
        )
    found = []
    for path in sorted(folder.iterdir()):
        match = SPIKES_PATTERN.match(path.name)
        if match:
            width = float(f"{match['int']}.{match['frac']}")
            found.append((match["session"], width, path))
    chosen = [
        item
        for item in found
        if (session is None or item[0] == session)
        and (bin_width is None or abs(item[1] - bin_width) < 1e-9)
    ]
    if not chosen:
        have = [p.name for _, _, p in found] or "none"
        raise FileFormatError(
            f"{folder}: no file <session>_spikes_<s>_<ms>_list.pkl matches session={session!r}, "
            f"bin_width={bin_width!r} (spike files present: {have}); fix: point at the folder of "
            "e.g. CR12B_day4_spikes_0_050_list.pkl or change --session"
        )
    if len(chosen) > 1:
        options = ", ".join(f"{s} at {w:g} s" for s, w, _ in chosen)
        raise ConfigError(
            f"{folder} holds several sessions or bin widths ({options}); fix: choose one with "
            "--session NAME (and bin_width)"
        )
    name, width, spikes = chosen[0]
    token = spikes.name[len(name) + len("_spikes_") : -len("_list.pkl")]
    inputs = folder / f"{name}_inputs_{token}_list.pkl"
    labels = folder / f"{name}_labels.pkl"
    for path in (inputs, labels):
        if not path.is_file():
            raise FileFormatError(
                f"{path}: missing; the session {name!r} needs {spikes.name}, {inputs.name} and "
                f"{labels.name} side by side"
            )
    return StudyFiles(name, width, spikes, inputs, labels)


def read_study_pfc1(
    directory: str | os.PathLike,
    *,
    session: str | None = None,
    bin_width: float | None = None,
    input_names: Sequence[str] | None = None,
    label_name: str = "label",
    area: str | None = None,
    aux: bool = True,
) -> xr.Dataset:
    """Read the paper's binned stimulus-selection files into a canonical dataset.

    Parameters
    ----------
    directory : str or PathLike
        Folder with ``<session>_spikes_<b>_list.pkl``, ``..._inputs_<b>_list.pkl``,
        ``<session>_labels.pkl`` and optional ``*.npy`` per-trial files.
    session : str, optional
        Session name (e.g. ``"CR12B_day4"``); needed when the folder holds several.
    bin_width : float, optional
        Bin width (s) to pick when several exports exist; default: the only one present.
    input_names : sequence of str, optional
        Names of the input channels in file order (default ``in0``, ``in1``, ...).
    label_name : str
        Trial coord that receives the labels (default ``"label"``).
    area : str, optional
        Unit ``area`` for every unit; default from the rat (see the module docstring).
    aux : bool
        Attach the ``.npy`` per-trial files as trial coords.

    Returns
    -------
    xr.Dataset
        ``spikes`` (trial, time, unit) int32 counts, ``inputs`` (trial, time, input)
        float32, ``valid`` (False past each trial's ``T_i``); trial coords ``n_bins``,
        ``label_name`` and the attached ``.npy`` stems; unit coord ``area``; attrs
        ``session``, ``bin_size``, ``source``, ``source_files`` (JSON: name -> sha256),
        ``area_note``, ``label_note``, ``input_note``.

    Raises
    ------
    FileFormatError
        Missing files, unreadable pickles, or contents that disagree (trial, unit or bin
        counts, labels outside {0, 1}, negative, fractional or int32-overflowing counts, two
        ``.npy`` files named alike); the message names the file, the field, the value and the fix.
    UnsafePickleError
        A pickle asks to run anything but array/container construction (nothing ran).
    ConfigError
        Bad ``input_names`` / ``label_name`` or an ambiguous folder.
    """
    _check_name("label_name", label_name)
    files = find_study_files(directory, session=session, bin_width=bin_width)
    spikes = _trial_list(load_pickle(files.spikes), files.spikes, "spike counts")
    inputs = _trial_list(load_pickle(files.inputs), files.inputs, "inputs")
    labels = _labels(load_pickle(files.labels), files.labels)
    _check_counts(spikes, files.spikes)
    _check_agreement(spikes, inputs, labels, files)
    n_inputs = inputs[0].shape[0]
    names = _input_names(input_names, n_inputs)
    lengths = np.array([s.shape[1] for s in spikes])
    n_trials, n_units, t_max = len(spikes), spikes[0].shape[0], int(lengths.max())
    data = np.zeros((n_trials, t_max, n_units), np.int32)
    drive = np.zeros((n_trials, t_max, n_inputs), np.float32)
    for i, (counts, channels) in enumerate(zip(spikes, inputs, strict=True)):
        data[i, : lengths[i]] = np.rint(counts.T)
        drive[i, : lengths[i]] = channels.T
    valid = np.arange(t_max)[None, :] < lengths[:, None]
    trial_coords: dict[str, np.ndarray] = {"n_bins": lengths, label_name: labels}
    if aux:
        trial_coords.update(_aux_coords(Path(directory), n_trials, set(trial_coords)))
    ds = make_dataset(
        data,
        inputs=drive,
        input_names=names,
        valid=valid,
        bin_size=files.bin_width,
        align_event="trial_start",
        trial_coords=trial_coords,
        unit_coords={"area": np.full(n_units, area or rat_area(files.session))},
        source=f"{SOURCE}, session {files.session}: {Path(directory).resolve()}",
    )
    ds.attrs.update(
        session=files.session,
        source_files=json.dumps(
            {p.name: sha256(p) for p in (files.spikes, files.inputs, files.labels)}
        ),
        area_note="area given by the user" if area else AREA_NOTE,
        label_note=f"'{label_name}' = {files.labels.name}; its meaning is not defined in the "
        "paper's code (pfc1-format.md §a.4)",
        input_note="input channels as stored; their meaning is not defined in the paper's "
        "code (pfc1-format.md §a.3)",
    )
    return ds


def rat_area(session: str) -> str:
    """Area of every unit of ``session`` by the pfc-1 metadata rule, or ``"unknown"``.

    Examples
    --------
    >>> rat_area("CR12B_day4"), rat_area("CR21A_day1")
    ('A1', 'unknown')
    """
    rat = session.split("_")[0]
    return "A1" if rat in A1_RATS else "unknown"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: names the reader gives to its own dims and coords (a label of that name would replace one)
OWN_NAMES = ("trial", "time", "unit", "input", "n_bins", "area")


def _check_name(field: str, name: str) -> None:
    taken = sorted({*RESERVED, *OWN_NAMES})
    if not isinstance(name, str) or not name.isidentifier() or name in taken:
        raise ConfigError(
            f"{field}={name!r} is not usable as a trial coord; fix: a Python identifier that "
            f"is not one of {taken}, e.g. 'label'"
        )


def _trial_list(obj: Any, path: Path, field: str) -> list[np.ndarray]:
    """A list of 2-D float arrays (channel, T_i) from a pickled list of arrays."""
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.ndim == 1:
        obj = list(obj)
    if not isinstance(obj, list | tuple) or not obj:
        raise FileFormatError(
            f"{path}: {field} is a {type(obj).__name__} ({_shape(obj)}); expected a non-empty "
            "list with one (channels, T_i) array per trial; fix: export per-trial arrays"
        )
    out = []
    for i, item in enumerate(obj):
        array = np.asarray(item)
        if array.ndim != 2 or array.dtype.kind not in "biuf":
            raise FileFormatError(
                f"{path}: {field} of trial {i} is {array.dtype} with shape {array.shape}; "
                "expected a numeric (channels, T_i) array; fix: one 2-D array per trial"
            )
        if array.shape[1] == 0:
            raise FileFormatError(
                f"{path}: {field} of trial {i} has T_i = 0 bins; fix: drop empty trials"
            )
        if not np.isfinite(array).all():
            raise FileFormatError(
                f"{path}: {field} of trial {i} holds NaN/inf; fix: finite values only"
            )
        out.append(array.astype(np.float64, copy=False))
    first = out[0].shape[0]
    for i, array in enumerate(out):
        if array.shape[0] != first:
            what = "units" if field == "spike counts" else "channels"
            raise FileFormatError(
                f"{path}: {field} of trial {i} has {array.shape[0]} {what} (axis 0), trial 0 "
                f"has {first}; fix: every trial needs the same {what} in the same order"
            )
    return out


def _shape(obj: Any) -> str:
    return f"shape {obj.shape}" if isinstance(obj, np.ndarray) else "not a list"


def _check_counts(spikes: list[np.ndarray], path: Path) -> None:
    """Counts are integers in [0, MAX_COUNT], checked before the int32 cast."""
    for i, counts in enumerate(spikes):
        bad = counts < 0
        kind = "negative"
        if not bad.any():
            bad = np.abs(counts - np.rint(counts)) > INTEGRAL_TOL
            kind = "non-integer"
        if bad.any():
            unit, step = (int(v[0]) for v in np.nonzero(bad))
            raise FileFormatError(
                f"{path}: spike counts of trial {i} hold a {kind} value {counts[unit, step]:g} "
                f"(unit {unit}, bin {step}); fix: counts are integers >= 0 per bin"
            )
        if counts.max() > MAX_COUNT:
            unit, step = np.unravel_index(int(np.argmax(counts)), counts.shape)
            raise FileFormatError(
                f"{path}: spike counts of trial {i} hold {counts[unit, step]:.0f} (unit {unit}, "
                f"bin {step}), which exceeds the limit {MAX_COUNT} of the int32 counts; fix: "
                "counts per bin, not times or cumulative sums (check the export)"
            )


def _labels(obj: Any, path: Path) -> np.ndarray:
    try:
        labels = np.asarray(obj, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise FileFormatError(
            f"{path}: labels are not numbers ({error}); fix: one 0/1 label per trial"
        ) from error
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FileFormatError(
            f"{path}: label of trial {i} is {labels[i]:g}, outside {{0, 1}}; fix: binary "
            "labels (0/1), one per trial"
        )
    return labels.astype(np.int64)


def _check_agreement(
    spikes: list[np.ndarray], inputs: list[np.ndarray], labels: np.ndarray, files: StudyFiles
) -> None:
    n = len(spikes)
    sizes = ((files.inputs, len(inputs), "trials"), (files.labels, labels.size, "labels"))
    for path, count, what in sizes:
        if count != n:
            raise FileFormatError(
                f"{path}: {count} {what}, but {files.spikes.name} has {n} trials; fix: use "
                "files of the same export (same session and trial selection)"
            )
    for i, (counts, channels) in enumerate(zip(spikes, inputs, strict=True)):
        if counts.shape[1] != channels.shape[1]:
            raise FileFormatError(
                f"{files.inputs}: trial {i} has T_i = {channels.shape[1]} bins, but "
                f"{files.spikes.name} has T_i = {counts.shape[1]}; fix: inputs and spikes of "
                "a trial must cover the same bins"
            )


def _input_names(names: Sequence[str] | None, n_inputs: int) -> list[str]:
    if names is None:
        return [f"in{i}" for i in range(n_inputs)]
    names = [str(n).strip() for n in names]
    if len(names) != n_inputs or len(set(names)) != n_inputs or not all(names):
        raise ConfigError(
            f"input_names={names!r}: the inputs file has {n_inputs} channels; fix: give "
            f"{n_inputs} distinct names in file order, e.g. --input-names "
            + ",".join(f"in{i}" for i in range(n_inputs))
        )
    return names


def _aux_coords(folder: Path, n_trials: int, taken: set[str]) -> dict[str, np.ndarray]:
    coords: dict[str, np.ndarray] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.npy")):
        values = load_npy(path)
        name = re.sub(r"\W", "_", path.stem)
        if not name.isidentifier() or name in RESERVED or name in taken:
            name = f"aux_{name}"
        if values.ndim != 1 or values.shape[0] != n_trials:
            warnings.warn(
                f"{path.name}: shape {values.shape} is not ({n_trials},) (one value per trial); "
                "not attached",
                AuxFileWarning,
                stacklevel=3,
            )
            continue
        if name in origin:
            raise FileFormatError(
                f"{path.name} and {origin[name].name} in {folder} both become trial coord "
                f"{name!r}; fix: rename one of them (or pass --no-aux / aux=False)"
            )
        if values.dtype.kind in "OSU":
            values = values.astype(str)
        coords[name], origin[name] = values, path
    return coords

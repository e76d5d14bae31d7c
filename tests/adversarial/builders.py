"""Builders of hostile inputs for the adversarial corpus: bad datasets, special output paths,
damaged run directories; plus the shared valid inputs and the runner's helpers."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
import xarray as xr

from tests.conftest import build_tiny_dataset


@dataclass(frozen=True)
class Shared:
    """Inputs every case may read (never write): a dataset file and two finished runs."""

    dataset: Path
    run_a: Path
    run_b: Path


Build = Callable[[Path, Shared], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input: ``build(folder, shared)`` makes it and returns the argv to run."""

    name: str
    build: Build
    message: str


def make_shared(root: Path) -> Shared:
    """Write the valid dataset and fit two small runs of it into ``root`` (a few seconds)."""
    from alrnn_neuro.data.h5 import save_dataset
    from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    from alrnn_neuro.training.api import fit
    from alrnn_neuro.training.config import FitConfig

    ds = simulate_stimulus_selection(n_trials=30, n_units=4, seed=3, lfp=False)
    dataset = root / "data.h5"
    save_dataset(ds, dataset)
    for name, seed in (("run_a", 0), ("run_b", 1)):
        config = FitConfig(
            latent_dim=3, pwl_units=1, epochs=2, batch_size=16, init_bins=5, seed=seed
        )
        fit(ds, config, out=root / name, dataset_path=dataset)
    return Shared(dataset, root / "run_a", root / "run_b")


# --- builders of bad datasets ------------------------------------------------------------


def canonical(mutate: Callable[[xr.Dataset], xr.Dataset]) -> Callable[[Path], Path]:
    """A canonical dataset.h5 written *without* validation, after ``mutate``."""

    def write(folder: Path) -> Path:
        path = folder / "bad.h5"
        ds = mutate(build_tiny_dataset())
        ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
        return path

    return write


def set(name: str, index: object, value: object) -> Callable[[xr.Dataset], xr.Dataset]:
    def mutate(ds: xr.Dataset) -> xr.Dataset:
        ds = ds.copy(deep=True)
        if isinstance(value, float) and ds[name].dtype.kind in "iu":
            ds[name] = ds[name].astype(float)
        elif isinstance(value, int) and ds[name].dtype.kind in "iu":
            ds[name] = ds[name].astype(np.int64)
        ds[name][index] = value
        return ds

    return mutate


def coord(name: str, values: Callable[[xr.Dataset], np.ndarray]):
    return lambda ds: ds.assign_coords({name: values(ds)})


def as_signal(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.rename(spikes="signal")
    ds["signal"] = ds["signal"].astype(float)
    return ds


def attr(name: str, value: object):
    def mutate(ds: xr.Dataset) -> xr.Dataset:
        ds = ds.copy()
        ds.attrs[name] = value
        return ds

    return mutate


def plain(build: Callable[[h5py.File], None]) -> Callable[[Path], Path]:
    """A plain-layout HDF5 file written by ``build`` with h5py."""

    def write(folder: Path) -> Path:
        path = folder / "plain.h5"
        with h5py.File(path, "w") as f:
            build(f)
        return path

    return write


def events_file(f: h5py.File, **attrs: object) -> None:
    f.attrs["layout"] = "events"
    f.attrs["bin_size"] = 0.1
    f.attrs["align_event"] = "stim_on"
    for key, value in attrs.items():
        f.attrs[key] = value
    f["spike_times/n0"] = np.array([0.1, 0.4, 1.2, 2.5])
    f["trials/start"] = np.array([0.0, 1.0, 2.0])
    f["trials/stop"] = np.array([0.9, 1.9, 2.9])
    f["trials/stim_on"] = np.array([0.3, 1.3, 2.3])


def binned_file(f: h5py.File, spikes: np.ndarray | None = None, **attrs: object) -> None:
    f.attrs["layout"] = "binned"
    f.attrs["bin_size"] = 0.05
    for key, value in attrs.items():
        f.attrs[key] = value
    f["spikes"] = np.ones((4, 6, 2), dtype=np.int32) if spikes is None else spikes


def inputs_with_names(n_channels: int, names: list[str]) -> Callable[[h5py.File], None]:
    """A binned file with ``n_channels`` input channels and the names ``names``."""

    def build(f: h5py.File) -> None:
        binned_file(f)
        f["inputs"] = np.zeros((4, 6, n_channels), np.float32)
        f["input_names"] = np.array(names, "S")

    return build


def spikes_group(f: h5py.File) -> None:
    """A binned file whose ``spikes`` is a group (of one dataset), not a dataset."""
    f.attrs["layout"] = "binned"
    f.attrs["bin_size"] = 0.05
    f["spikes/counts"] = np.ones((4, 6, 2), np.int32)


def text_spike_times(f: h5py.File) -> None:
    """An events file whose unit ``n0`` has its spike times written as strings."""
    events_file(f)
    del f["spike_times/n0"]
    f["spike_times/n0"] = np.array([b"0.1", b"abc"], "S3")


def bad_utf8_labels(f: h5py.File) -> None:
    events_file(f)
    f["trials/choice"] = np.array([b"left", b"\xff\xfe", b"right"], dtype="S")


def unwritten_chunks(f: h5py.File) -> None:
    f.attrs["layout"] = "binned"
    f.attrs["bin_size"] = 0.05
    f.create_dataset(
        "spikes", shape=(20000, 1000, 25), dtype="i4", chunks=(100, 100, 25), compression="gzip"
    )


def truncated(folder: Path, shared: Shared) -> Path:
    path = folder / "truncated.h5"
    path.write_bytes(shared.dataset.read_bytes()[:3000])
    return path


def text_file(folder: Path) -> Path:
    path = folder / "table.h5"
    path.write_text("spikes,trial\n1,2\n")
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "empty.h5"
    path.write_bytes(b"")
    return path


def fifo(folder: Path) -> Path:
    path = folder / "pipe.h5"
    os.mkfifo(path)
    return path


def events_folder(folder: Path) -> Path:
    """spikes.csv + trials.csv (one trial, 2 s) for ``convert events``."""
    source = folder / "session"
    source.mkdir()
    (source / "spikes.csv").write_text("unit,time\nu1,0.5\nu1,1.2\nu2,0.7\n")
    (source / "trials.csv").write_text("start,stop,go\n0.0,2.0,0.5\n")
    return source


def events_folder_with_text_time(folder: Path) -> Path:
    """:func:`events_folder` with one spike time that is not a number."""
    source = events_folder(folder)
    (source / "spikes.csv").write_text("unit,time\nu1,0.5\nu1,abc\nu2,0.7\n")
    return source


def tar_bomb(folder: Path) -> Path:
    """A .tar.gz whose only member *declares* 64 GiB (its header only; a few bytes on disk)."""
    info = tarfile.TarInfo("b01.mat")
    info.size = 64 * 2**30
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    path = folder / "all_b_fd.tar.gz"
    path.write_bytes(gzip.compress(header + b"\0" * 1024))
    return path


# --- builders of hostile outputs -----------------------------------------------------------


def char_device(folder: Path) -> Path:
    """A character device node with /dev/null's numbers (root only)."""
    path = folder / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def unix_socket(folder: Path) -> Path:
    path = folder / "sock.h5"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def symlink_to_file(folder: Path) -> Path:
    target = folder / "precious.txt"
    target.write_text("keep me")
    link = folder / "link.h5"
    link.symlink_to(target)
    return link


def dangling_symlink(folder: Path) -> Path:
    link = folder / "dangling.h5"
    link.symlink_to(folder / "missing" / "x.h5")
    return link


def existing_file(folder: Path, name: str = "exists.h5") -> Path:
    path = folder / name
    path.write_text("an earlier file")
    return path


def under_a_file(folder: Path) -> Path:
    existing_file(folder, "plainfile")
    return folder / "plainfile" / "x.h5"


# --- builders of damaged run directories -------------------------------------------------


def run_copy(folder: Path, shared: Shared, damage: Callable[[Path, Shared], None]) -> Path:
    run = folder / "run"
    shutil.copytree(shared.run_a, run)
    damage(run, shared)
    return run


def write(name: str, content: bytes | str) -> Callable[[Path, Shared], None]:
    def damage(run: Path, _: Shared) -> None:
        target = run / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def from_other_run(name: str) -> Callable[[Path, Shared], None]:
    def damage(run: Path, shared: Shared) -> None:
        shutil.copy2(shared.run_b / name, run / name)

    return damage


def truncate(name: str, keep: int) -> Callable[[Path, Shared], None]:
    def damage(run: Path, _: Shared) -> None:
        (run / name).write_bytes((run / name).read_bytes()[:keep])

    return damage


class _Payload:
    """Pickled, it runs ``touch MARKER`` on load: a model.pt nobody must execute."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def malicious_model(run: Path, _: Shared) -> None:
    torch.save({"state_dict": _Payload(run.parent / "PWNED")}, run / "model.pt")


def config_without(key: str) -> Callable[[Path, Shared], None]:
    def damage(run: Path, _: Shared) -> None:
        record = json.loads((run / "config.json").read_text())
        del record[key]
        (run / "config.json").write_text(json.dumps(record))

    return damage


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed): kind, size and content digest."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            entries[str(path.relative_to(folder))] = ("file", path.read_bytes())
        elif stat.S_ISLNK(mode):
            entries[str(path.relative_to(folder))] = ("link", os.readlink(path))
        else:
            entries[str(path.relative_to(folder))] = (stat.S_IFMT(mode),)
    return entries


def run_in_process(argv: list[str]) -> int:
    """``alrnn_neuro.cli.app.main(argv)``; return its exit code."""
    from alrnn_neuro.cli.app import main

    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0

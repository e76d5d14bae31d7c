"""NWB files written by `write_nwb` pass nwbinspector; `read_nwb` takes open NWBFiles, reads
files with several TimeIntervals tables and pseudo-populations (units of different sessions)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.events import SilentUnitWarning
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.nwb import read_nwb, write_nwb
from alrnn_neuro.errors import FileFormatError

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

REPO = Path(__file__).resolve().parents[1]
SERIOUS = ("CRITICAL", "BEST_PRACTICE_VIOLATION", "PYNWB_VALIDATION", "ERROR")


def _messages(path: Path) -> list:
    return list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path)))


def _serious(path: Path) -> list[str]:
    return [
        f"{m.importance.name} {m.check_function_name}: {m.message}"
        for m in _messages(path)
        if m.importance.name in SERIOUS
    ]


@pytest.fixture(scope="module")
def lip() -> xr.Dataset:
    """The shipped LIP pseudo-population, up to 4 trials of each of its 33 units (sessions)."""
    ds = load_dataset(REPO / "datasets" / "roitman2002_fd_monkeyB.h5")
    session = ds["session"].values
    # (nwbinspector 0.7 crashes on a unit whose obs_intervals are empty: keep every unit)
    keep = [np.flatnonzero(session == s)[:4] for s in np.unique(session)]
    return ds.isel(trial=np.sort(np.concatenate(keep)))


def test_tiny_dataset_passes_nwbinspector(tmp_path, tiny_dataset):
    path = write_nwb(tiny_dataset, tmp_path / "tiny.nwb", subject={"species": "Mus musculus"})
    assert _serious(path) == []


def test_pseudo_population_passes_nwbinspector(tmp_path, lip):
    path = write_nwb(lip, tmp_path / "lip.nwb")  # subject from attrs: monkey B, Macaca mulatta
    assert _serious(path) == []
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.subject_id == "monkey B"
        assert nwbfile.subject.species == "Macaca mulatta"
        assert nwbfile.units.resolution == pytest.approx(0.001)  # 50 grid steps per bin
        for j in range(len(nwbfile.units)):
            assert np.all(np.diff(nwbfile.units["spike_times"][j]) > 0)


def test_missing_species_is_the_only_finding_and_is_logged(tmp_path, tiny_dataset, caplog):
    with caplog.at_level(logging.WARNING, logger="alrnn_neuro.data.nwb_write"):
        path = write_nwb(tiny_dataset, tmp_path / "tiny.nwb")
    assert "species is unknown" in caplog.text
    findings = [m.check_function_name for m in _messages(path) if m.importance.name in SERIOUS]
    assert findings == ["check_subject_species_exists"]


def test_read_open_nwbfile_equals_read_path(tmp_path, lip):
    path = write_nwb(lip, tmp_path / "lip.nwb")
    from_path = read_nwb(str(path))
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        from_file = read_nwb(io.read())
    xr.testing.assert_identical(from_file, from_path)


def test_pseudo_population_round_trip(tmp_path, lip):
    path = write_nwb(lip, tmp_path / "lip.nwb")
    back = read_nwb(path)
    for name in ("spikes", "observed", "valid", "epoch", "inputs", "signed_coherence", "session"):
        np.testing.assert_array_equal(back[name].values, lip[name].values)
    np.testing.assert_allclose(back["event_sac"].values, lip["event_sac"].values, atol=1e-9)
    assert back["observed"].values.sum(axis=1).tolist() == [1] * lip.sizes["trial"]
    assert back["observed"].values.sum(axis=0).tolist() == [4] * lip.sizes["unit"]


def test_several_time_intervals_tables(tmp_path, lip):
    path = write_nwb(lip, tmp_path / "lip.nwb")
    from pynwb.epoch import TimeIntervals

    with pynwb.NWBHDF5IO(str(path), "a") as io:
        nwbfile = io.read()
        trials = nwbfile.trials
        motion = TimeIntervals(name="motion", description="random dots on screen")
        dots_on = np.asarray(trials["ston_time"].data[:])
        dots_off = np.asarray(trials["stoff_time"].data[:])
        dots = np.flatnonzero(np.isfinite(dots_on))[:5]
        for i in dots:
            motion.add_interval(start_time=float(dots_on[i]), stop_time=float(dots_off[i]))
        nwbfile.add_time_intervals(motion)
        io.write(nwbfile)
    back = read_nwb(path)  # the extra table changes nothing
    for name in ("spikes", "observed", "valid", "epoch", "inputs"):
        np.testing.assert_array_equal(back[name].values, lip[name].values)
    with pytest.warns(SilentUnitWarning):  # units not recorded in those five intervals
        chosen = read_nwb(path, trials="motion", bin_size=0.05, align="start")
    assert chosen.sizes["trial"] == 5 and chosen.attrs["align_event"] == "start"
    assert chosen["unit"].values.tolist() == lip["unit"].values.tolist()
    # the units observed in those intervals are the units of the trials they lie in
    np.testing.assert_array_equal(chosen["observed"].values, lip["observed"].values[dots])
    assert chosen["spikes"].values.sum() > 0


def test_unknown_trials_table_names_the_tables(tmp_path, lip):
    path = write_nwb(lip, tmp_path / "lip.nwb")
    with pytest.raises(FileFormatError, match="trials='blocks'.*tables: \\["):
        read_nwb(path, trials="blocks")

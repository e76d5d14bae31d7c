"""Bad inputs to the pfc-1 (raw CRCNS, study files) and Roitman readers: refused in one line
(file, field, value, fix) or warned with counts, never dropped, invented or a traceback."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.io

from alrnn_neuro.data.crcns_pfc1 import read_crcns_pfc1
from alrnn_neuro.data.roitman import convert_roitman
from alrnn_neuro.data.study_pfc1 import read_study_pfc1
from alrnn_neuro.errors import FileFormatError

REPO = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("pfc1fx", REPO / "scripts/make_pfc1_fixtures.py")
FX = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(FX)
STUDY = "CR12B_day4"


def run_convert(*args: object) -> subprocess.CompletedProcess:
    """The installed entry point, as a user runs it."""
    command = [sys.executable, "-m", "alrnn_neuro", "convert", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def assert_one_line_refusal(result: subprocess.CompletedProcess, out: Path, *parts: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(part in lines[0] for part in parts), lines[0]
    assert not out.exists()


# ------------------------------------------------------------------------------- Roitman
FIELDS = (
    "trial# good_trial# sid diam coh dir t1x t1y t2x t2y stdur trgchoice correct fixx fixy "
    "stimx stimy speed pctnv novar flash seed vmax vavg offx offy begx begy endx endy fix "
    "trgon trgoff ston stoff fpoff sac trgac fpon rew lat"
).split()
CELLS = ["raster", "atim", "num", "error", "horiz_eye", "vert_eye"]
TRIAL = {
    "coh": 128,
    "dir": 45,
    "t1x": 70,
    "t1y": 70,
    "t2x": -70,
    "t2y": -70,
    "trgchoice": 1,
    "correct": 1,
    "fpon": 0,
    "fix": 400,
    "trgon": 900,
    "ston": 1400,
    "stoff": 2400,
    "fpoff": 2900,
    "sac": 3150,
    "trgac": 3200,
    "rew": 3500,
}


def write_roitman(path: Path, rasters: list[object]) -> Path:
    """A fixed-duration file in the release's layout: data = {header, trial matrix, cells}."""
    fields = np.empty((3, len(FIELDS)), dtype=object)
    fields[0], fields[1], fields[2] = FIELDS, ["num"] * len(FIELDS), [np.zeros(0)] * len(FIELDS)
    cells = np.empty((3, len(CELLS)), dtype=object)
    cells[0], cells[1], cells[2] = CELLS, ["ras"] * len(CELLS), [np.zeros(0)] * len(CELLS)
    header = {"paradigm": 502, "tminmax": np.array([-1000.0, np.inf])}
    header.update(trialfields=fields, trialcells=cells)
    matrix = np.full((len(rasters), len(FIELDS)), np.nan)
    per_trial = np.empty((len(rasters), len(CELLS)), dtype=object)
    for i, raster in enumerate(rasters):
        matrix[i, 0] = i + 1
        for name, value in TRIAL.items():
            matrix[i, FIELDS.index(name)] = value
        per_trial[i] = [raster] + [np.zeros(0)] * (len(CELLS) - 1)
    data = np.empty(3, dtype=object)
    data[:] = [header, matrix, per_trial]
    scipy.io.savemat(path, {"data": data})
    return path


GOOD = np.array([1450.0, 1500.0, 1720.0, 2010.0])


def test_roitman_valid_file_converts(tmp_path: Path) -> None:
    ds = convert_roitman(write_roitman(tmp_path / "b101a.mat", [GOOD, GOOD + 5.0]))
    assert int(ds["spikes"].sum()) == 2 * GOOD.size


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_roitman_non_finite_spike_time_is_refused_not_dropped(tmp_path: Path, bad: float) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_roitman(folder / "b101a.mat", [GOOD, np.r_[GOOD[:2], bad, GOOD[2:]]])
    out = tmp_path / "o.h5"
    result = run_convert("roitman-fd", folder, "--out", out)
    assert_one_line_refusal(result, out, "b101a.mat", "trial 2", "b101a", f"{bad}", "position 2")


@pytest.mark.parametrize(
    ("raster", "message"),
    [
        ("abc", r"trial 2 \(unit b101a\) holds 'abc', not spike times"),
        (np.ones((3, 3)), r"\(3, 3\) matrix"),
    ],
)
def test_roitman_raster_that_is_not_a_vector_of_times_is_refused(
    tmp_path: Path, raster: object, message: str
) -> None:
    path = write_roitman(tmp_path / "b101a.mat", [GOOD, raster])
    with pytest.raises(FileFormatError, match=message):
        convert_roitman(path)


# --------------------------------------------------------------------------- raw CRCNS pfc-1
@pytest.fixture
def session(tmp_path: Path) -> dict:
    return FX.write_crcns_session(tmp_path / "raw")


def _edit_csv(path: Path, edit) -> None:
    table = pd.read_csv(path, index_col=0)
    edit(table).to_csv(path)


def test_trials_without_timings_are_warned_with_counts(session: dict, caplog) -> None:
    _edit_csv(session["folder"] / "trial_timings", lambda t: t.iloc[:50])
    with caplog.at_level(logging.WARNING):
        ds = read_crcns_pfc1(session["folder"], unit_db=session["unit_db"])
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no timings for 110 of 160 trials_info trials" in m for m in warned), warned
    assert ds.sizes["trial"] <= 50


def test_trials_without_timings_warning_is_one_line_in_the_cli(session: dict, tmp_path) -> None:
    _edit_csv(session["folder"] / "trial_timings", lambda t: t.iloc[:50])
    out = tmp_path / "o.h5"
    result = run_convert("crcns-pfc1", session["folder"], "--out", out)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "no timings" in line]
    assert len(warned) == 1 and "110 of 160" in warned[0] and "trial_timings" in warned[0]


def test_non_numeric_timing_is_refused(session: dict) -> None:
    def edit(table: pd.DataFrame) -> pd.DataFrame:
        table = table.astype({"stim_onset": object})
        table.loc[4, "stim_onset"] = "oops"
        return table

    _edit_csv(session["folder"] / "trial_timings", edit)
    with pytest.raises(FileFormatError, match=r"trial_timings: stim_onset of trial 4 is 'oops'"):
        read_crcns_pfc1(session["folder"])


def test_nan_unit_number_is_refused_not_invented(session: dict) -> None:
    table = pd.read_csv(session["unit_db"])
    table.loc[1, "unum"] = np.nan
    table.to_csv(session["unit_db"], index=False)
    with pytest.raises(FileFormatError, match=r"unum of data row 1 \(line 3\) is nan"):
        read_crcns_pfc1(session["folder"], unit_db=session["unit_db"])


def test_fractional_unit_number_is_refused(session: dict) -> None:
    table = pd.read_csv(session["unit_db"]).astype({"unum": float})
    table.loc[0, "unum"] = 102.5
    table.to_csv(session["unit_db"], index=False)
    with pytest.raises(FileFormatError, match=r"unum of data row 0 \(line 2\) is 102.5"):
        read_crcns_pfc1(session["folder"], unit_db=session["unit_db"])


def test_duplicate_trial_numbers_are_refused_up_front(session: dict, tmp_path: Path) -> None:
    for name in ("trials_info", "trial_timings"):
        _edit_csv(session["folder"] / name, lambda t: t.set_axis([7] * len(t)).rename_axis("n"))
    out = tmp_path / "o.h5"
    result = run_convert("crcns-pfc1", session["folder"], "--out", out)
    assert_one_line_refusal(result, out, "trials_info", "trial numbers repeat", ": 7 (on 160 rows)")


def test_non_utf8_events_file_is_one_line(tmp_path: Path) -> None:
    written = FX.write_crcns_session(tmp_path / "raw", timings="events")
    (written["folder"] / "events").write_bytes(b"trial_1_in\t\x90\xff\xfe\n")
    out = tmp_path / "o.h5"
    result = run_convert("crcns-pfc1", written["folder"], "--out", out)
    assert_one_line_refusal(result, out, "events", "'event<TAB>time' text lines")


def test_non_utf8_unit_db_is_refused(session: dict) -> None:
    session["unit_db"].write_bytes(b"session_name,unum\n\x92\xff,1\n")
    with pytest.raises(FileFormatError, match=r"unit_db.csv: not a readable CSV table"):
        read_crcns_pfc1(session["folder"], unit_db=session["unit_db"])


def test_res_file_with_text_is_refused(tmp_path: Path) -> None:
    written = FX.write_crcns_session(tmp_path / "raw", spike_format="klustakwik")
    res = sorted((written["folder"] / "klusters0").glob("*.res.*"))[0]
    res.write_text("abc\n12\n")
    with pytest.raises(FileFormatError, match=r"\.res\.1: not one integer spike sample per line"):
        read_crcns_pfc1(written["folder"])


def test_crcns_file_instead_of_folder_says_so(session: dict) -> None:
    with pytest.raises(FileFormatError, match="trials_info: is a file, not a folder"):
        read_crcns_pfc1(session["folder"] / "trials_info")


# ------------------------------------------------------------------------- study-pfc1 files
def test_aux_files_that_clean_to_one_name_are_refused(tmp_path: Path) -> None:
    FX.write_study_session(tmp_path, n_trials=6, n_units=3)
    np.save(tmp_path / "cue-sides_day4.npy", np.arange(6))
    with pytest.raises(FileFormatError, match=r"cue_sides_day4\.npy and cue-sides_day4\.npy"):
        read_study_pfc1(tmp_path)


def test_count_beyond_int32_is_refused_before_the_cast(tmp_path: Path) -> None:
    written = FX.write_study_session(tmp_path, n_trials=6, n_units=3)
    spikes = written["spikes"]
    spikes[2][1, 3] = 2**40
    joblib.dump(spikes, tmp_path / f"{STUDY}_spikes_0_050_list.pkl")
    with pytest.raises(
        FileFormatError,
        match=r"trial 2 hold 1099511627776 \(unit 1, bin 3\), which exceeds the limit 2147483647",
    ):
        read_study_pfc1(tmp_path)


def test_study_file_instead_of_folder_says_so(tmp_path: Path) -> None:
    FX.write_study_session(tmp_path / "in", n_trials=6, n_units=3)
    out = tmp_path / "o.h5"
    given = tmp_path / "in" / f"{STUDY}_labels.pkl"
    result = run_convert("study-pfc1", given, "--out", out)
    assert_one_line_refusal(result, out, "is a file, not a folder", str(tmp_path / "in"))

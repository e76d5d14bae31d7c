"""`convert roitman-fd` on small files written in the Roitman & Shadlen layout: the header's
paradigm decides fixed-duration vs reaction-time; other paradigms stop with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.roitman import convert_roitman
from alrnn_neuro.errors import ConfigError

# the 41 trial-matrix columns of the real files (header.trialfields row 0), in their order
FIELDS = (
    "trial# good_trial# sid diam coh dir t1x t1y t2x t2y stdur trgchoice correct fixx fixy "
    "stimx stimy speed pctnv novar flash seed vmax vavg offx offy begx begy endx endy fix "
    "trgon trgoff ston stoff fpoff sac trgac fpon rew lat"
).split()
FIELDS[1] = "good trial#"
CELLS = ["raster", "atim", "num", "error", "horiz_eye", "vert_eye"]


def _row(**values: float) -> np.ndarray:
    """One trial-matrix row; ``number`` is the column ``trial#``, absent columns are NaN."""
    row = np.full(len(FIELDS), np.nan)
    for name, value in values.items():
        row[FIELDS.index("trial#" if name == "number" else name)] = value
    return row


def _write_mat(path: Path, paradigm: object, rows: list[np.ndarray], rasters: list) -> Path:
    """A file in the layout of the real release: data = {header, trial matrix, cells}."""
    fields = np.empty((3, len(FIELDS)), dtype=object)
    fields[0] = FIELDS
    fields[1] = ["num"] * len(FIELDS)
    fields[2] = [np.zeros(0)] * len(FIELDS)
    cells = np.empty((3, len(CELLS)), dtype=object)
    cells[0] = CELLS
    cells[1] = ["ras"] + ["anlg"] * 5
    cells[2] = [np.zeros(0)] * len(CELLS)
    header = {
        "file": f"/home/lab/data/rxtime/x/raw/{path.stem}",
        "date": "03-Jan-2001",
        "paradigm": paradigm,
        "tminmax": np.array([-1000.0, np.inf]),
        "trialfields": fields,
        "trialcells": cells,
    }
    per_trial = np.empty((len(rows), len(CELLS)), dtype=object)
    for i, raster in enumerate(rasters):
        per_trial[i, 0] = np.asarray(raster, float)
        per_trial[i, 1:] = [np.zeros(0)] * (len(CELLS) - 1)
    data = np.empty(3, dtype=object)
    data[:] = [header, np.vstack(rows), per_trial]
    scipy.io.savemat(path, {"data": data})
    return path


def _rt_trials() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Reaction-time trials: dots until the saccade, no delay, no go cue (fpoff, stoff NaN)."""
    common = {"t1x": 70.0, "t1y": 70.0, "t2x": -70.0, "t2y": -70.0, "fpon": 0.0}
    rows = [
        _row(
            number=1,
            coh=128,
            dir=45,
            trgchoice=1,
            correct=1,
            fix=400,
            trgon=900,
            ston=1400,
            sac=1950,
            trgac=2000,
            rew=2300,
            **common,
        ),
        _row(
            number=2,
            coh=0,
            dir=225,
            trgchoice=2,
            correct=0,
            fix=420,
            trgon=950,
            ston=1500,
            sac=2400,
            trgac=2450,
            **common,
        ),
        _row(
            number=3,
            coh=512,
            dir=225,
            trgchoice=2,
            correct=1,
            fix=380,
            trgon=880,
            ston=1300,
            sac=1620,
            trgac=1660,
            rew=1900,
            **common,
        ),
        # a saccade trial of the same file: dots onset column filled, no coherence
        _row(
            number=4,
            trgchoice=1,
            correct=1,
            fix=400,
            trgon=800,
            ston=820,
            fpoff=1400,
            sac=1600,
            **common,
        ),
    ]
    rasters = [np.arange(-900, 2500, 37.0), np.arange(-800, 2600, 53.0), [1450.0, 1500.0], []]
    return rows, rasters


def test_reaction_time_file(tmp_path):
    rows, rasters = _rt_trials()
    _write_mat(tmp_path / "n201a.mat", 602, rows, rasters)
    ds = convert_roitman(tmp_path, align="ston", window=(-0.5, 1.5))
    assert ds.attrs["task"] == "reaction-time" and ds.attrs["paradigm"] == 602
    assert ds.attrs["monkey"] == "N" and "reaction-time task, monkey N" in ds.attrs["source"]
    dots = ds["task"].values == "dots"
    # a dots-onset time without a coherence is no dots trial, and has no reaction time
    assert dots.tolist() == [True, True, True, False]
    assert ds["task"].values[3] == "visual_saccade" and np.isnan(ds["rt"].values[3])
    ds = ds.isel(trial=dots)
    rt = ds["rt"].values
    assert np.isfinite(rt).all()
    np.testing.assert_allclose(rt, [0.55, 0.9, 0.32])  # sac - ston
    np.testing.assert_allclose(ds["dots_duration"].values, rt)
    assert ds["input"].values.tolist() == ["motion", "targets"]
    assert not np.isin(ds["epoch"].values, ["delay", "go"]).any()
    # valid bins run to the saccade: 50 ms bins from -0.5 s, saccade 0.55 / 0.9 / 0.32 s
    assert ds["valid"].values.sum(axis=1).tolist() == [21, 28, 16]
    last_motion = (ds["epoch"].values == "motion").sum(axis=1)
    assert last_motion.tolist() == [11, 18, 6]
    np.testing.assert_array_equal(ds["signed_coherence"].values, [12.8, 0.0, -51.2])
    assert not np.signbit(ds["signed_coherence"].values[1])  # 0 % (away from T1): not -0.0


def test_reaction_time_full_trials_label_tasks(tmp_path):
    rows, rasters = _rt_trials()
    _write_mat(tmp_path / "n201a.mat", 602, rows, rasters)
    ds = convert_roitman(tmp_path, align="fix", window=(0.0, 2.5))
    assert ds["task"].values.tolist() == ["dots", "dots", "dots", "visual_saccade"]
    assert np.isnan(ds["rt"].values[3])


def test_fixed_duration_file_other_monkey(tmp_path):
    common = {"t1x": 70.0, "t1y": 70.0, "t2x": -70.0, "t2y": -70.0, "fpon": 0.0}
    rows = [
        _row(
            number=1,
            coh=0,
            dir=225,
            trgchoice=1,
            correct=1,
            fix=400,
            trgon=900,
            ston=1400,
            stoff=2450,
            fpoff=2700,
            sac=2900,
            **common,
        ),
    ]
    _write_mat(tmp_path / "n105b.mat", 502, rows, [np.arange(0, 2900, 20.0)])
    ds = convert_roitman(tmp_path)
    assert ds.attrs["task"] == "fixed-duration" and ds.attrs["monkey"] == "N"
    assert ds["input"].values.tolist() == ["motion", "targets", "go"]
    np.testing.assert_allclose(ds["rt"].values, [0.2])  # sac - fpoff
    assert {"delay", "go"} <= set(ds["epoch"].values[0])
    assert ds["signed_coherence"].values.tolist() == [0.0]
    assert not np.signbit(ds["signed_coherence"].values).any()


def test_mixed_paradigms_are_refused(tmp_path):
    rows, rasters = _rt_trials()
    _write_mat(tmp_path / "n201a.mat", 602, rows, rasters)
    _write_mat(tmp_path / "n105b.mat", 502, rows, rasters)
    with pytest.raises(ConfigError, match="mix paradigms.*convert each paradigm separately"):
        convert_roitman(tmp_path)


def test_unknown_paradigm_exits_2_with_one_line_and_writes_nothing(tmp_path):
    rows, rasters = _rt_trials()
    _write_mat(tmp_path / "n301c.mat", 702, rows, rasters)
    out = tmp_path / "out" / "ds.h5"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alrnn_neuro",
            "convert",
            "roitman-fd",
            str(tmp_path),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "paradigm=702 is neither 502 (fixed-duration) nor 602 (reaction-time)" in lines[0]
    assert not out.exists() and not list(tmp_path.rglob("*.h5*"))


def test_reaction_time_through_the_cli(tmp_path):
    rows, rasters = _rt_trials()
    _write_mat(tmp_path / "n201a.mat", 602, rows, rasters)
    out = tmp_path / "rt.h5"
    main(["convert", "roitman-fd", str(tmp_path), "--out", str(out)])
    ds = load_dataset(out)
    assert ds.attrs["task"] == "reaction-time"
    assert np.isfinite(ds["rt"].values[ds["task"].values == "dots"]).all()

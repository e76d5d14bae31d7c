"""``alrnn-neuro analyze``: files written and well-formed, summary printed, bad inputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig

FILES = ("regimes.nc", "dynamics.nc", "primitives.json", "alignment.json")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    ds = simulate_stimulus_selection(n_trials=30, n_units=5, seed=1, lfp=False)
    save_dataset(ds, root / "data.h5")
    for p in (1, 0):
        cfg = FitConfig(latent_dim=3, pwl_units=p, epochs=2, batch_size=16, init_bins=5)
        fit(ds, cfg, out=root / f"run_p{p}", dataset_path=root / "data.h5")
    return root, ds


def run_cli(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_analyze_writes_well_formed_files(setup, capsys):
    root, ds = setup
    out = root / "out_p1"
    code, stdout, _ = run_cli(
        ["analyze", str(root / "run_p1"), "--dataset", str(root / "data.h5"),
         "--out", str(out), "--n-null", "9"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert "Top regions" in stdout and "primitives found" in stdout and "AMI" in stdout
    for name in FILES:
        assert (out / name).is_file()
    for name in ("trajectories_pc", "region_epoch", "transition_graph", "eigenvalues"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    reg = xr.load_dataset(out / "regimes.nc", engine="h5netcdf")
    assert reg["frequency"].sum() == pytest.approx(1.0)
    assert set(reg["region"].values) <= {0, 1}
    # independent count of valid steps from the dataset itself
    assert int(reg["count"].sum()) == int(ds["valid"].sum())
    rows = reg["transition_probability"].sum("region_to").values
    assert np.allclose(rows[np.isfinite(rows) & (rows > 0)], 1.0)
    dyn = xr.load_dataset(out / "dynamics.nc", engine="h5netcdf")
    assert dyn["eigenvalue_real"].dims == ("region", "mode")
    assert dyn["fixed_point"].sizes["latent"] == 3
    align = json.loads((out / "alignment.json").read_text())
    assert 0 < align["epoch_p"] <= 1 and align["n_null"] == 9
    prims = json.loads((out / "primitives.json").read_text())
    assert isinstance(prims, list) and prims and "detected" in prims[0]
    # cycles: searched for periods 2 and 3 under each epoch's mean input, stored in dynamics.nc
    assert "period-2 cycles" in stdout and "exhaustive over all 2 regions" in stdout
    assert dyn.attrs["cycle_periods"] == "2,3" and dyn["cycle_regions"].dims[0] == "cycle"
    assert [c["period"] for c in align["cycles"]] == [2, 3]
    # gating: by default every input channel with onsets is a candidate gate
    gates = {p["input"] for p in prims if p["primitive"] == "gating"}
    onsets = (ds["inputs"] > 0).astype(int).diff("time") > 0
    with_onsets = {str(c) for c in ds["input"].values if bool(onsets.sel(input=c).any())}
    assert gates and gates <= with_onsets and len(gates) >= 2
    # integration and gating targets: the sounds by default, as in the replication analysis
    # (cue, hold and reward channels are no evidence); every target is a sound
    targets = {p["target"] for p in prims if p["primitive"] == "gating"}
    sounds = {"left_noise", "right_noise", "high_pitch", "low_pitch"}
    assert targets <= sounds
    assert {p["input"] for p in prims if p["primitive"] == "integration"} <= sounds


def test_gate_inputs_option_restricts_and_checks_names(setup, capsys):
    root, _ = setup
    out = root / "out_gate"
    args = ["analyze", str(root / "run_p1"), "--dataset", str(root / "data.h5"), "--n-null",
            "5", "--no-figures", "--max-period", "2"]  # fmt: skip
    code, _, _ = run_cli([*args, "--gate-inputs", "hold,cue_local", "--out", str(out)], capsys)
    assert code == 0
    prims = json.loads((out / "primitives.json").read_text())
    gates = {p["input"] for p in prims if p["primitive"] == "gating"}
    assert gates and gates <= {"hold", "cue_local"}
    assert [c["period"] for c in json.loads((out / "alignment.json").read_text())["cycles"]] == [2]
    code, _, err = run_cli([*args, "--gate-inputs", "none", "--out", str(out)], capsys)
    assert code == 2 and "--overwrite" in err  # an earlier analysis is replaced only on request
    code, _, _ = run_cli([*args, "--gate-inputs", "none", "--out", str(out), "--overwrite"], capsys)
    prims = json.loads((out / "primitives.json").read_text())
    assert code == 0 and not any(p["primitive"] == "gating" for p in prims)
    code, _, err = run_cli([*args, "--gate-inputs", "hold,bell", "--out", str(root / "x")], capsys)
    assert code == 2 and "bell" in err and len(err.strip().splitlines()) == 1
    assert not (root / "x").exists()


def test_p0_run_says_one_region(setup, capsys):
    root, _ = setup
    code, stdout, _ = run_cli(
        ["analyze", str(root / "run_p0"), "--n-null", "5", "--no-figures"], capsys
    )
    assert code == 0
    assert "one region" in stdout
    reg = xr.load_dataset(root / "run_p0" / "analysis" / "regimes.nc", engine="h5netcdf")
    assert reg["region"].values.tolist() == [0]


@pytest.mark.parametrize("missing", ["model.pt", "latents.nc"])
def test_run_dir_missing_file_exits_2(setup, capsys, missing):
    root, _ = setup
    broken = root / f"broken_{missing}"
    shutil.copytree(root / "run_p1", broken, ignore=shutil.ignore_patterns("analysis"))
    (broken / missing).unlink()
    code, _, err = run_cli(["analyze", str(broken), "--out", str(root / "no_out")], capsys)
    assert code == 2
    assert missing in err and len(err.strip().splitlines()) == 1
    assert not (root / "no_out").exists()


def test_mismatched_dataset_exits_2(setup, capsys):
    root, ds = setup
    other = ds.assign_coords(trial=ds["trial"].values + 1000)
    save_dataset(other, root / "other.h5")
    out = root / "mismatch_out"
    code, _, err = run_cli(
        ["analyze", str(root / "run_p1"), "--dataset", str(root / "other.h5"), "--out", str(out)],
        capsys,
    )
    assert code == 2
    assert "trials do not match" in err
    assert not out.exists()

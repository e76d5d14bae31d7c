"""``alrnn-neuro analyze --trial-vars``: any trial coord (numeric too) is scored against the
regions; unknown names stop with one line naming the coords there are."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from alrnn_neuro.analysis.pipeline import analyze_run, with_trial_variables
from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, fit


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny AL-RNN fit on a session with a numeric, signed trial variable (-0.0 and 0.0)."""
    root = tmp_path_factory.mktemp("trial_vars")
    ds = simulate_stimulus_selection(n_trials=40, n_units=5, seed=2, lfp=False)
    side = np.where(ds["location"].values == "left", -1.0, 1.0)
    strength = np.array([0.0, 12.8, 51.2])[np.arange(ds.sizes["trial"]) % 3]
    ds = ds.assign_coords(signed_coherence=("trial", side * strength))  # has -0.0 and 0.0
    assert {"-0.0", "0.0"} <= set(ds["signed_coherence"].values.astype(str))
    save_dataset(ds, root / "data.h5")
    config = FitConfig(latent_dim=3, pwl_units=1, epochs=2, batch_size=16, init_bins=5)
    fit(ds, config, out=root / "run", dataset_path=root / "data.h5")
    return root


def test_cli_scores_a_numeric_trial_coord(run, capsys):
    out = run / "analysis"
    try:
        main(
            [
                "analyze",
                str(run / "run"),
                "--trial-vars",
                "signed_coherence,rule",
                "--n-null",
                "5",
                "--no-figures",
                "--out",
                str(out),
            ]
        )
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    assert code == 0, capsys.readouterr().err
    alignment = json.loads((out / "alignment.json").read_text())
    variables = {row["variable"] for row in alignment["scores"]}
    assert variables == {"epoch", "signed_coherence", "rule"}
    scored = [r for r in alignment["scores"] if r["variable"] == "signed_coherence"]
    assert all(np.isfinite(r["ami"]) for r in scored) and len(scored) > 1  # all + per epoch


def test_numeric_levels_are_values_so_zero_is_one_level(run):
    from alrnn_neuro.training import rundir as rd

    latents = rd.read_netcdf(run / "run" / rd.LATENTS)
    assert np.unique(latents["signed_coherence"].values.astype(str)).size == 6
    canonical = with_trial_variables(latents, ("signed_coherence",))
    assert np.unique(canonical["signed_coherence"].values.astype(str)).size == 5
    result = analyze_run(run / "run", n_null=0, trial_variables=("signed_coherence",))
    assert result.alignment["trial_variables"] == ["signed_coherence"]


def test_library_names_the_coords_there_are(run):
    with pytest.raises(ConfigError, match=r"\['colour'\] are not trial coords.*choose from \["):
        analyze_run(run / "run", n_null=0, trial_variables=("colour", "rule"))


def test_installed_cli_unknown_trial_variable_is_one_line(run, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alrnn_neuro",
            "analyze",
            str(run / "run"),
            "--trial-vars",
            "coherence",
            "--n-null",
            "0",
            "--no-figures",
            "--out",
            str(tmp_path / "a"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "'coherence'" in lines[0] and "signed_coherence" in lines[0]
    assert "--trial-vars" in lines[0]
    assert not (tmp_path / "a").exists()

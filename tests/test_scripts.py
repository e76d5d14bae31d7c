"""Scripts of ``scripts/`` that docs and issues rely on run to the end on small arguments.

``gpu_check.py`` is what a session runs when it is lent a GPU (minutes of device time are
scarce, so it must not fail there for a reason the CPU dry run shows); ``make_lip_dots_dataset.py``
writes the dataset of the LIP verdict recipe (docs/verdicts.md); ``validate_selection.py`` is
the selection's ground-truth check (issue 14). The long ones (``recovery_table.py``,
``task_control_fpr.py``) are not run here: they take minutes per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alrnn_neuro.data.h5 import load_dataset
from tests.conftest import run_script

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.slow
def test_gpu_check_dry_run_on_the_cpu_agrees_with_itself(tmp_path):
    out = tmp_path / "gpu_check.json"
    run_script(
        SCRIPTS / "gpu_check.py",
        "--device",
        "cpu",
        "--skip-timing",
        "--json",
        str(out),
        cwd=tmp_path,
    )
    figures = json.loads(out.read_text())
    assert figures["agreement_ok"] == 1
    for name in ("engine", "poisson", "ensemble_params", "single_metrics"):
        assert figures[f"{name}_rel_diff"] == 0  # the same device on both sides: exactly equal


@pytest.mark.slow
def test_make_lip_dots_dataset_writes_the_verdict_recipes_trials(tmp_path):
    out = tmp_path / "lip" / "lip_dots.h5"
    run_script(SCRIPTS / "make_lip_dots_dataset.py", "--out", str(out), cwd=tmp_path)
    ds = load_dataset(out)
    assert (ds.sizes["trial"], ds.sizes["unit"]) == (1163, 29)  # docs/verdicts.md section 2
    assert "motion_class" in ds.coords
    assert "Drugowitsch" in ds.attrs["licence"]  # the source's notice travels with the file


@pytest.mark.slow
def test_validate_selection_runs_one_small_seed(tmp_path):
    small = ["--n-trials", "60", "--n-units", "8", "--epochs", "2", "--patience", "0"]
    args = ["--out", str(tmp_path / "v"), "--generators", "linear", "--seeds", "201", *small]
    run = run_script(SCRIPTS / "validate_selection.py", *args, cwd=tmp_path)
    summary = json.loads((tmp_path / "v" / "summary.json").read_text())
    (row,) = summary["rows"]
    assert (row["generator"], row["data_seed"]) == ("linear", 201)
    assert "linear seed 201: minimal P" in run.stdout + run.stderr

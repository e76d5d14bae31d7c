"""The tutorial notebooks and the example scripts run end to end; a failing cell or script fails.

Notebooks run top to bottom in a fresh kernel of this interpreter, in an empty working
directory, with one BLAS/OpenMP thread (``scripts/execute_notebooks.py`` runs them the same
way to store their outputs). Example scripts run with small arguments (a few epochs, few null
draws), so they check that the scripts work, not what they find.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "examples" / "notebooks").glob("*.ipynb"))
EXAMPLES = REPO / "examples"
#: the tutorials a lab opens first (README "Notebooks")
EXPECTED_NOTEBOOKS = (
    "01_demo_fit_analyze_rsa.ipynb",
    "02_your_spike_times.ipynb",
    "03_how_much_nonlinearity.ipynb",
)
#: a stored notebook above this size holds outputs it should not (huge tables, big figures)
MAX_NOTEBOOK_BYTES = 600_000
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: small arguments of every example script ({out} = a fresh folder) and a file it must write
SCRIPT_RUNS = {
    "real_recordings_lip.py": (
        ["--out", "{out}", "--epochs", "2", "--n-null", "5", "--n-perm", "20", "--n-boot", "200"],
        "P2/analysis/alignment.json",
    ),
    "regime_recovery_search.py": (
        ["--root", "{out}", "--only", "m7p2_mar", "--epochs", "2", "--n-null", "5"],
        "m7p2_mar/recovery.json",
    ),
    "regimes_stimulus_selection.py": (
        ["--out", "{out}", "--epochs", "2", "--n-null", "5"],
        "analysis/alignment.json",
    ),
    "rsa_stimulus_selection.py": (
        ["--run", "{out}", "--epochs", "2", "--n-perm", "20"],
        "rsa_example/rsa_similarity.png",
    ),
}


def executor():
    """``scripts/execute_notebooks.py`` as a module (its ``execute_notebook``)."""
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", REPO / "scripts" / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_outputs(notebook) -> list:
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def test_the_tutorial_notebooks_are_there():
    assert tuple(path.name for path in NOTEBOOKS) == EXPECTED_NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_stored_notebook_is_executed_and_small(path):
    """Committed with its outputs (every code cell run, in order, no error) and no bloat."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not error_outputs(notebook)
    figures = [out for cell in code for out in cell.outputs if "image/png" in out.get("data", {})]
    assert figures, "no figure stored"
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_without_error(path, tmp_path, monkeypatch):
    for name, value in ONE_THREAD.items():
        monkeypatch.setenv(name, value)
    executed = executor().execute_notebook(path, cwd=tmp_path)
    assert not error_outputs(executed)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    assert (tmp_path / "runs").is_dir()  # what the notebook writes stays in its working folder


def test_a_failing_cell_fails_the_execution(tmp_path, monkeypatch):
    """The executor runs in the given folder with one thread, and a cell's error fails it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = tmp_path / "broken.ipynb"
    notebook = new_notebook(
        cells=[
            new_code_cell("import os\nprint(os.getcwd(), os.environ['OMP_NUM_THREADS'])"),
            new_code_cell("raise ValueError('this cell is broken')"),
            new_code_cell("print('never reached')"),
        ]
    )
    nbformat.write(notebook, path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(CellExecutionError, match="this cell is broken"):
        executor().execute_notebook(path, cwd=workdir)

    notebook.cells = notebook.cells[:1]
    nbformat.write(notebook, path)
    executed = executor().execute_notebook(path, cwd=workdir)
    assert executed.cells[0].outputs[0]["text"].split() == [str(workdir.resolve()), "1"]


def test_every_example_script_has_a_quick_run():
    assert set(SCRIPT_RUNS) == {path.name for path in EXAMPLES.glob("*.py")}


@pytest.mark.parametrize("name", sorted(SCRIPT_RUNS))
def test_example_script_runs(name, tmp_path):
    arguments, written = SCRIPT_RUNS[name]
    out = tmp_path / "out"
    command = [sys.executable, str(EXAMPLES / name)]
    command += [arg.replace("{out}", str(out)) for arg in arguments]
    env = {**os.environ, **ONE_THREAD, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip()
    assert (out / written).is_file(), sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing beside --out

"""Progress reaches people: bars on terminals, periodic lines in logs, cells with ETA."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest
from rich.console import Console

from alrnn_neuro.cli.app import CurrentStderrHandler, main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.progress import CellProgress, EpochProgress, draws_bars

SMALL = FitConfig(latent_dim=3, pwl_units=1, epochs=3, batch_size=16, init_bins=5)


@pytest.fixture(scope="module")
def ds():
    return simulate_stimulus_selection(n_trials=30, n_units=5, seed=2, lfp=False)


@pytest.fixture(scope="module")
def data_file(ds, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "data.h5"
    save_dataset(ds, path)
    return path


def _epoch(k: int, n: int = 5) -> dict:
    return {"epoch": k, "epochs": n, "train_loss": 1.0 / k, "val_loss": 2.0 / k, "best_epoch": k}


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code)
    return 0


def test_a_log_file_gets_the_first_and_last_line_within_the_interval():
    log = io.StringIO()
    display = EpochProgress(Console(file=log, width=200), interval=3600)
    for k in range(1, 6):
        display(_epoch(k))
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/5  train 1.0000  val 2.0000  best 1")
    assert lines[1].startswith("epoch 5/5") and lines[1].endswith("eta 0:00:00")


def test_every_interval_gives_a_line_with_elapsed_and_eta():
    log = io.StringIO()
    display = EpochProgress(Console(file=log, width=200), interval=0)
    for k in range(1, 4):
        display(_epoch(k, 3))
    lines = log.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("elapsed 0:00:0" in line and "eta " in line for line in lines)


def test_an_ensemble_shows_its_best_member():
    log = io.StringIO()
    display = EpochProgress(Console(file=log, width=200), interval=0)
    display(
        {
            "epoch": 1,
            "epochs": 2,
            "train_loss": [3.0, 1.0],
            "val_loss": [3.5, 1.5],
            "best_epoch": [1, 1],
        }
    )
    assert "train 1.0000  val 1.5000" in log.getvalue()


def test_a_terminal_gets_a_bar_and_a_file_or_bare_notebook_gets_lines():
    assert draws_bars(Console(file=io.StringIO(), force_terminal=True))
    assert not draws_bars(Console(file=io.StringIO(), force_terminal=False))
    has_widgets = __import__("importlib").util.find_spec("ipywidgets") is not None
    assert draws_bars(Console(file=io.StringIO(), force_jupyter=True)) == has_widgets
    screen = io.StringIO()
    display = EpochProgress(Console(file=screen, force_terminal=True, width=120))
    for k in range(1, 4):
        display(_epoch(k, 3))
    display.stop()
    assert "epoch" in screen.getvalue() and "3/3" in screen.getvalue()
    assert "━" in screen.getvalue() and "eta 0:00:00" in screen.getvalue()  # the bar


def test_fit_shows_progress_only_when_asked(ds, capsys):
    fit(ds, SMALL)
    assert capsys.readouterr().out == ""
    fit(ds, SMALL, progress=True)
    out = capsys.readouterr().out
    assert "epoch 1/3" in out and "epoch 3/3" in out


def test_fit_progress_keeps_the_users_callback(ds, capsys):
    seen = []
    fit(ds, SMALL, progress=True, callback=lambda info: seen.append(info["epoch"]))
    assert seen == [1, 2, 3] and "epoch 3/3" in capsys.readouterr().out


def test_cli_fit_writes_progress_lines_to_a_log(data_file, tmp_path, capsys):
    argv = [
        "fit",
        str(data_file),
        "--out",
        str(tmp_path / "run"),
        "--latent-dim",
        "3",
        "--pwl-units",
        "1",
        "--epochs",
        "3",
        "--init-bins",
        "5",
    ]
    assert _run(argv) == 0
    captured = capsys.readouterr()  # not a terminal: lines in the log (stdout), stderr clean
    assert "epoch 1/3" in captured.out and "epoch 3/3" in captured.out
    assert "eta 0:00:00" in captured.out and captured.err == ""


def test_sweep_reports_cells_done_of_total(ds, tmp_path):
    events = []
    grid = SweepGrid(models=("alrnn", "rnn"), pwl_units=(0, 1), seeds=(0,), latent_dims=(3,))
    config = SMALL.replace(epochs=1)
    run_sweep(ds, grid, config, out=tmp_path / "sw", progress=events.append)
    assert sorted(len(e["cells"]) for e in events) == [0, 1, 2]  # rnn alone, the 2 AL-RNNs
    finished = [len(e["cells"]) for e in events]
    assert [e["done"] for e in events] == [sum(finished[: k + 1]) for k in range(3)]
    assert events[0]["cells"] == [] and events[0]["dashboard"] is None
    assert events[-1]["done"] == 3 and {e["total"] for e in events} == {3}
    assert {e["sweep"] for e in events} == {str(tmp_path / "sw")}
    again = []
    run_sweep(ds, grid, config, out=tmp_path / "sw", progress=again.append)
    assert [(e["done"], e["total"]) for e in again] == [(3, 3)]


def test_cell_display_counts_and_starts_over_for_each_sweep():
    log = io.StringIO()
    display = CellProgress(Console(file=log, width=200), interval=0)
    for done in (0, 1, 2):
        display({"sweep": "a", "done": done, "total": 2, "cells": [], "dashboard": None})
    display({"sweep": "b", "done": 0, "total": 4, "cells": [], "dashboard": "http://x/status"})
    text = log.getvalue()
    assert "sweep a: 0 of 2 cells done" in text and "cells 2/2" in text
    assert "sweep b: 0 of 4 cells done" in text and "dask dashboard: http://x/status" in text


def test_cli_sweep_and_reproduce_show_cells_with_eta(data_file, tmp_path, capsys):
    argv = [
        "sweep",
        str(data_file),
        "--out",
        str(tmp_path / "sw"),
        "--pwl-units",
        "0,1",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--latent-dim",
        "3",
        "--init-bins",
        "5",
    ]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "cells 0/2" in out and "cells 2/2" in out and "eta 0:00:00" in out
    assert _run(["reproduce", "tasks", "--setting", "tiny", "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert out.count("cells 0/") >= 2 and "eta 0:00:00" in out  # one count per task sweep


def test_log_records_follow_the_current_stderr(monkeypatch):
    handler = CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)  # what a progress bar does while it draws
    handler.emit(logging.makeLogRecord({"msg": "a warning"}))
    assert replaced.getvalue() == "a warning\n"


@pytest.mark.slow  # starting a local dask cluster takes ~10 s
def test_dask_executor_reports_the_dashboard_link(ds, tmp_path):
    pytest.importorskip("dask.distributed")
    events = []
    grid = SweepGrid(models=("alrnn",), pwl_units=(0,), seeds=(0,), latent_dims=(3,))
    run_sweep(
        ds,
        grid,
        SMALL.replace(epochs=1),
        out=tmp_path / "sw",
        executor="dask",
        workers=1,
        dashboard=True,
        progress=events.append,
    )
    assert events[0]["dashboard"].startswith("http://127.0.0.1:")
    assert events[-1]["done"] == events[-1]["total"] == 1

"""Every FitConfig field is a flag of ``alrnn-neuro fit``; errors name the flag that fixes them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alrnn_neuro.cli.app import app, main
from alrnn_neuro.cli.fit_options import FIT_FLAGS, parse_fit_flags
from alrnn_neuro.cli.sweep import GRID_FIELDS
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.config import FitConfig

FAST = ["--latent-dim", "3", "--pwl-units", "1", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("flags") / "small.h5"
    save_dataset(simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False), path)
    return path


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code)
    return 0


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return " ".join(result.output.replace("│", " ").split())  # undo the wrapping in panels


def test_every_fit_config_field_is_a_flag_in_fit_help():
    fields = {f.name for f in dataclasses.fields(FitConfig)}
    assert {f.name for f in FIT_FLAGS} == fields
    text = _help("fit")
    for flag in FIT_FLAGS:
        assert flag.flag in text, flag.flag
        assert f"TOML: {flag.name};" in text, flag.name
    assert "TOML file given with --config" in text


def test_sweep_takes_every_fit_flag_its_grid_does_not_set():
    text = _help("sweep")
    for flag in FIT_FLAGS:
        if flag.name not in GRID_FIELDS:
            assert flag.flag in text, flag.flag
    assert "--data-seed" in text and "--split-seed" in text


def test_help_lists_the_choices():
    text = _help("fit")
    for choice in ("alrnn | rnn | gru | lstm", "learned | zero | data", "exponential | cosine"):
        assert choice in text


def test_flags_reach_the_saved_config(data_file, tmp_path):
    out = tmp_path / "run"
    flags = (
        "--inputs none --init-bins 5 --init-epochs iti --patience 3 --conditions rule,location "
        "--split-seed 7 --mar 0.5 --mar-units 1 --split 0.6,0.2,0.2 --lr-schedule cosine "
        "--optimizer radam --self-coupling 0.1 --tf-interval 5 --tf-anneal 0.2 --weight-decay 0.001"
    )
    argv = ["fit", str(data_file), *FAST, "--out", str(out), *flags.split()]
    assert _run(argv) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["inputs"] == [] and config["init_bins"] == 5 and config["init_epochs"] == ["iti"]
    assert config["patience"] == 3 and config["conditions"] == ["rule", "location"]
    assert config["split_seed"] == 7 and config["mar"] == 0.5 and config["mar_units"] == 1
    assert config["split"] == [0.6, 0.2, 0.2] and config["lr_schedule"] == "cosine"
    assert config["optimizer"] == "radam" and config["self_coupling"] == 0.1
    assert config["tf_anneal"] == 0.2 and config["weight_decay"] == 0.001
    split = json.loads((out / "split.json").read_text())
    assert split["split_seed"] == 7 and split["fractions"]["val"] == 0.2


def test_inputs_by_name_and_all(data_file, tmp_path):
    out = tmp_path / "named"
    assert (
        _run(["fit", str(data_file), *FAST, "--out", str(out), "--inputs", "cue_local,hold"]) == 0
    )
    assert json.loads((out / "config.json").read_text())["config"]["inputs"] == [
        "cue_local",
        "hold",
    ]
    assert parse_fit_flags({"inputs": "all"}) == {"inputs": ["all"]}
    assert parse_fit_flags({"inputs": "None", "conditions": "auto"}) == {
        "inputs": [],
        "conditions": [],
    }


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--lr-final", "2"], ("lr_final=2.0", "--lr-final")),
        (["--inputs", "nosuch"], ("['nosuch']", "--inputs none")),
        (["--conditions", "colour"], ("['colour']", "--conditions auto")),
        (["--init-epochs", "dusk"], ("['dusk']", "--init-epochs none")),
        (["--init-bins", "500"], ("init_bins=500", "--init-bins")),
        (["--split", "0.5,x"], ("--split", "0.7,0.15,0.15")),
        (["--split", "0.5,0.6"], ("split=[0.5, 0.6]", "--split")),
        (["--mar-units", "9"], ("mar_units=9", "--mar-units")),
        (
            ["--behaviour", "--behaviour-label", "nosuch"],
            ("behaviour_label='nosuch'", "--no-behaviour"),
        ),
    ],
)
def test_errors_name_the_flag_that_fixes_them(data_file, tmp_path, capsys, extra, names):
    out = tmp_path / "run"
    assert _run(["fit", str(data_file), *FAST, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and all(name in err for name in names), err
    assert not out.exists()


def test_unknown_toml_key_names_the_close_match(data_file, tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text("patients = 3\n")
    assert _run(["fit", str(data_file), "--config", str(toml), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'patience'" in err and "fit --help" in err


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--tf-alpha", "0.3"], "teacher forcing is off"),
        (["--lr-schedule", "constant", "--lr-final", "0.5"], "the lr schedule is constant"),
        (["--mar-definition", "study"], "MAR is off"),
        (["--behaviour-weight", "0.5"], "there is no choice head"),
        (["--init-state", "zero", "--init-bins", "5"], "init_state is not data"),
        (["--model", "gru", "--pwl-units", "1"], "only the AL-RNN has PWL units"),
    ],
)
def test_a_flag_the_config_makes_inert_is_refused(data_file, tmp_path, capsys, extra, why):
    # each was accepted, recorded in config.json, and changed nothing (same metrics)
    out = tmp_path / "run"
    assert _run(["fit", str(data_file), *FAST, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no effect here" in err and why in err, err
    assert "fix: add" in err and not out.exists()

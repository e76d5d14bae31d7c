"""``alrnn-neuro fit``: flags, TOML precedence, one-line errors, Ctrl-C / SIGKILL and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection

FAST = ["--latent-dim", "3", "--pwl-units", "1", "--epochs", "2", "--batch-size", "16"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small.h5"
    save_dataset(simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False), path)
    return path


@pytest.fixture(scope="module")
def signal_file(tmp_path_factory) -> Path:
    ds = simulate_stimulus_selection(n_trials=20, n_units=4, seed=1, lfp=False)
    ds = ds.rename(spikes="signal")
    ds["signal"] = ds["signal"].astype(float) * 0.5
    path = tmp_path_factory.mktemp("data") / "signal.h5"
    save_dataset(ds, path)
    return path


@pytest.fixture(scope="module")
def no_inputs_file(tmp_path_factory) -> Path:
    ds = make_dataset(np.ones((6, 40, 3), dtype=np.int32), bin_size=0.05, align_event="go")
    path = tmp_path_factory.mktemp("data") / "no_inputs.h5"
    save_dataset(ds, path)
    return path


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code)
    return 0


def test_fit_writes_the_default_run_dir(data_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _run(["fit", str(data_file), *FAST]) == 0
    run = tmp_path / "runs" / "small-alrnn-M3-P1-seed0"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    assert "run saved in" in capsys.readouterr().out


def test_flags_override_toml_which_overrides_defaults(data_file, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("latent_dim = 3\npwl_units = 1\nepochs = 1\nlr = 0.01\nbatch_size = 16\n")
    out = tmp_path / "run"
    argv = ["fit", str(data_file), "--config", str(toml), "--latent-dim", "4", "--out", str(out)]
    assert _run(argv) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["latent_dim"], config["pwl_units"], config["lr"]) == (4, 1, 0.01)
    assert config["batch_size"] == 16 and config["epochs"] == 1 and config["seed"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--latent-dim", "6", "--pwl-units", "7"], "pwl_units=7"),
        (["--latent-dim", "0", "--pwl-units", "0"], "latent_dim=0"),
        (["--device", "tpu"], "device='tpu'"),
        (["--obs", "binomial"], "obs='binomial'"),
    ],
)
def test_bad_settings_fail_with_one_line(data_file, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert _run(["fit", str(data_file), *FAST, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_cuda_without_cuda_fails(data_file, tmp_path, capsys):
    assert _run(["fit", str(data_file), *FAST, "--device", "cuda", "--out", str(tmp_path / "r")])
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_poisson_on_continuous_data_fails(signal_file, tmp_path, capsys):
    assert _run(["fit", str(signal_file), *FAST, "--obs", "poisson", "--out", str(tmp_path)]) == 2
    assert "needs spike counts" in capsys.readouterr().err


def test_gaussian_is_picked_for_continuous_data(signal_file, tmp_path):
    assert _run(["fit", str(signal_file), *FAST, "--out", str(tmp_path / "run")]) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["obs"] == "gaussian"


def test_missing_inputs_fail(no_inputs_file, tmp_path, capsys):
    assert _run(["fit", str(no_inputs_file), *FAST, "--out", str(tmp_path / "r")]) == 2
    assert "inputs = []" in capsys.readouterr().err


def test_missing_dataset_fails(tmp_path, capsys):
    assert _run(["fit", str(tmp_path / "nope.h5"), *FAST]) == 2
    assert "no such file" in capsys.readouterr().err


def test_other_run_in_out_dir_is_refused_unless_overwrite(data_file, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _run(["fit", str(data_file), *FAST, "--out", out]) == 0
    assert _run(["fit", str(data_file), *FAST, "--seed", "3", "--out", out]) == 2
    assert "seed: 0 there, 3 now" in capsys.readouterr().err
    assert _run(["fit", str(data_file), *FAST, "--seed", "3", "--out", out, "--overwrite"]) == 0
    assert _run(["fit", str(data_file), *FAST, "--seed", "4", "--out", out, "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def _without_run_id(path: Path) -> str:
    """The text of a JSON file less its ``run_id`` (two fits differ only there)."""
    record = json.loads(path.read_text())
    record.pop("run_id")
    return json.dumps(record)


def _checkpoint_epoch(run: Path) -> int:
    try:
        return int(torch.load(run / "checkpoint.pt", weights_only=True)["epoch"])
    except (FileNotFoundError, RuntimeError, EOFError):
        return 0


def _default_sigint() -> None:
    # a shell starts background jobs with SIGINT ignored, and a child inherits that: restore
    # the default so the child's Python turns SIGINT into KeyboardInterrupt (as under Ctrl-C)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "alrnn_neuro", "fit", *argv]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)  # fmt: skip


def _wait_for_epoch(process: subprocess.Popen, run: Path, epoch: int) -> int:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        reached = _checkpoint_epoch(run)
        if reached >= epoch:
            return reached
        time.sleep(0.02)
    raise AssertionError(f"the fit ended or stalled before epoch {epoch}: {process.poll()}")


def test_ctrl_c_and_sigkill_then_resume_give_the_uninterrupted_result(data_file, tmp_path):
    toml = tmp_path / "run.toml"
    # enough epochs that the watcher below (polling checkpoints) cannot miss the running fit
    toml.write_text("latent_dim = 3\npwl_units = 1\nepochs = 100\npatience = 0\nbatch_size = 8\n")
    base = [str(data_file), "--config", str(toml)]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert _run(["fit", *base, "--out", str(straight)]) == 0

    first = _start([*base, "--out", str(broken)], tmp_path)
    _wait_for_epoch(first, broken, 3)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err.decode()
    assert "--resume" in err.decode() and "checkpoint of epoch" in err.decode()
    assert not (broken / "metrics.json").exists()

    second = _start([*base, "--out", str(broken), "--resume"], tmp_path)
    killed_at = _wait_for_epoch(second, broken, _checkpoint_epoch(broken) + 3)
    second.kill()  # SIGKILL: no handler runs, only atomic checkpoints protect the run
    second.communicate(timeout=60)
    assert killed_at < 100 and not (broken / "metrics.json").exists()

    assert _run(["fit", *base, "--out", str(broken), "--resume"]) == 0
    assert _without_run_id(broken / "metrics.json") == _without_run_id(straight / "metrics.json")
    a = torch.load(straight / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(broken / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)

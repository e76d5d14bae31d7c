"""``alrnn-neuro simulate task NAME --variant short|study``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.simulate.tasks import make_task

STUDY_NAMES = ["addition", "copy", "variable_delay_copy", "contextual_integration", "multitask"]


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_simulate_task_study_variant_writes_the_study_definition(tmp_path, capsys, name):
    out = tmp_path / f"{name}.h5"
    main(["simulate", "task", name, "--variant", "study", "--n-trials", "3", "--out", str(out)])
    ds = load_dataset(out)
    assert ds.attrs["variant"] == "study"
    expected = make_task(name, n_trials=3, seed=0, variant="study")
    np.testing.assert_array_equal(ds.inputs.values, expected.inputs.values)
    np.testing.assert_array_equal(ds.loss_mask.values, expected.loss_mask.values)
    assert "study variant" in capsys.readouterr().out


def test_simulate_task_default_variant_is_short(tmp_path):
    out = tmp_path / "copy.h5"
    main(["simulate", "task", "copy", "--n-trials", "3", "--out", str(out)])
    ds = load_dataset(out)
    assert ds.attrs["variant"] == "short"
    np.testing.assert_array_equal(
        ds.inputs.values, make_task("copy", n_trials=3, seed=0).inputs.values
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["copy", "--variant", "paper"], "--variant 'paper' is unknown; fix: one of short, study"),
        (
            ["stimulus_selection", "--variant", "study"],
            "'stimulus_selection' has no study variant; fix: --variant short",
        ),
        (["adition", "--variant", "study"], "'adition' is unknown; fix: one of"),
    ],
)
def test_simulate_task_bad_variant_exits_2_with_one_line(tmp_path, capsys, argv, message):
    out = tmp_path / "x.h5"
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "task", *argv, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_installed_entry_point_runs_the_study_variant(tmp_path):
    out = tmp_path / "suite.h5"
    command = [sys.executable, "-m", "alrnn_neuro", "simulate", "task", "GoNogo"]
    done = subprocess.run(
        [*command, "--variant", "study", "--n-trials", "4", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert load_dataset(out).sizes["input"] == 18
    bad = subprocess.run(
        [*command, "--variant", "paper", "--out", str(tmp_path / "x.h5")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "fix: one of short, study" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.h5").exists()


def _limit_memory():  # pragma: no cover - runs in the child process
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limit via setrlimit")
def test_a_request_beyond_memory_is_one_line_exit_2_and_no_file(tmp_path):
    # 1,000,000 trials per task of the study suite need about 150 GB
    out = tmp_path / "huge.h5"
    args = ["simulate", "task", "multitask", "--variant", "study", "--n-trials", "1000000"]
    done = subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "out of memory" in lines[0] and "fix:" in lines[0]
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []

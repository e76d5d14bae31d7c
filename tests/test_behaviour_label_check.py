"""The choice head's label must be categorical: a continuous or id label is refused."""

from __future__ import annotations

import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from tests.conftest import entry_point


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("behaviour") / "sim.h5"
    save_dataset(simulate_stimulus_selection(n_trials=40, n_units=5, seed=1, lfp=False), path)
    return path


@pytest.mark.parametrize(("label", "why"), [("rt", "distinct values"), ("trial", "trial id")])
def test_a_non_categorical_behaviour_label_is_one_line_exit_2(data, tmp_path, label, why):
    out = tmp_path / "run"
    done = entry_point(
        "fit", data, "--out", out, "--behaviour", "--behaviour-label", label, "--epochs", "1"
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"behaviour_label={label!r} is not a categorical label" in lines[0] and why in lines[0]
    assert "fix:" in lines[0] and not out.exists()

"""Messages of bad flag values name the flag the user typed and a fix of its own form."""

from __future__ import annotations

import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from tests.conftest import entry_point


def _cli(*args):
    done = entry_point(*args)
    return done.returncode, done.stderr.strip().splitlines()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("flags")
    ds = simulate_stimulus_selection(n_trials=30, n_units=5, seed=1, lfp=False)
    save_dataset(ds, root / "data.h5")
    cfg = FitConfig(latent_dim=3, pwl_units=1, epochs=1, batch_size=16, init_bins=5)
    fit(ds, cfg, out=root / "run", dataset_path=root / "data.h5")
    return root


@pytest.mark.parametrize("flag", ["--gate-inputs", "--evidence-inputs"])
def test_an_unknown_channel_names_its_flag(run, flag):
    out = run / f"an{flag}"
    code, lines = _cli("analyze", run / "run", flag, "nosuch", "--out", out, "--no-figures")
    assert code == 2 and len(lines) == 1, lines
    assert f"{flag.lstrip('-').replace('-', '_')}=['nosuch']" in lines[0]
    assert f"fix: {flag} with names" in lines[0] and "left_noise" in lines[0]
    assert not out.exists()


def test_a_init_that_is_not_numbers_suggests_mean_and_sd(run):
    code, lines = _cli("fit", run / "data.h5", "--a-init", "foo", "--out", run / "x")
    assert code == 2 and len(lines) == 1, lines
    assert "fix: e.g. --a-init 0.9,0.1" in lines[0] and not (run / "x").exists()

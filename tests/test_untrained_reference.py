"""The untrained reference of a one-fit analysis: the fit's own initialisation, same inputs.

Its job is to make findings fail where training did not make them: analysing the untrained
network itself as if it were the fit must flag every finding it has as shared.
"""

from __future__ import annotations

import json

import pytest

from alrnn_neuro.analysis import analyze_run
from alrnn_neuro.analysis.untrained_reference import AMI_MARGIN, shared_with_untrained
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit, initial_fit
from alrnn_neuro.training.config import FitConfig
from tests.conftest import entry_point

CONFIG = FitConfig(latent_dim=4, pwl_units=2, epochs=3, batch_size=16, init_bins=5, seed=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrained")
    ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=2, lfp=False)
    save_dataset(ds, root / "data.h5")
    fit(ds, CONFIG, out=root / "run", dataset_path=root / "data.h5")
    return root, ds


def test_the_untrained_network_analysed_as_a_fit_shares_every_finding(setup):
    _, ds = setup
    untrained = initial_fit(ds, CONFIG)
    result = analyze_run(untrained, ds, n_null=19, cycle_periods=())
    s = result.summary
    # the reference is the same network: the same AMI, the same primitives
    assert s["untrained"]["model_seed"] == CONFIG.seed
    assert s["untrained"]["epoch_ami"] == pytest.approx(s["epoch_ami"])
    assert s["untrained"]["primitives_found"] == s["primitives_found"]
    expected = (["epoch_alignment"] if s["epoch_ami"] is not None else []) + s["primitives_found"]
    assert s["shared_with_untrained"] == expected and "epoch_alignment" in expected


def test_a_trained_run_is_compared_with_its_own_initialisation(setup):
    root, ds = setup
    result = analyze_run(root / "run", n_null=19, cycle_periods=())
    reference = result.summary["untrained"]
    direct = analyze_run(initial_fit(ds, CONFIG), ds, n_null=19, cycle_periods=(), untrained=False)
    assert reference["epoch_ami"] == pytest.approx(direct.summary["epoch_ami"])
    assert reference["primitives_found"] == direct.summary["primitives_found"]
    assert result.summary["shared_with_untrained"] == shared_with_untrained(
        result.summary, reference
    )
    off = analyze_run(root / "run", n_null=19, cycle_periods=(), untrained=False)
    assert "untrained" not in off.summary


def test_alignment_counts_as_learned_only_beyond_the_margin():
    fit_ = {"epoch_ami": 0.30, "primitives_found": ["integration"]}
    assert shared_with_untrained(fit_, {"epoch_ami": 0.30 - AMI_MARGIN * 1.01}) == []
    assert shared_with_untrained(fit_, {"epoch_ami": 0.30 - AMI_MARGIN * 0.99}) == [
        "epoch_alignment"
    ]
    # no AMI (one epoch label) on either side: nothing to compare
    assert shared_with_untrained({"epoch_ami": None}, {"epoch_ami": 0.5}) == []


def test_margin_is_the_reproductions_epoch_alignment_margin():
    assert AMI_MARGIN == criteria()["epoch_alignment"]["min_gain_over_untrained"]


def _analyze(*args):
    return entry_point("analyze", *args)


def test_cli_prints_the_reference_and_no_untrained_skips_it(setup):
    root, _ = setup
    out, off = root / "an", root / "an_off"
    done = _analyze(root / "run", "--out", out, "--n-null", "9", "--no-figures")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.replace("\n", " ")  # rich wraps at 80 columns
    assert "untrained reference (the network this fit started from, seed 3" in printed
    saved = json.loads((out / "alignment.json").read_text())
    assert saved["untrained"]["model_seed"] == 3 and "shared_with_untrained" in saved
    done = _analyze(root / "run", "--out", off, "--n-null", "9", "--no-figures", "--no-untrained")
    assert done.returncode == 0, done.stderr
    # the reference's own line (the scope text names "the untrained reference" as a concept)
    assert "untrained reference (the network" not in done.stdout.replace("\n", " ")
    assert "untrained reference: skipped" not in done.stdout.replace("\n", " ")
    assert "untrained" not in json.loads((off / "alignment.json").read_text())

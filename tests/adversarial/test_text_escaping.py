"""Text from users' files (epoch labels, unit areas, input names, paths) is printed and drawn
literally: rich markup (``[/]``, ``[red]``) and matplotlib mathtext (``$\\foo{$``) in it neither
crash a command nor change what is shown."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.plotting.regimes import plot_region_epoch, save_figure
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from tests.adversarial.builders import run_in_process

pytestmark = pytest.mark.adversarial

MATH = r"$\foo{$"
MARKUP = "[/]"
COLOUR = "[red]x"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A session whose labels are markup and mathtext, on disk, with a small run of it."""
    root = tmp_path_factory.mktemp("text") / "a[bold]b"
    root.mkdir()
    ds = simulate_stimulus_selection(n_trials=30, n_units=4, seed=5, lfp=False)
    epoch = ds["epoch"].values.astype(object)
    epoch[epoch == "hold"] = f"hold {MATH}"
    epoch[epoch == "stimulus"] = f"stim {MARKUP}"
    ds["epoch"] = (("trial", "time"), epoch.astype(str))
    ds = ds.assign_coords(area=("unit", np.array([COLOUR, "A1", MARKUP, "mPFC"])))
    path = root / "data.h5"
    save_dataset(ds, path)
    config = FitConfig(latent_dim=3, pwl_units=2, epochs=2, batch_size=16, init_bins=5)
    fit(ds, config, out=root / "run", dataset_path=path)
    return root


def test_info_prints_markup_literally(hostile, capsys):
    assert run_in_process(["info", str(hostile / "data.h5")]) == 0
    out = capsys.readouterr().out
    assert f"stim {MARKUP}" in out and COLOUR in out and "a[bold]b" in out


def test_analyze_draws_and_prints_labels_literally(hostile, tmp_path, capsys):
    out = tmp_path / ("long-folder-name-" * 6) / "analysis"  # wider than the terminal
    code = run_in_process(["analyze", str(hostile / "run"), "--n-null", "3", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert (out / "figures" / "region_epoch.png").stat().st_size > 1000
    assert f"hold {MATH}" in (out / "figures" / "region_epoch.svg").read_text()
    assert str(out) in printed.out  # on one line: the path can be copied


def test_a_figure_of_mathtext_labels_saves_outside_the_cli(tmp_path):
    import xarray as xr

    table = xr.DataArray(
        np.ones((2, 2)),
        dims=("region", "epoch"),
        coords={"region": [0, 1], "epoch": [MATH, "$x^$"]},
    )
    paths = save_figure(plot_region_epoch(table), tmp_path, "labels")
    assert all(p.stat().st_size > 0 for p in paths)

"""Which trials and bins an RSA compares, and error messages that name the working fix."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.rsa import after_init_bins, init_bins_of, select_trials
from alrnn_neuro.analysis.rsa.matching import check_comparable, select_areas
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.training import FitConfig


def _latents(split):
    n = len(split)
    return xr.Dataset(
        {"valid": (("trial", "time"), np.ones((n, 4), bool))},
        coords={"trial": np.arange(10, 10 + n), "split": ("trial", np.array(split))},
    )


def test_select_trials_by_split(caplog):
    lat = _latents(["train", "val", "test", "train", "test"])
    ids, record = select_trials(lat)
    assert ids.tolist() == [11, 12, 14] and record["n_train_included"] == 0
    assert record["splits"] == {"test": 2, "val": 1}
    assert select_trials(lat, "test")[0].tolist() == [12, 14]
    with caplog.at_level("WARNING"):
        ids, record = select_trials(lat, "all")
    assert ids.size == 5 and record["n_train_included"] == 2
    assert "includes 2 training trials" in caplog.text


def test_select_trials_errors_name_the_fix():
    with pytest.raises(ConfigError, match="needs a 'split' trial coord.*--trials all"):
        select_trials(_latents(["train"]).drop_vars("split"))
    with pytest.raises(ConfigError, match="keeps no trial.*splits present: \\['train'\\]"):
        select_trials(_latents(["train", "train"]))
    with pytest.raises(ConfigError, match="trials = 'heldin'; choose from"):
        select_trials(_latents(["val"]), "heldin")


def test_after_init_bins_counts_from_each_trials_first_valid_bin():
    valid = np.array([[True] * 6, [False, False, True, True, True, False], [False] * 6])
    cut = after_init_bins(xr.DataArray(valid, dims=("trial", "time")), 2).values
    expected = np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(cut, expected)
    with pytest.raises(ConfigError, match="init_bins = -1"):
        after_init_bins(xr.DataArray(valid, dims=("trial", "time")), -1)


def test_init_bins_of_a_fit_configuration():
    assert init_bins_of(FitConfig(init_state="data", init_bins=7)) == 7
    assert init_bins_of({"init_state": "data", "init_bins": 5}) == 5
    assert init_bins_of({"init_state": "learned", "init_bins": 5}) == 0
    with pytest.raises(ConfigError, match="pass init_bins="):
        init_bins_of(None)


def _rdm(values, pair_units=None, n_trials=None):
    n = values.shape[-1]
    names = [f"c{k}" for k in range(n)]
    coords = {"epoch": ["stim"], "condition": names, "condition2": names}
    rdm = xr.DataArray(values[None], dims=("epoch", "condition", "condition2"), coords=coords)
    if pair_units is not None:
        rdm = rdm.assign_coords(pair_units=(rdm.dims, pair_units[None]))
    if n_trials is not None:
        rdm = rdm.assign_coords(n_trials=("condition", np.asarray(n_trials)))
    return rdm


def test_errors_print_plain_strings_and_suggest_the_fix_that_works():
    rng = np.random.default_rng(0)
    model = rng.random((4, 4))
    model = model + model.T
    np.fill_diagonal(model, 0)
    neural = np.full((4, 4), np.nan)
    np.fill_diagonal(neural, 0)
    units = np.full((4, 4), 2)  # every pair seen by 2 units only: below min_units=5
    with pytest.raises(DataValidationError) as error:
        check_comparable(
            _rdm(model, n_trials=[9, 9, 9, 9]),
            _rdm(neural, pair_units=units),
            np.str_("LIP"),
            "epoch",
            ["signed_coherence", "choice"],
            min_units=5,
        )
    text = str(error.value)
    assert "np.str_" not in text and "area 'LIP'" in text
    assert "lower --min-units (min_units=) to 2" in text
    areas = xr.Dataset(coords={"area": ("unit", np.array(["LIP", "LIP"]))})
    with pytest.raises(ConfigError) as error:
        select_areas(areas, [np.str_("MT")])
    assert str(error.value) == (
        "area(s) ['MT'] not in the dataset; fix: --area (areas=) with one of ['LIP'], or leave "
        "it out for every area"
    )


def test_the_min_units_fix_names_the_threshold_applied_after_capping():
    model = np.array([[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], dtype=float)
    neural = np.full((4, 4), np.nan)
    np.fill_diagonal(neural, 0)
    args = (_rdm(model, n_trials=[9] * 4), "LIP", "epoch", ["rule"])
    thin = _rdm(neural, pair_units=np.full((4, 4), 2)).assign_attrs(min_units_applied=[6])
    with pytest.raises(DataValidationError) as error:
        check_comparable(args[0], thin, *args[1:], min_units=100)
    text = str(error.value)
    assert "no condition pair has 6 units observed in both conditions (min_units = 100" in text
    assert "lower --min-units (min_units=) to 2" in text
    # every pair already has the 6 units applied: lowering min_units is not the fix
    full = _rdm(neural, pair_units=np.full((4, 4), 6)).assign_attrs(min_units_applied=[6])
    with pytest.raises(DataValidationError) as error:
        check_comparable(args[0], full, *args[1:], min_units=100)
    assert "lower --min-units (min_units=) to" not in str(error.value)

"""Continuous signals are fitted in standard units of each channel: the fit is the same at any
scale of the recording (volts, microvolts, z-scores), and predictions stay in its units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.models.observation import GaussianReadout
from alrnn_neuro.training import FitConfig, fit

#: a fit that learns the dataset below in about a second
CONFIG = FitConfig(
    latent_dim=3, pwl_units=1, epochs=30, lr=0.02, init_bins=5, seed=3, conditions=("direction",)
)


def signal_dataset(scale: float, n_trials: int = 60, n_time: int = 20, seed: int = 0, inputs=True):
    """Two latent random walks kicked by an input pulse of either sign (the trial's
    ``direction``), read out by 6 channels + noise."""
    rng = np.random.default_rng(seed)
    pulse = np.zeros((n_trials, n_time, 1))
    pulse[:, 5, 0] = rng.choice([-1.0, 1.0], n_trials)
    walk = np.cumsum(rng.normal(size=(n_trials, n_time, 2)) * 0.2 + pulse, axis=1)
    x = walk @ rng.normal(size=(2, 6)) + 3.0 + rng.normal(size=(n_trials, n_time, 6)) * 0.1
    return make_dataset(
        x * scale,
        kind="signal",
        bin_size=0.05,
        time=np.arange(n_time) * 0.05,
        align_event="start",
        trial_coords={"direction": pulse[:, 5, 0]},
        **({"inputs": pulse, "input_names": ["pulse"]} if inputs else {}),
    )


def test_a_gaussian_fit_is_the_same_at_any_signal_scale():
    """At 1e-6 (volts), 1 and 1e5 the same data give the same R^2 and an MSE that scales
    with the square of the scale; without standard units the 1e-6 fit was R^2 ~ -1e8."""

    results = {s: fit(signal_dataset(s), CONFIG).metrics["test"] for s in (1e-6, 1.0, 1e5)}
    reference = results[1.0]
    assert reference["r2_condition"] > 0.2  # it learned something: invariance of a real fit
    for scale, metrics in results.items():
        assert metrics["r2_condition"] == pytest.approx(reference["r2_condition"], abs=2e-3)
        assert metrics["mse"] / scale**2 == pytest.approx(reference["mse"], rel=2e-3)
        assert metrics["loss"] == pytest.approx(reference["loss"], rel=2e-3)  # standard units


def test_readout_predicts_in_signal_units_and_scores_in_standard_units():
    readout = GaussianReadout(2, 3, seed=0).double()
    mean, std = torch.tensor([1e-4, -2.0, 50.0]), torch.tensor([1e-5, 0.5, 0.0])
    readout.standardize(mean, std)
    z = torch.randn(4, 7, 2, dtype=torch.float64)
    scale = torch.tensor([1e-5, 0.5, 1e-5], dtype=torch.float64)  # constant: the others' median
    linear = z @ readout.weight.T + readout.bias
    torch.testing.assert_close(readout.predict(z), mean.double() + scale * linear)
    y = readout.predict(z) + scale * torch.randn(4, 7, 3, dtype=torch.float64)
    expected = (((readout.predict(z) - y) / scale) ** 2).mean()
    torch.testing.assert_close(readout.loss(z, y), expected)
    inverted = readout.invert(readout.predict(z))  # B has full column rank: z comes back
    torch.testing.assert_close(inverted, z)


def test_a_readout_saved_before_standard_units_loads_as_the_model_it_was():
    old = GaussianReadout(2, 3, seed=1)
    state = {k: v for k, v in old.state_dict().items() if k not in ("offset", "scale")}
    new = GaussianReadout(2, 3, seed=5)
    new.load_state_dict(state)
    z = torch.randn(2, 4, 2)
    torch.testing.assert_close(new.predict(z), z @ old.weight.T + old.bias)


def test_channels_without_a_usable_sd_stay_in_the_data_units():
    """A constant channel, one at float32 rounding noise and one never observed in training
    borrow the median SD (and, unobserved, the median mean) of the others: predictions stay
    on the data's scale instead of +-1 in volts."""
    readout = GaussianReadout(2, 5, seed=0)
    mean = torch.tensor([2e-6, 3e-6, 0.0, 0.1, 0.0])
    std = torch.tensor([1e-6, 3e-6, 0.0, 7e-9, float("nan")])
    readout.standardize(mean, std)
    spare = torch.tensor([1e-6, 3e-6]).median()
    torch.testing.assert_close(readout.scale, torch.tensor([1e-6, 3e-6, spare, spare, spare]))
    level = torch.tensor([2e-6, 3e-6, 0.0, 0.1]).median()
    torch.testing.assert_close(readout.offset, torch.tensor([2e-6, 3e-6, 0.0, 0.1, level]))


@pytest.mark.parametrize("case", ["flat channel", "unit change of one channel"])
def test_r2_is_the_same_whatever_the_units_of_each_channel(case):
    """A dead (all-0) channel in a recording in volts gave R^2 = -8e6; a channel moved from
    mV to uV changed R^2 by 0.02. R^2 is now taken in each channel's standard units."""

    results = []
    for scale in (1e-6, 1.0):
        ds = signal_dataset(1.0)
        signal = ds["signal"].values.copy()
        if case == "flat channel":
            signal[..., 0] = 0.0
            signal *= scale
        else:
            signal[..., 0] *= 1e3 if scale == 1.0 else 1.0
        results.append(fit(ds.assign(signal=(ds["signal"].dims, signal)), CONFIG).metrics)
    for split in ("val", "test"):
        first, second = (r[split]["r2_condition"] for r in results)
        assert first == pytest.approx(second, abs=2e-3) and first > 0.1

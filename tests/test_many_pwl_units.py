"""Networks with more rectified units than a region code holds (the study's P = M = 64).

Any P up to M is a model that fits, scores and saves; region codes (int64 ``bitcode``) exist
only up to P = 62, so beyond it the latents carry no ``bitcode`` and say why, region counts
and primitives are NaN, and asking for a code is a precise error.
"""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.params import MAX_PWL, ALRNNParams, bitcode, has_region_codes
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep.cell_primitives import count_primitives
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training.ensemble import fit_ensemble
from alrnn_neuro.training.latents_output import NO_REGION_CODES


@pytest.fixture(scope="module")
def small():
    return simulate_stimulus_selection(n_trials=24, n_units=5, seed=0, lfp=False)


def test_region_codes_stop_at_62_rectified_units_and_say_so():
    assert MAX_PWL == 62 and has_region_codes(62) and not has_region_codes(63)
    z = np.ones((2, 64))
    assert bitcode(z[:, :62], 62).tolist() == [2**62 - 1] * 2
    with pytest.raises(ConfigError, match=r"n_pwl=64: region codes are int64 .*62.*fix"):
        bitcode(z, 64)
    params = ALRNNParams(A=np.zeros(64), W=np.zeros((64, 64)), C=None, h=None, n_pwl=64)
    assert params.n_pwl == 64
    with pytest.raises(ConfigError, match="n_pwl=65 must lie in \\[0, M=64\\]"):
        ALRNNParams(A=np.zeros(64), W=np.zeros((64, 64)), C=None, h=None, n_pwl=65)


def test_a_fit_with_every_one_of_64_units_rectified_finishes_without_region_codes(small):
    result = fit(small, FitConfig(latent_dim=64, pwl_units=64, epochs=1, seed=0))
    latents = result.latents
    assert "bitcode" not in latents
    assert latents.attrs["n_pwl"] == 64 and latents.attrs["bitcode"] == NO_REGION_CODES
    assert np.isfinite(latents["latents"].values[latents["valid"].values]).all()
    assert np.isfinite(result.metrics["test"]["loss"])
    assert np.isnan(count_primitives(result, small))


def test_an_ensemble_mixing_coded_and_uncoded_members_gives_each_what_it_can(small):
    config = FitConfig(latent_dim=64, epochs=1, seed=0)
    coded, uncoded = fit_ensemble(small, config, pwl_units=[2, 64], seeds=[0, 0])
    assert "bitcode" in coded.latents and coded.latents.attrs["n_pwl"] == 2
    codes = coded.latents["bitcode"].values[coded.latents["valid"].values]
    assert codes.min() >= 0 and codes.max() < 4
    assert "bitcode" not in uncoded.latents and uncoded.latents.attrs["n_pwl"] == 64
    single = fit(small, config.replace(pwl_units=64))
    np.testing.assert_allclose(
        uncoded.latents["latents"].values, single.latents["latents"].values, rtol=1e-4, atol=1e-5
    )

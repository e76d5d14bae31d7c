"""RSA's ``n_boot`` (``alrnn-neuro rsa --n-boot`` and the library) is 0 (no CI) or at least
the percentile minimum, as in ``select``: a handful of resamples gave a "95 % CI" whose bounds
rest on one or two draws."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro._resampling import MIN_N_BOOT
from alrnn_neuro.analysis.rsa import compute_rdms, rsa_table
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.errors import ConfigError
from tests.conftest import entry_point
from tests.test_rsa_rdm import make_rsa_dataset


@pytest.mark.parametrize("n_boot", ["1", str(MIN_N_BOOT - 1)])
def test_installed_cli_rsa_refuses_too_few_resamples(tmp_path, n_boot):
    run = tmp_path / "run"
    run.mkdir()
    done = entry_point("rsa", run, "--conditions", "rule", "--n-boot", n_boot)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"--n-boot {n_boot} is too few bootstrap resamples" in lines[0]
    assert f"fix: --n-boot {MIN_N_BOOT} or more (default: 1000)" in lines[0]
    assert "Traceback" not in done.stderr and not (run / "rsa").exists()


@pytest.mark.parametrize("n_boot", [1, MIN_N_BOOT - 1, -5])
def test_library_rsa_table_refuses_too_few_resamples(n_boot):
    """From a notebook the same rule holds: one resample had given a zero-width '95 % CI'."""
    ds = make_rsa_dataset(n_units=8)
    model = compute_rdms(ds, ["rule", "side"], by="time", distance="sqeuclidean")
    data = compute_rdms(ds, ["rule", "side"], by="time", distance="crossnobis", noise=None)
    with pytest.raises(ConfigError, match=rf"n_boot={n_boot} .*fix: use n_boot >= {MIN_N_BOOT}"):
        rsa_table(model, data, n_perm=0, n_boot=n_boot)
    assert np.isnan(rsa_table(model, data, n_perm=0, n_boot=0)["ci_low"]).all()
    table = rsa_table(model, data, n_perm=0, n_boot=MIN_N_BOOT)
    finite = np.isfinite(table["estimate"].values)
    low, high = table["ci_low"].values[finite], table["ci_high"].values[finite]
    assert finite.any() and np.isfinite(low).all() and np.all(low <= high)


def test_library_run_rsa_refuses_too_few_resamples_before_any_work():
    with pytest.raises(ConfigError, match=r"n_boot=1 is not a usable number"):
        run_rsa(xr.Dataset(), xr.Dataset(), conditions=["rule"], n_boot=1)

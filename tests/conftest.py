"""Shared, tiny, seeded fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from alrnn_neuro.data.schema import make_dataset

REPO = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """The team's shared real recordings: ``../shared/data`` beside the checkout."""
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return None


#: set (by .ci/run, or any CI that exports CI=true) to make missing shared data a failure
REQUIRE_SHARED_DATA = bool(
    os.environ.get("ALRNN_NEURO_REQUIRE_SHARED_DATA") or os.environ.get("CI")
)


@pytest.fixture
def shared_data() -> Path:
    """The shared real recordings; skipped on a bare checkout, a failure in CI."""
    path = find_shared_data()
    if path is None:
        message = "shared/data (real recordings) not found beside the checkout"
        if REQUIRE_SHARED_DATA:
            pytest.fail(f"{message}; CI must provide it (../shared/data)")
        pytest.skip(message)
    return path


def build_tiny_dataset(seed: int = 0, n_trials: int = 6, n_time: int = 8, n_units: int = 3):
    """A small ragged spike dataset with trial/unit metadata and two inputs."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(n_time // 2, n_time + 1, n_trials)
    lengths[0] = n_time
    valid = np.arange(n_time)[None, :] < lengths[:, None]
    spikes = rng.poisson(2.0, (n_trials, n_time, n_units)).astype(np.int32) * valid[..., None]
    inputs = rng.normal(size=(n_trials, n_time, 2)).astype(np.float32) * valid[..., None]
    epoch = np.where(valid, np.where(np.arange(n_time) < 2, "hold", "stimulus"), "")
    return make_dataset(
        spikes,
        inputs=inputs,
        input_names=["left", "right"],
        valid=valid,
        epoch=epoch,
        bin_size=0.05,
        align_event="stim_on",
        trial_coords={
            "rule": np.array(["local", "pitch"] * (n_trials // 2) + ["local"] * (n_trials % 2)),
            "correct": rng.random(n_trials) > 0.3,
            "rt": rng.random(n_trials),
        },
        unit_coords={"area": np.array(["mPFC", "A1", "A1", "mPFC"] * n_units)[:n_units]},
        source="tests",
    )


@pytest.fixture
def tiny_dataset() -> xr.Dataset:
    return build_tiny_dataset()


@pytest.fixture
def float64():
    """Run the test with torch's default dtype set to float64 (restored afterwards)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def max_param_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Largest absolute difference between same-named float64 parameters of two modules."""
    sa, sb = dict(a.named_parameters()), dict(b.named_parameters())
    assert sa.keys() == sb.keys() and sa
    assert next(a.parameters()).dtype == torch.float64
    return max(float((sa[k] - sb[k]).detach().abs().max()) for k in sa)


#: one BLAS/OpenMP thread for scripts run in a subprocess (as the docs run them)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_script(script: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a repository script with this interpreter and one thread; assert it exits 0."""
    run = subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **ONE_THREAD},
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def entry_point(*arguments: object, **options: object) -> subprocess.CompletedProcess:
    """``alrnn-neuro ARGUMENTS`` as users run it (``python -m alrnn_neuro``, a fresh process:
    real stderr, exit code and warnings); ``options`` go to :func:`subprocess.run`."""
    return subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
        **options,
    )

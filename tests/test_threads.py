"""Thread settings: fits, sweep tasks and local dask workers never oversubscribe the cores."""

from __future__ import annotations

import logging

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import alrnn_neuro.sweep.cluster as sweep_cluster
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training import FitConfig
from alrnn_neuro.training.threads import torch_threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_torch_threads():
    """torch and numpy's BLAS at two threads (whatever OMP_NUM_THREADS says), then back."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    with threadpool_limits(limits=2, user_api="blas"):
        yield
    torch.set_num_threads(before)


def test_torch_threads_limits_torch_and_blas_and_restores_both(two_torch_threads):
    blas_before = _blas_threads()
    assert blas_before and all(n == 2 for n in blas_before)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        assert all(n == 1 for n in _blas_threads())
    assert torch.get_num_threads() == 2
    assert _blas_threads() == blas_before
    with torch_threads(0):  # 0 = leave everything as it is
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize(
    ("requested", "threads", "expected"),
    [(None, 1, 4), (None, 2, 2), (None, 8, 1), (3, 1, 3), (8, 1, 4), (3, 2, 2)],
)
def test_local_workers_times_threads_stay_within_the_cores(
    monkeypatch, caplog, requested, threads, expected
):
    monkeypatch.setattr(sweep_cluster.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    with caplog.at_level(logging.WARNING, logger="alrnn_neuro.sweep.cluster"):
        assert sweep_cluster.local_workers(requested, threads) == expected
    capped = requested is not None and requested > expected
    assert ("oversubscribe" in caplog.text) == capped


def test_sweep_tasks_run_with_the_fits_thread_setting(tmp_path, two_torch_threads):
    """The whole task (fit and the scoring after it) runs with ``threads`` torch threads."""
    ds = simulate_stimulus_selection(n_trials=40, n_units=5, seed=0, lfp=False)
    grid = SweepGrid(pwl_units=(1,), seeds=(0,), latent_dims=(3,))
    seen = []
    hook = lambda cells: seen.append((torch.get_num_threads(), _blas_threads()))  # noqa: E731
    run_sweep(ds, grid, FitConfig(epochs=1, latent_dim=3), out=tmp_path / "s", task_hook=hook)
    assert seen and all(n == 1 and set(blas) <= {1} for n, blas in seen)
    assert torch.get_num_threads() == 2

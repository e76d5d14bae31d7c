"""What a number of nonlinear units costs: operations per step, linear regions, measured time.

The study's argument for sparse nonlinearity is partly one of cost: an AL-RNN with P of M units
rectified evaluates P nonlinearities per step and has 2^P linear regions, each with exact,
analysable dynamics. This module counts those quantities for a grid of P and measures, on this
machine, what they cost in practice:

* ``step_seconds``: one training step (forward over a batch of sequences, a mean-squared loss
  on a linear readout, backward, an Adam step) of the toolbox's own engine, all P interleaved
  round-robin after warm-up so that background load hits every P alike; the median over
  ``repeats`` rounds. Only ratios between P of one call are meaningful (``step_ratio``).
* ``fixed_point_seconds``: solving the fixed points of all 2^P regions
  (:func:`~alrnn_neuro.analysis.dynamics.fixed_points`), the first step of every regime
  analysis, for an initialised model of that size; NaN beyond ``max_regions``.

The counts are exact; the timings depend on the machine, the load and the torch thread setting
(recorded in ``attrs``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.analysis.dynamics import fixed_points
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models import ALRNN
from alrnn_neuro.training.loop import fused_adam

#: clocks by name: CPU seconds of this process are steadier than wall time on a shared machine
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def model_cost(
    latent_dim: int,
    pwl_units: Sequence[int],
    *,
    input_dim: int,
    n_steps: int = 50,
    batch_size: int = 32,
    repeats: int = 5,
    warmup: int = 2,
    max_regions: int = 2**16,
    clock: str = "cpu",
    seed: int = 0,
) -> xr.Dataset:
    """Operation counts and measured step and fixed-point times of AL-RNNs for each P.

    Parameters
    ----------
    latent_dim : int
        M, the number of latent units.
    pwl_units : sequence of int
        The P values (0 <= P <= M), at least one.
    input_dim : int
        K, the number of input channels.
    n_steps, batch_size : int
        Length of the timed sequences and trials per batch (use the task's own).
    repeats, warmup : int
        Timed rounds (median reported) and untimed rounds before them.
    max_regions : int
        Fixed points are timed only where 2^P <= ``max_regions``.
    clock : {"cpu", "wall"}
        CPU seconds of this process (default) or wall-clock seconds.
    seed : int
        Seed of the models' initialisation and of the synthetic batch.

    Returns
    -------
    Dataset, dim ``pwl_units``
        ``nonlinear_ops_per_step`` (P: ReLU evaluations per step and trial),
        ``multiply_adds_per_step`` (M² + M·K + M: recurrence, input and diagonal terms),
        ``n_regions`` (2^P), ``step_seconds``, ``step_ratio`` (step time over that of the
        smallest P), ``fixed_point_seconds``. attrs: M, K, sizes, clock, torch threads.

    Raises
    ------
    ConfigError
        If a P lies outside 0..M, no P is given, or a size or the clock is invalid.
    """
    values = sorted({int(p) for p in pwl_units})
    if not values:
        raise ConfigError("pwl_units is empty; fix: give at least one P, e.g. (0, 2, M)")
    bad = [p for p in values if not 0 <= p <= latent_dim]
    if bad:
        raise ConfigError(
            f"pwl_units {bad} lie outside 0..latent_dim={latent_dim}; fix: use 0 <= P <= M"
        )
    for name, value in (("input_dim", input_dim), ("n_steps", n_steps), ("repeats", repeats)):
        if value < 1:
            raise ConfigError(f"{name}={value} must be >= 1; fix: pass a positive integer")
    if clock not in CLOCKS:
        raise ConfigError(f"clock={clock!r} is unknown; fix: one of {', '.join(CLOCKS)}")
    steps = {p: _training_step(latent_dim, p, input_dim, n_steps, batch_size, seed) for p in values}
    step_seconds = _time_interleaved(steps, repeats, warmup, CLOCKS[clock])
    _fixed_point_seconds(latent_dim, values[0], input_dim, seed, CLOCKS[clock])  # warm-up
    point_seconds = [
        _fixed_point_seconds(latent_dim, p, input_dim, seed, CLOCKS[clock])
        if 2**p <= max_regions
        else np.nan
        for p in values
    ]
    m, k = latent_dim, input_dim
    seconds = np.array([step_seconds[p] for p in values])
    coords = {"pwl_units": ("pwl_units", np.array(values, dtype=np.int64))}
    cost = xr.Dataset(
        {
            "nonlinear_ops_per_step": ("pwl_units", np.array(values, dtype=np.int64)),
            "multiply_adds_per_step": ("pwl_units", np.full(len(values), m * m + m * k + m)),
            "n_regions": ("pwl_units", np.power(2.0, values)),
            "step_seconds": ("pwl_units", seconds),
            "step_ratio": ("pwl_units", seconds / seconds[0]),
            "fixed_point_seconds": ("pwl_units", np.array(point_seconds, dtype=float)),
        },
        coords=coords,
    )
    _describe(cost)
    cost.attrs.update(
        latent_dim=m,
        input_dim=k,
        n_steps=n_steps,
        batch_size=batch_size,
        repeats=repeats,
        clock=clock,
        torch_threads=torch.get_num_threads(),
        seed=seed,
    )
    return cost


def _describe(cost: xr.Dataset) -> None:
    meta = {
        "nonlinear_ops_per_step": ("1", "ReLU evaluations per time step and trial (= P)"),
        "multiply_adds_per_step": ("1", "multiply-adds of one latent step (M^2 + M K + M)"),
        "n_regions": ("1", "linear regions of the state space (2^P)"),
        "step_seconds": ("s", "median time of one training step (forward, backward, Adam)"),
        "step_ratio": ("1", "training-step time over that of the smallest P in this table"),
        "fixed_point_seconds": ("s", "time to solve the fixed points of all 2^P regions"),
    }
    for name, (units, description) in meta.items():
        cost[name].attrs.update(units=units, description=description)


def _training_step(m: int, p: int, k: int, n_steps: int, batch: int, seed: int):
    """A closure running one training step of an M, P AL-RNN on a fixed synthetic batch."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, n_steps, k, generator=gen)
    target = torch.randn(batch, n_steps, 1, generator=gen)
    model = ALRNN(m, p, k, seed=seed)
    readout = torch.nn.Linear(m, 1)
    optimiser = fused_adam([*model.parameters(), *readout.parameters()], lr=1e-3)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss = torch.mean((readout(model(inputs)) - target) ** 2)
        loss.backward()
        optimiser.step()

    return step


def _time_interleaved(steps: dict, repeats: int, warmup: int, clock) -> dict[int, float]:
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[int, list[float]] = {p: [] for p in steps}
    for _ in range(repeats):
        for p, step in steps.items():
            start = clock()
            step()
            times[p].append(clock() - start)
    return {p: statistics.median(values) for p, values in times.items()}


def _fixed_point_seconds(m: int, p: int, k: int, seed: int, clock) -> float:
    params = ALRNN(m, p, k, seed=seed).params()
    start = clock()
    fixed_points(params)
    return clock() - start

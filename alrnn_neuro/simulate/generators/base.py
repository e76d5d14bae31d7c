"""What every ground-truth generator of the stimulus-selection simulator returns, and helpers.

A generator turns the task's trials and bin grid (:mod:`~alrnn_neuro.simulate.task_structure`)
into latent trajectories and choices (:class:`Simulation`), and draws the loadings of the
Poisson units on its latents (:meth:`Generator.observation_model`). The dispatcher
(:func:`~alrnn_neuro.simulate.stimulus_selection.simulate_stimulus_selection`) does the rest,
identically for every generator: spikes ~ Poisson(bin_size * softplus(B z + b)), inputs,
epochs, trial labels and LFP.

Two ways of running a session:

- *trial-wise* (:func:`run_trialwise`): every trial starts from its own initial state z0
  (the AL-RNN family, whose rule belief is set in z0 per trial);
- *continuous* (:func:`to_session` / :func:`to_trials`): the trials' valid bins, in trial
  order, form one uninterrupted session (trials follow each other without gaps: a trial's
  ``trial_end`` is the next one's ``trial_start``), so state, the rule memory above all,
  carries from one trial into the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from alrnn_neuro.simulate import task_structure as ts

Decide = Callable[[np.ndarray], dict]
"""Choice latent at each trial's decision bin (trial,) -> behaviour dict (``ts.decide``)."""

LOCAL_LOCATION_PITCH_PITCH = "local:location,pitch:pitch"
"""``true_routing`` of a generator whose rule routes the relevant feature to the choice."""
NO_ROUTING = "none"
"""``true_routing`` of a generator whose choice reads the features the same way in both rules."""


@dataclass(frozen=True, eq=False)
class Simulation:
    """One simulated session before the spikes are drawn.

    Attributes
    ----------
    latents : ndarray, shape (trial, time, latent)
        Latent trajectories that drive the units, 0 on padded bins.
    latent_names : tuple of str
        Name of each latent (the ``true_latent`` coordinate).
    inputs : ndarray of float32, shape (trial, time, input)
        The observed inputs (:data:`~alrnn_neuro.simulate.task_structure.INPUT_NAMES`), with
        ``reward`` set after the choices.
    behaviour : dict
        Output of :func:`~alrnn_neuro.simulate.task_structure.decide`.
    belief : ndarray, shape (trial,), or None
        The generator's signed rule belief at each trial's start (+ = local); None where the
        generator has no explicit rule variable.
    ground_truth : dict
        Further ``true_*`` variables, name -> (dims, values); ``true_latents`` first.
    attrs : dict
        Generator attrs (``true_routing``, ``true_rule_memory``, ``true_nonlinearity``, ...).
    coords : dict
        Coordinates of the ground truth's own dims, dim -> labels (``true_latent`` is set
        from ``latent_names``).
    """

    latents: np.ndarray
    latent_names: tuple[str, ...]
    inputs: np.ndarray
    behaviour: dict
    belief: np.ndarray | None
    ground_truth: dict
    attrs: dict = field(default_factory=dict)
    coords: dict = field(default_factory=dict)


class Generator(Protocol):
    """A ground-truth generator: see :mod:`alrnn_neuro.simulate.generators`."""

    name: str
    summary: str

    def simulate(
        self,
        trials: dict,
        timeline: ts.Timeline,
        *,
        seed: np.random.SeedSequence,
        decide: Decide,
    ) -> Simulation:
        """Latents, choices and inputs of one session (``seed``: the latent noise stream)."""
        ...

    def observation_model(
        self, simulation: Simulation, n_units: int, *, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Loadings ``B`` (unit, latent), offsets ``b`` (unit,) and ``area`` (unit,)."""
        ...


def decision_values(latents: np.ndarray, timeline: ts.Timeline, index: int) -> np.ndarray:
    """Latent ``index`` at each trial's decision bin (last stimulus bin), shape (trial,)."""
    return latents[np.arange(latents.shape[0]), timeline.decision_bin, index]


def to_session(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(trial, time, ...) -> (step, ...): the valid bins of every trial, in trial order."""
    return values[valid]


def to_trials(session: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(step, ...) -> (trial, time, ...), 0 on padded bins: the inverse of :func:`to_session`."""
    out = np.zeros((*valid.shape, *session.shape[1:]), dtype=session.dtype)
    out[valid] = session
    return out


def trial_starts(valid: np.ndarray) -> np.ndarray:
    """Session step of each trial's first valid bin, shape (trial,)."""
    counts = valid.sum(axis=1)
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def random_readout(
    n_latents: int, n_units: int, *, rng: np.random.Generator, gain: float = 8.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random Poisson readout for generators whose latents have no named roles.

    ``B ~ N(0, (gain / sqrt(n_latents))^2)`` Hz per latent unit (so a state of unit norm moves
    a rate by about ``gain`` spikes/s), baselines softplus(b) uniform in 5–20 spikes/s. The
    first ``ceil(n_units / 2)`` units are labelled ``"mPFC"``, the rest ``"A1"`` (labels only:
    the same ``area`` layout as the other generators).

    Returns
    -------
    B : ndarray, shape (unit, latent)
    b : ndarray, shape (unit,)
    area : ndarray of str, shape (unit,)
    """
    B = rng.normal(0.0, gain / np.sqrt(n_latents), (n_units, n_latents))
    base = rng.uniform(5.0, 20.0, n_units)
    b = base + np.log(-np.expm1(-base))  # inverse softplus
    n_pfc = (n_units + 1) // 2
    area = np.array(["mPFC"] * n_pfc + ["A1"] * (n_units - n_pfc))
    return B, b, area


def run_session(
    step: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    noise_std: np.ndarray,
    inputs: np.ndarray,
    valid: np.ndarray,
    noise: np.ndarray,
    z_start: np.ndarray,
) -> np.ndarray:
    """Run ``z_t = step(z_{t-1}, s_t, noise_std * ε_t)`` over the whole session.

    Parameters
    ----------
    step : callable
        One bin of the dynamics, ``(z (latent,), s (input,), e (latent,)) -> z (latent,)``,
        ``e`` the scaled process noise of that bin (added by ``step`` as its equations say).
    noise_std : ndarray, shape (latent,)
    inputs : ndarray, shape (trial, time, input)
    valid : ndarray of bool, shape (trial, time)
    noise : ndarray, shape (trial, time, latent)
        Standard-normal draws; the valid bins' draws are used in session order.
    z_start : ndarray, shape (latent,)
        State before the first trial's first bin.

    Returns
    -------
    ndarray, shape (trial, time, latent)
        Latents, 0 on padded bins; trial n+1 continues from trial n's last state.
    """
    drive = to_session(inputs, valid).astype(float)
    eps = to_session(noise, valid) * noise_std
    out = np.empty((len(drive), len(z_start)))
    z = np.asarray(z_start, dtype=float)
    for t in range(len(drive)):
        z = step(z, drive[t], eps[t])
        out[t] = z
    return to_trials(out, valid)

"""The AL-RNN family: ``pwl`` (the hand-designed system), its controls ``linear``, ``no_routing``.

All three run trial-wise: every trial starts from z0 with the trial's rule belief in ``rule``
(:func:`~alrnn_neuro.simulate.latent_system.initial_state`), held by a slow mode
(A = 0.995 per 50 ms), and follow, with the same 7 latents, inputs and noise draws,

    z_t = A ⊙ z_{t-1} + W Φ*(z_{t-1}) + C s_t + σ ⊙ ε_t

(see :mod:`~alrnn_neuro.simulate.latent_system` for the ``pwl`` parameters). With
x = s_right − s_left − s_low + s_high and w = 0.3, k = 2.5, δ = 1:

``pwl`` (P = 2, true routing ``local -> location``, ``pitch -> pitch``)::

    gate_±  = k · rule + δ · hold ± x
    choice ← 0.96 · choice + w · pitch + (w/2) · (relu(gate_+) − relu(gate_−))
    context = (relu(gate_+) + relu(gate_−)) / 2

In a local block both gates are on and the choice integrates w · location; in a pitch block
both are off and it integrates w · pitch.

``linear`` (P = 0, no routing): each ReLU replaced by the line u / 2, the mean of its two
pieces' slopes (on in local, off in pitch blocks), so no unit is rectified anywhere::

    choice ← 0.96 · choice + w · pitch + (w/4) · (gate_+ − gate_−)
           = 0.96 · choice + (w/2) · (location + pitch)      (up to the latents' noise)
    context = (gate_+ + gate_−) / 4 = (k · rule + δ · hold) / 2

The choice mixes the two features with equal weight in both rules. (Replacing the ReLUs by
the identity instead would route ``location`` in both rules and leave pitch blocks unsolvable.)

``no_routing`` (P = 2, no routing): ``pwl`` with only the choice row changed::

    choice ← 0.96 · choice + (w/2) · (location + pitch)

The rule is otherwise present exactly as in ``pwl`` (same ``rule``, gates, regions and
``context``, bit for bit for the same seed: rule × epoch coding in the hold epoch included);
only which feature reaches the choice no longer depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alrnn_neuro.simulate import latent_system as ls
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators.base import (
    LOCAL_LOCATION_PITCH_PITCH,
    NO_ROUTING,
    Decide,
    Simulation,
    decision_values,
)

GATES = ("gate_plus", "gate_minus")
LINEAR_SLOPE = 0.5


def linear_system(bin_size: float = ls.REFERENCE_BIN) -> ls.PWLSystem:
    """``pwl``'s system with each ReLU gate replaced by u -> u / 2 (P = 0).

    Parameters
    ----------
    bin_size : float
        Time step in seconds.

    Returns
    -------
    PWLSystem
        Same latents, A, C and noise as
        :func:`~alrnn_neuro.simulate.latent_system.stimulus_selection_system`; ``W`` with the
        gates' columns halved; ``n_pwl = 0``.
    """
    base = ls.stimulus_selection_system(bin_size)
    W = base.W.copy()
    gates = [base.latent_names.index(name) for name in GATES]
    W[:, gates] *= LINEAR_SLOPE
    return ls.PWLSystem(
        base.A, W, base.C, base.h, base.noise_std, 0, base.latent_names, base.input_names
    )


def no_routing_system(bin_size: float = ls.REFERENCE_BIN) -> ls.PWLSystem:
    """``pwl``'s system whose choice reads (w/2)·(location + pitch) in both rules.

    Parameters
    ----------
    bin_size : float
        Time step in seconds.

    Returns
    -------
    PWLSystem
        Identical to :func:`~alrnn_neuro.simulate.latent_system.stimulus_selection_system`
        but for the ``choice`` row of ``W``: no weight from the gates, half the pitch weight
        on ``location`` and on ``pitch``.
    """
    base = ls.stimulus_selection_system(bin_size)
    W = base.W.copy()
    idx = {name: i for i, name in enumerate(base.latent_names)}
    drive = W[idx["choice"], idx["pitch"]]  # w, rescaled to the bin size
    W[idx["choice"], [idx[name] for name in GATES]] = 0.0
    W[idx["choice"], [idx["location"], idx["pitch"]]] = drive / 2
    return ls.PWLSystem(
        base.A, W, base.C, base.h, base.noise_std, base.n_pwl, base.latent_names, base.input_names
    )


@dataclass(frozen=True)
class TrialwiseALRNN:
    """A generator whose latents follow an AL-RNN, trial by trial from a rule-belief z0.

    Attributes
    ----------
    name : str
        Registry name.
    summary : str
        One line: what it is and what it is for.
    build : callable
        ``bin_size -> PWLSystem``.
    routing : str
        ``true_routing`` attr.
    """

    name: str
    summary: str
    build: Callable[[float], ls.PWLSystem]
    routing: str

    def simulate(
        self,
        trials: dict,
        timeline: ts.Timeline,
        *,
        seed: np.random.SeedSequence,
        decide: Decide,
    ) -> Simulation:
        """Run the system twice: without reward to read the choices, then with it."""
        system = self.build(timeline.bin_size)
        z0 = ls.initial_state(system, trials["belief"])
        noise = np.random.default_rng(seed).standard_normal(
            (*timeline.valid.shape, len(system.latent_names))
        )
        z = ls.simulate_latents(system, ts.make_inputs(trials, timeline), timeline.valid, z0, noise)
        choice = system.latent_names.index("choice")
        behaviour = decide(decision_values(z, timeline, choice))
        inputs = ts.make_inputs(trials, timeline, behaviour["correct"])
        z = ls.simulate_latents(system, inputs, timeline.valid, z0, noise)
        return Simulation(
            latents=z,
            latent_names=system.latent_names,
            inputs=inputs,
            behaviour=behaviour,
            belief=trials["belief"],
            ground_truth=_ground_truth(system, z, timeline.valid),
            attrs={
                "true_pwl_units": np.int64(system.n_pwl),
                "true_routing": self.routing,
                "true_rule_memory": "initial_state",
                "true_nonlinearity": "relu" if system.n_pwl else "none",
            },
            coords={"true_latent2": list(system.latent_names)},
        )

    def observation_model(
        self, simulation: Simulation, n_units: int, *, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """mPFC- and A1-like loadings on the named latents (``ls.make_observation_model``)."""
        return ls.make_observation_model(n_units, rng=rng)


def _ground_truth(system: ls.PWLSystem, z: np.ndarray, valid: np.ndarray) -> dict:
    lat, lat2 = "true_latent", "true_latent2"
    out = {"true_latents": (("trial", "time", lat), z)}
    if system.n_pwl:
        region = np.where(valid, system.params.bitcode(z), 0)
        out["true_region"] = (("trial", "time"), region.astype(np.int64))
    out.update(
        true_A=((lat,), system.A),
        true_W=((lat, lat2), system.W),
        true_C=((lat, "input"), system.C),
        true_h=((lat,), system.h),
        true_noise_std=((lat,), system.noise_std),
    )
    return out


PWL = TrialwiseALRNN(
    "pwl",
    "the hand-designed AL-RNN (M = 7, P = 2): the rule's ReLU gates route location or pitch",
    ls.stimulus_selection_system,
    LOCAL_LOCATION_PITCH_PITCH,
)
LINEAR = TrialwiseALRNN(
    "linear",
    "pwl with its ReLU gates made linear (P = 0): control for 'P = 0 is insufficient'",
    linear_system,
    NO_ROUTING,
)
NO_ROUTING_GENERATOR = TrialwiseALRNN(
    "no_routing",
    "pwl whose choice reads location and pitch alike in both rules: control for routing",
    no_routing_system,
    NO_ROUTING,
)

"""``softplus``: the ``pwl`` circuit with smooth softplus gates and a recurrent rule memory.

Not an AL-RNN: no unit is piecewise linear, so there are no regions, only a smooth gain
change. Same 7 latents and parameters as ``pwl`` (:mod:`~alrnn_neuro.simulate.latent_system`;
k = 2.5, δ = 1, w = 0.3), with every ReLU replaced by sp(u) = log(1 + e^u) and the rule held
by a smooth bistable memory that the cue trials set and that carries over from trial to trial
(the session runs continuously: no per-trial z0)::

    rule_t     = (1 − α) · rule + α · tanh(γ · rule + c · (cue_local_t − cue_pitch_t)) + σ_r ε
    gate_±,t   = k · rule + δ · hold_t ± x_t        (x = s_right − s_left − s_low + s_high)
    choice_t   = 0.96 · choice + w · pitch + (w/2) · (sp(gate_+) − sp(gate_−)) + σ_c ε
    context_t  = (sp(gate_+) + sp(gate_−)) / 2
    location_t = s_right − s_left,  pitch_t = s_low − s_high   (+ noise, as in ``pwl``)

(right-hand sides at t − 1 unless marked), per 50 ms: α = 1 − e^{−1} (time constant 50 ms),
γ = 2 (fixed points rule = ±0.96), c = 1.5 (beyond the saddle-node at c ≈ 0.53, so one cue
trial switches the memory), σ_r = 0.05. In a local block (rule ≈ +0.96, k · rule ≈ 2.4) both
gates sit on the softplus' linear limb and the choice integrates close to w · location; in a
pitch block both sit on its flat limb and it integrates w · pitch plus a small leak of
location (sp(−0.4) ≈ 0.5 for a ±2 stimulus): routing, but graded. Other bin sizes keep the
time constants and rescale drive and noise as ``pwl`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alrnn_neuro.simulate import latent_system as ls
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators.base import (
    LOCAL_LOCATION_PITCH_PITCH,
    Decide,
    Simulation,
    decision_values,
    run_session,
)

MEMORY_GAIN = 2.0
CUE_GAIN = 1.5
MEMORY_TAU = 0.05
RULE_NOISE = 0.05


def softplus_step(system: ls.PWLSystem, alpha: float):
    """One bin of the ``softplus`` generator's dynamics (see the module docstring).

    Parameters
    ----------
    system : PWLSystem
        ``pwl``'s system at the simulation's bin size (its rule row is replaced).
    alpha : float
        Relaxation rate of the rule memory per bin.

    Returns
    -------
    callable
        ``(z (latent,), s (input,), e (latent,)) -> z (latent,)``, ``e`` the scaled noise.
    """
    names = system.latent_names
    rule = names.index("rule")
    gates = [names.index(name) for name in ("gate_plus", "gate_minus")]
    cue_local = system.input_names.index("cue_local")
    cue_pitch = system.input_names.index("cue_pitch")

    def step(z: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        phi = z.copy()
        phi[gates] = ls.softplus(z[gates])
        new = system.A * z + system.W @ phi + system.C @ s + system.h
        cue = CUE_GAIN * (s[cue_local] - s[cue_pitch])
        new[rule] = (1 - alpha) * z[rule] + alpha * np.tanh(MEMORY_GAIN * z[rule] + cue)
        return new + e

    return step


@dataclass(frozen=True)
class SoftplusGates:
    """The ``softplus`` generator (see the module docstring for its equations)."""

    name: str = "softplus"
    summary: str = (
        "smooth softplus gates and a recurrent rule memory (not an AL-RNN): recovery test"
    )

    def simulate(
        self,
        trials: dict,
        timeline: ts.Timeline,
        *,
        seed: np.random.SeedSequence,
        decide: Decide,
    ) -> Simulation:
        """Run the session once (no latent reads ``reward``, so the choices fix nothing later)."""
        system = ls.stimulus_selection_system(timeline.bin_size)
        names = system.latent_names
        alpha = 1.0 - np.exp(-timeline.bin_size / MEMORY_TAU)
        noise_std = system.noise_std.copy()
        noise_std[names.index("rule")] = RULE_NOISE * np.sqrt(timeline.bin_size / ls.REFERENCE_BIN)
        noise = np.random.default_rng(seed).standard_normal((*timeline.valid.shape, len(names)))
        z = run_session(
            softplus_step(system, alpha),
            noise_std,
            ts.make_inputs(trials, timeline),
            timeline.valid,
            noise,
            np.zeros(len(names)),
        )
        behaviour = decide(decision_values(z, timeline, names.index("choice")))
        first = np.argmax(timeline.valid, axis=1)
        return Simulation(
            latents=z,
            latent_names=names,
            inputs=ts.make_inputs(trials, timeline, behaviour["correct"]),
            behaviour=behaviour,
            belief=z[np.arange(len(first)), first, names.index("rule")],
            ground_truth={
                "true_latents": (("trial", "time", "true_latent"), z),
                "true_noise_std": (("true_latent",), noise_std),
            },
            attrs={
                "true_routing": LOCAL_LOCATION_PITCH_PITCH,
                "true_rule_memory": "recurrent",
                "true_nonlinearity": "softplus",
                "true_gate_gain": float(ls.GATE_GAIN),
                "true_hold_gate_drive": float(ls.HOLD_GATE_DRIVE),
                "true_choice_gain": float(ls.CHOICE_GAIN),
                "true_memory_gain": MEMORY_GAIN,
                "true_memory_rate": float(alpha),
                "true_cue_gain": CUE_GAIN,
            },
        )

    def observation_model(
        self, simulation: Simulation, n_units: int, *, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """mPFC- and A1-like loadings on the named latents (``ls.make_observation_model``)."""
        return ls.make_observation_model(n_units, rng=rng)


SOFTPLUS = SoftplusGates()

"""``bilinear``: multiplicative gating with known routing and a recurrent rule memory.

Not an AL-RNN: the rule *multiplies* the sensory latents on their way to the choice (a
bilinear map, no thresholds, no regions). Same 7 latents and observation model as ``pwl``;
the session runs continuously (no per-trial z0): the cue trials set the rule memory, which
carries over from trial to trial. Per 50 ms bin (right-hand sides at t − 1 unless marked)::

    rule_t       = rule + c · [cue_local_t · (1 − rule) − cue_pitch_t · (1 + rule)]
                   + σ_r · (1 − rule²) · ε
    gate_plus_t  = (1 + rule) / 2              (= rule_state ∈ [0, 1], up to noise)
    gate_minus_t = (1 − rule) / 2              (= 1 − rule_state)
    choice_t     = 0.96 · choice + w · (gate_plus · location + gate_minus · pitch) + σ_c ε
    context_t    = gate_plus · (k + δ · hold_t)
    location_t   = s_right − s_left,  pitch_t = s_low − s_high       (+ noise, as in ``pwl``)

with w = 0.3, k = 2.5, δ = 1 (``pwl``'s constants), c = 0.15 (each bin of a cue moves the
rule 15 % of the way to ±1, so about one cue trial switches it), σ_r = 0.02 (no leak; the
noise vanishes at ±1, so rule stays in (−1, 1) and rule_state in (0, 1)) and ``pwl``'s noise
(0.05 per bin) elsewhere, the gates included. In a local
block (rule ≈ +1) the choice integrates w · location, in a pitch block w · pitch, and in
between a mixture weighted by the rule state: known routing,
``choice += w · (rule_state · location + (1 − rule_state) · pitch)``. ``context`` carries
the rule, most strongly in the hold epoch, through a state × input product. Other bin sizes
keep the time constants and rescale drive and noise as ``pwl`` does.
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

CUE_RATE = 0.15
RULE_NOISE = 0.02


def bilinear_step(system: ls.PWLSystem, cue_rate: float):
    """One bin of the ``bilinear`` generator's dynamics (see the module docstring).

    Parameters
    ----------
    system : PWLSystem
        ``pwl``'s system at the simulation's bin size (for ``A``, the sensory rows of ``C``
        and the choice gain).
    cue_rate : float
        Fraction of the way to ±1 that one bin of a cue moves the rule.

    Returns
    -------
    callable
        ``(z (latent,), s (input,), e (latent,)) -> z (latent,)``, ``e`` the scaled noise.
    """
    lat = {name: i for i, name in enumerate(system.latent_names)}
    inp = {name: i for i, name in enumerate(system.input_names)}
    a_choice = system.A[lat["choice"]]
    gain = system.W[lat["choice"], lat["pitch"]]  # w, rescaled to the bin size
    sensory = system.C[[lat["location"], lat["pitch"]]]

    def step(z: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        rule, on, off = z[lat["rule"]], z[lat["gate_plus"]], z[lat["gate_minus"]]
        new = e.copy()
        new[lat["rule"]] = (
            rule
            + cue_rate * (s[inp["cue_local"]] * (1 - rule) - s[inp["cue_pitch"]] * (1 + rule))
            + (1 - rule**2) * e[lat["rule"]]
        )
        new[[lat["location"], lat["pitch"]]] += sensory @ s
        new[lat["gate_plus"]] += (1 + rule) / 2
        new[lat["gate_minus"]] += (1 - rule) / 2
        new[lat["choice"]] += a_choice * z[lat["choice"]] + gain * (
            on * z[lat["location"]] + off * z[lat["pitch"]]
        )
        new[lat["context"]] += on * (ls.GATE_GAIN + ls.HOLD_GATE_DRIVE * s[inp["hold"]])
        return new

    return step


@dataclass(frozen=True)
class BilinearGating:
    """The ``bilinear`` generator (see the module docstring for its equations)."""

    name: str = "bilinear"
    summary: str = (
        "multiplicative (bilinear) gating by a recurrent rule memory (not an AL-RNN): "
        "recovery test with known routing"
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
        ratio = timeline.bin_size / ls.REFERENCE_BIN
        cue_rate = min(1.0, CUE_RATE * ratio)
        noise_std = system.noise_std.copy()
        noise_std[names.index("rule")] = RULE_NOISE * np.sqrt(ratio)
        noise = np.random.default_rng(seed).standard_normal((*timeline.valid.shape, len(names)))
        start = np.zeros(len(names))
        start[[names.index("gate_plus"), names.index("gate_minus")]] = 0.5
        z = run_session(
            bilinear_step(system, cue_rate),
            noise_std,
            ts.make_inputs(trials, timeline),
            timeline.valid,
            noise,
            start,
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
                "true_nonlinearity": "bilinear",
                "true_gate_gain": float(ls.GATE_GAIN),
                "true_hold_gate_drive": float(ls.HOLD_GATE_DRIVE),
                "true_choice_gain": float(ls.CHOICE_GAIN),
                "true_cue_rate": float(cue_rate),
            },
        )

    def observation_model(
        self, simulation: Simulation, n_units: int, *, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """mPFC- and A1-like loadings on the named latents (``ls.make_observation_model``)."""
        return ls.make_observation_model(n_units, rng=rng)


BILINEAR = BilinearGating()

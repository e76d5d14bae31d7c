"""The known generating system: a small AL-RNN-style piecewise-linear latent model.

Latent state z_t (M = 7), inputs s_t (K = 8, see ``task_structure.INPUT_NAMES``)::

    z_t = A ⊙ z_{t-1} + W Φ*(z_{t-1}) + C s_t + h + σ ⊙ ε_t,      ε_t ~ N(0, I)
    Φ*(z) = (z_1, …, z_{M-P}, max(0, z_{M-P+1}), …, max(0, z_M)),   P = 2

Latents, in order: ``rule`` (slow mode, A = 0.995 per 50 ms: + = local, − = pitch),
``choice`` (leaky integrator, A = 0.96, + = right), ``location`` and ``pitch`` (sensory
evidence, copies of the current sound: +1 = noise right / pitch mapped to right, i.e. low),
``context`` (read-out of the active gates), and the P = 2 PWL units ``gate_plus`` and
``gate_minus`` (A = 0). With x = s_right − s_left − s_low + s_high (location side minus
pitch side, ±2 on incongruent trials, 0 on congruent ones)::

    gate_±  = k · rule + δ · hold ± x                                   (k = 2.5, δ = 1)
    context = (relu(gate_+) + relu(gate_−)) / 2
    choice  ← 0.96 · choice + w · pitch + (w/2) · (relu(gate_+) − relu(gate_−))   (w = 0.3)
    rule    ← 0.995 · rule + 0.15 · (cue_local − cue_pitch)

In a local block (rule ≈ +1) both gates are active (bitcode 3) and relu(gate_+) − relu(gate_−)
= 2 x, so the choice integrates w · location; in a pitch block both are off (bitcode 0) and it
integrates w · pitch: the rule *gates* which feature reaches the integrator. With a weak rule
belief (|k · rule| < 2, after a block switch) an incongruent trial sits in region 1 or 2 and
the two features are mixed: the switch cost. ``context`` equals k · rule + δ · hold in a local
block and 0 in a pitch block, so mPFC units that read it carry the most rule information in
the hold epoch (a rule × epoch interaction only the PWL units can produce).

The region (bitcode) of a step is the model's (:func:`alrnn_neuro.models.params.bitcode`):
``gate_plus`` is the most significant bit, so region 2 = only ``gate_plus`` positive,
1 = only ``gate_minus``.
Parameters are defined for 50 ms bins; other bin sizes keep the time constants (A^(dt/0.05))
and rescale the integrators' drive and noise. Noise s.d. per 50 ms: 0.02 (rule), 0.25
(choice), 0.05 (others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.simulate.task_structure import INPUT_NAMES

LATENT_NAMES = ("rule", "choice", "location", "pitch", "context", "gate_plus", "gate_minus")
REFERENCE_BIN = 0.05
GATE_GAIN = 2.5
HOLD_GATE_DRIVE = 1.0
CHOICE_GAIN = 0.3
CUE_DRIVE = 0.15


@dataclass(frozen=True, eq=False)
class PWLSystem:
    """Parameters of an AL-RNN-style latent system (see module docstring for the equations).

    Attributes
    ----------
    A : ndarray, shape (latent,)
        Diagonal (autoregressive) weights.
    W : ndarray, shape (latent, latent2)
        Coupling acting on Φ*(z); zero diagonal.
    C : ndarray, shape (latent, input)
        Input weights.
    h : ndarray, shape (latent,)
        Bias.
    noise_std : ndarray, shape (latent,)
        Process-noise standard deviation per step.
    n_pwl : int
        Number P of rectified (PWL) units: the last P latents.
    latent_names, input_names : tuple of str
        Names of the latents and inputs.
    """

    A: np.ndarray
    W: np.ndarray
    C: np.ndarray
    h: np.ndarray
    noise_std: np.ndarray
    n_pwl: int
    latent_names: tuple[str, ...]
    input_names: tuple[str, ...]

    @property
    def params(self) -> ALRNNParams:
        """The noise-free map as an :class:`~alrnn_neuro.models.params.ALRNNParams`."""
        return ALRNNParams(self.A, self.W, self.C, self.h, self.n_pwl, self.input_names)

    def phi(self, z: np.ndarray) -> np.ndarray:
        """Φ*(z): rectify the last ``n_pwl`` latents (last axis), pass the others."""
        return self.params.phi(z)

    def step(self, z: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Noise-free map z_{t-1}, s_t -> z_t, batched over leading axes."""
        return self.params.step(z, s)


def stimulus_selection_system(bin_size: float = REFERENCE_BIN) -> PWLSystem:
    """The hand-designed generating system of the stimulus-selection simulator.

    Parameters
    ----------
    bin_size : float
        Time step in seconds (parameters are defined at 50 ms and discretised for others).

    Returns
    -------
    PWLSystem
        M = 7 latents (:data:`LATENT_NAMES`), P = 2, K = 8 inputs.

    Examples
    --------
    >>> system = stimulus_selection_system()
    >>> system.A.shape, system.W.shape, system.C.shape, system.n_pwl
    ((7,), (7, 7), (7, 8), 2)
    """
    n, idx = len(LATENT_NAMES), {name: i for i, name in enumerate(LATENT_NAMES)}
    inp = {name: i for i, name in enumerate(INPUT_NAMES)}
    A = np.array([0.995, 0.96, 0.0, 0.0, 0.0, 0.0, 0.0])
    W = np.zeros((n, n))
    C = np.zeros((n, len(INPUT_NAMES)))
    W[idx["choice"], idx["pitch"]] = CHOICE_GAIN
    W[idx["choice"], idx["gate_plus"]] = CHOICE_GAIN / 2
    W[idx["choice"], idx["gate_minus"]] = -CHOICE_GAIN / 2
    W[idx["context"], [idx["gate_plus"], idx["gate_minus"]]] = 0.5
    C[idx["rule"], inp["cue_local"]] = CUE_DRIVE
    C[idx["rule"], inp["cue_pitch"]] = -CUE_DRIVE
    C[idx["location"], [inp["left_noise"], inp["right_noise"]]] = [-1.0, 1.0]
    C[idx["pitch"], [inp["high_pitch"], inp["low_pitch"]]] = [-1.0, 1.0]
    sound = np.zeros(len(INPUT_NAMES))
    sound[[inp["left_noise"], inp["right_noise"], inp["high_pitch"], inp["low_pitch"]]] = [
        -1.0,
        1.0,
        1.0,
        -1.0,
    ]
    for gate, sign in (("gate_plus", 1.0), ("gate_minus", -1.0)):
        W[idx[gate], idx["rule"]] = GATE_GAIN
        C[idx[gate]] = sign * sound
        C[idx[gate], inp["hold"]] = HOLD_GATE_DRIVE
    noise = np.array([0.02, 0.25, 0.05, 0.05, 0.05, 0.05, 0.05])
    ratio = bin_size / REFERENCE_BIN
    integrators = A > 0
    W[integrators] *= ratio
    C[integrators] *= ratio
    noise[integrators] *= np.sqrt(ratio)
    A = np.where(integrators, A**ratio, A)
    return PWLSystem(A, W, C, np.zeros(n), noise, 2, LATENT_NAMES, INPUT_NAMES)


def initial_state(system: PWLSystem, rule_belief: np.ndarray) -> np.ndarray:
    """Trial-start state: the rule belief in ``rule``, gates and context at rest, the rest 0.

    Parameters
    ----------
    system : PWLSystem
        The system (uses its ``W`` from ``rule`` to ``gate_plus`` / ``gate_minus`` and from
        Φ*(z) to ``context``; any number of PWL units, P = 0 included).
    rule_belief : ndarray, shape (trial,)
        Signed rule belief (+ = local).

    Returns
    -------
    ndarray, shape (trial, latent)
    """
    z0 = np.zeros((len(rule_belief), len(system.latent_names)))
    z0[:, 0] = rule_belief
    gates = [system.latent_names.index(name) for name in ("gate_plus", "gate_minus")]
    z0[:, gates] = rule_belief[:, None] * system.W[gates, 0]
    context = system.latent_names.index("context")
    z0[:, context] = system.phi(z0) @ system.W[context]
    return z0


def simulate_latents(
    system: PWLSystem,
    inputs: np.ndarray,
    valid: np.ndarray,
    z0: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """Run the system over ragged trials, vectorised over trials (loop over time only).

    Before a trial's first valid bin its state rests at ``z0``; each valid bin applies one
    step ``z_t = step(z_{t-1}, s_t) + noise_std * noise_t``; padded bins hold 0.

    Parameters
    ----------
    system : PWLSystem
        Generating system.
    inputs : ndarray, shape (trial, time, input)
        Inputs s_t.
    valid : ndarray of bool, shape (trial, time)
        Valid bins (one contiguous run per trial).
    z0 : ndarray, shape (trial, latent)
        Initial states.
    noise : ndarray, shape (trial, time, latent)
        Standard-normal draws (pass the same array to reproduce a run).

    Returns
    -------
    ndarray, shape (trial, time, latent)
        Latent trajectories, 0 on padded bins.
    """
    z = z0.astype(float)
    out = np.zeros((*valid.shape, z.shape[1]))
    for t in range(valid.shape[1]):
        new = system.step(z, inputs[:, t].astype(float)) + system.noise_std * noise[:, t]
        z = np.where(valid[:, t, None], new, z)
        out[:, t] = np.where(valid[:, t, None], z, 0.0)
    return out


def softplus(x: np.ndarray) -> np.ndarray:
    """Numerically stable log(1 + exp(x))."""
    return np.logaddexp(0.0, x)


def make_observation_model(
    n_units: int, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw loadings of an mPFC-like and an A1-like population on the latents.

    Rates are ``softplus(B z + b)`` in spikes/s. The first ``ceil(n_units / 2)`` units are
    mPFC-like: each prefers one rule and loads with that sign on ``rule`` (0.3–1 Hz per unit)
    and on ``context`` (1–3 Hz, so its rule signal peaks in the hold epoch), plus ± 1–3 Hz on
    ``choice``. The rest are A1-like: ± 2–6 Hz on ``location`` and on ``pitch``, ± 0.5–2 Hz on
    ``rule`` (pre-stimulus rule encoding) and an antisymmetric ± 0–1 Hz on ``gate_plus`` −
    ``gate_minus`` (stimulus tuning that depends on the rule). Baseline rates (softplus(b))
    are 8–20 Hz (mPFC) and 5–20 Hz (A1).

    Parameters
    ----------
    n_units : int
        Number of units.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    B : ndarray, shape (unit, latent)
    b : ndarray, shape (unit,)
    area : ndarray of str, shape (unit,)
        ``"mPFC"`` or ``"A1"``.
    """
    n_pfc = (n_units + 1) // 2
    n_a1 = n_units - n_pfc
    idx = {name: i for i, name in enumerate(LATENT_NAMES)}

    def signed(low: float, high: float, size: int) -> np.ndarray:
        return rng.choice([-1.0, 1.0], size) * rng.uniform(low, high, size)

    B = np.zeros((n_units, len(LATENT_NAMES)))
    pfc, a1 = slice(0, n_pfc), slice(n_pfc, n_units)
    prefers = rng.choice([-1.0, 1.0], n_pfc)  # +1: fires more in local blocks
    B[pfc, idx["rule"]] = prefers * rng.uniform(0.3, 1.0, n_pfc)
    B[pfc, idx["context"]] = prefers * rng.uniform(1.0, 3.0, n_pfc)
    B[pfc, idx["choice"]] = signed(1.0, 3.0, n_pfc)
    B[a1, idx["location"]] = signed(2.0, 6.0, n_a1)
    B[a1, idx["pitch"]] = signed(2.0, 6.0, n_a1)
    B[a1, idx["rule"]] = signed(0.5, 2.0, n_a1)
    gate = signed(0.0, 1.0, n_a1)
    B[a1, idx["gate_plus"]], B[a1, idx["gate_minus"]] = gate, -gate
    base = np.concatenate([rng.uniform(8.0, 20.0, n_pfc), rng.uniform(5.0, 20.0, n_a1)])
    b = base + np.log(-np.expm1(-base))  # inverse softplus
    area = np.array(["mPFC"] * n_pfc + ["A1"] * n_a1)
    return B, b, area


def sample_spikes(
    z: np.ndarray,
    B: np.ndarray,
    b: np.ndarray,
    *,
    bin_size: float,
    valid: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Poisson counts with mean ``bin_size * softplus(B z + b)`` (0 on padded bins).

    Parameters
    ----------
    z : ndarray, shape (trial, time, latent)
    B : ndarray, shape (unit, latent)
    b : ndarray, shape (unit,)
    bin_size : float
        Bin width (s); rates are in spikes/s.
    valid : ndarray of bool, shape (trial, time)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int32, shape (trial, time, unit)
    """
    rate = softplus(z @ B.T + b) * bin_size
    counts = rng.poisson(rate).astype(np.int32)
    return np.where(valid[..., None], counts, 0).astype(np.int32)

"""``lstm``: a gated RNN trained on the behavioural task; its hidden units drive the spikes.

Ground truth whose solution nobody wrote down: an LSTM (H = 16 units) is trained, once per
seed, to do the stimulus-selection task from the observed inputs alone. The rule is never an
input: the network must take it from the cue trials that open each block and hold it in its
recurrent state across the block's 40–80 trials (the session runs continuously, no per-trial
reset). Equations (PyTorch's LSTM; σ logistic, ⊙ elementwise; x_t the 7 task inputs, all
but ``reward``)::

    x_t = s_t + σ_in ε_t                                   (σ_in = 0.3, ε_t ~ N(0, I))
    i_t = σ(W_i x_t + U_i h_{t-1} + b_i)      f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)   o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,          h_t = o_t ⊙ tanh(c_t)
    y_t = W_out h_t + b_out                                (logits of left, right)

Training (:func:`train_lstm`; torch, CPU, one thread, seeded; a few seconds): cross-entropy of
y_t against the correct side on the ``response`` bins, plus (weight 1) a logistic report of the
block's rule from h_t on every bin through a second readout that is then discarded: the rule
still reaches the network only through the cue trials, the report only makes holding it
learnable in seconds (without it most seeds never leave chance on incongruent trials). A
curriculum of three pools of 64 sessions (:data:`CURRICULUM`): 4-trial sessions with 2–4-trial
blocks (1 cue trial each), 30-trial sessions with 4–30-trial blocks, then 80-trial sessions of
the simulator's own task (40–80-trial blocks, 4 cue trials), each until 98 % of the response
bins, and of the incongruent trials' ones, are right in each of the last 3 / 10 / 10
minibatches (at most 200 / 200 / 80 steps; the last stage at least 20). Adam (lr 0.02, 0.02,
0.005), minibatches of 16, gradient norm ≤ 1, a fresh input-noise draw per step, forget-gate
bias started at +3 (long memory). Weights
stay in memory for the process, never on disk. Floating-point results can differ across CPU
types (as for any torch training); on one machine the same seed gives the same network.

Simulation: the session's inputs run through the network (numpy); the choice value of a trial
is the mean logit difference (right − left) over its ``response`` bins (the last stimulus bin
if it has none); :func:`~alrnn_neuro.simulate.task_structure.decide` adds lapses as for every
generator. Spikes: Poisson(bin_size · softplus(B h_t + b)) through a random readout
(:func:`~alrnn_neuro.simulate.generators.base.random_readout`).

Why an LSTM and not a GRU: with the same curriculum a GRU's CPU backward pass is 8–15 times
slower per step here (PyTorch fuses only the LSTM), and a GRU trained for a few seconds on
short sessions let the rule decay within 20–30 trials of a block.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators.base import (
    LOCAL_LOCATION_PITCH_PITCH,
    Decide,
    Simulation,
    random_readout,
    to_session,
    to_trials,
)

logger = logging.getLogger(__name__)

HIDDEN = 16
READ_INPUTS = tuple(name for name in ts.INPUT_NAMES if name != "reward")
INPUT_NOISE = 0.3
FORGET_GATE_BIAS = 3.0
RULE_REPORT_WEIGHT = 1.0
POOL = 64
BATCH = 16
TARGET_ACCURACY = 0.98


@dataclass(frozen=True)
class Phase:
    """One stage of the training curriculum.

    Attributes
    ----------
    n_trials : int
        Trials per training session.
    task : TaskParams
        Block structure of the sessions.
    learning_rate : float
    min_steps, max_steps : int
        Bounds on the optimiser steps.
    window : int
        Stop once the last ``window`` minibatches all reach :data:`TARGET_ACCURACY`.
    """

    n_trials: int
    task: ts.TaskParams
    learning_rate: float
    min_steps: int
    max_steps: int
    window: int


CURRICULUM = (
    Phase(4, ts.TaskParams(block_length=(2, 4), n_cue_trials=1), 0.02, 3, 200, 3),
    Phase(30, ts.TaskParams(block_length=(4, 30), n_cue_trials=1), 0.02, 10, 200, 10),
    Phase(80, ts.TaskParams(), 0.005, 20, 80, 10),
)


@dataclass(frozen=True, eq=False)
class LSTMWeights:
    """A trained LSTM (PyTorch layout: gate rows ordered i, f, g, o).

    Attributes
    ----------
    w_ih : ndarray, shape (4 * hidden, input)
    w_hh : ndarray, shape (4 * hidden, hidden)
    b : ndarray, shape (4 * hidden,)
        Both PyTorch biases summed.
    w_out : ndarray, shape (2, hidden)
        Readout to the logits of (left, right).
    b_out : ndarray, shape (2,)
    training_accuracy : float
        Fraction of the last minibatch's response bins answered correctly.
    training_steps : int
        Optimiser steps taken over the whole curriculum.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    training_accuracy: float
    training_steps: int


def training_sessions(rng: np.random.Generator, phase: Phase, bin_size: float) -> dict:
    """A pool of :data:`POOL` continuous sessions of the task, padded to a common length.

    Returns
    -------
    dict of str to ndarray, each (session, step[, input])
        ``inputs`` (float32, :data:`READ_INPUTS`), ``valid``, ``response``, ``incongruent``
        (bool), ``target`` (int64, 1 = right), ``local`` (float32, 1 in local blocks).
    """
    sessions = []
    for _ in range(POOL):
        trials = ts.make_trials(phase.n_trials, rng=rng, params=phase.task)
        timeline = ts.build_timeline(trials, bin_size=bin_size)
        valid = timeline.valid
        per_bin = valid.sum(axis=1)
        incongruent = ~trials["cue_trial"] & ~trials["congruent"]
        inputs = ts.make_inputs(trials, timeline)[..., : len(READ_INPUTS)]
        sessions.append(
            {
                "inputs": to_session(inputs, valid),
                "valid": np.ones(int(per_bin.sum()), bool),
                "response": to_session(timeline.epoch == "response", valid),
                "incongruent": np.repeat(incongruent, per_bin),
                "target": np.repeat(trials["target_sign"] > 0, per_bin),
                "local": np.repeat(trials["rule"] == "local", per_bin),
            }
        )
    length = max(len(s["valid"]) for s in sessions)
    dtypes = {"inputs": np.float32, "target": np.int64, "local": np.float32}
    out = {}
    for key, first in sessions[0].items():
        array = np.zeros((POOL, length, *first.shape[1:]), dtypes.get(key, bool))
        for i, session in enumerate(sessions):
            array[i, : len(session[key])] = session[key]
        out[key] = array
    return out


@functools.lru_cache(maxsize=8)
def train_lstm(entropy: int, spawn_key: tuple[int, ...], bin_size: float) -> LSTMWeights:
    """Train the network for one seed, deterministically (see the module docstring).

    Parameters
    ----------
    entropy, spawn_key
        Of the :class:`numpy.random.SeedSequence` that seeds the training sessions, the
        initialisation, the minibatches and the training noise.
    bin_size : float
        Bin width (s) of the task the network is trained on.

    Returns
    -------
    LSTMWeights
    """
    import torch

    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    rng = np.random.default_rng(seq)
    torch_seed = int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            net = torch.nn.LSTM(len(READ_INPUTS), HIDDEN, batch_first=True)
            heads = torch.nn.Linear(HIDDEN, 3)  # left, right logits; rule report
            with torch.no_grad():
                net.bias_hh_l0[HIDDEN : 2 * HIDDEN] += FORGET_GATE_BIAS
            draws = torch.Generator().manual_seed(torch_seed)
            steps, accuracy = 0, 0.0
            for phase in CURRICULUM:
                data = training_sessions(rng, phase, bin_size)
                taken, accuracy = _fit_phase(net, heads, data, phase, draws)
                steps += taken
    finally:
        torch.set_num_threads(threads)
    if accuracy < TARGET_ACCURACY:
        logger.warning("lstm generator: training accuracy %.3f", accuracy)

    def numpy(tensor) -> np.ndarray:
        return tensor.detach().numpy().astype(np.float64)

    return LSTMWeights(
        numpy(net.weight_ih_l0),
        numpy(net.weight_hh_l0),
        numpy(net.bias_ih_l0 + net.bias_hh_l0),
        numpy(heads.weight[:2]),
        numpy(heads.bias[:2]),
        accuracy,
        steps,
    )


def _fit_phase(net, heads, data: dict, phase: Phase, draws) -> tuple[int, float]:
    """Train on one pool until the phase's stopping rule; (steps, last accuracy)."""
    import torch

    tensors = {key: torch.from_numpy(values) for key, values in data.items()}
    params = [*net.parameters(), *heads.parameters()]
    optimizer = torch.optim.Adam(params, lr=phase.learning_rate)
    recent: list[float] = []
    for step in range(1, phase.max_steps + 1):
        chosen = torch.randperm(POOL, generator=draws)[:BATCH]
        batch = {key: values[chosen] for key, values in tensors.items()}
        inputs = batch["inputs"]
        noisy = inputs + INPUT_NOISE * torch.randn(inputs.shape, generator=draws)
        out = heads(net(noisy)[0])
        response, valid = batch["response"], batch["valid"]
        logits, target = out[..., :2][response], batch["target"][response]
        report = torch.nn.functional.binary_cross_entropy_with_logits(
            out[..., 2][valid], batch["local"][valid]
        )
        loss = torch.nn.functional.cross_entropy(logits, target) + RULE_REPORT_WEIGHT * report
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        correct = logits.argmax(-1) == target
        hard = correct[batch["incongruent"][response]]
        recent.append(min(float(correct.float().mean()), float(hard.float().mean())))
        window = recent[-phase.window :]
        if step >= phase.min_steps and min(window) >= TARGET_ACCURACY:
            break
    return step, recent[-1]


def lstm_forward(weights: LSTMWeights, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden and cell states of the network over a sequence from rest (numpy, float64).

    Parameters
    ----------
    weights : LSTMWeights
    x : ndarray, shape (step, input)

    Returns
    -------
    hidden, cell : ndarray, shape (step, hidden)
    """
    n = weights.w_hh.shape[1]
    drive = x @ weights.w_ih.T + weights.b
    hidden, cell = np.empty((len(x), n)), np.empty((len(x), n))
    h, c = np.zeros(n), np.zeros(n)
    for t in range(len(x)):
        a = drive[t] + weights.w_hh @ h
        gates = expit(a)
        c = gates[n : 2 * n] * c + gates[:n] * np.tanh(a[2 * n : 3 * n])
        h = gates[3 * n :] * np.tanh(c)
        hidden[t], cell[t] = h, c
    return hidden, cell


@dataclass(frozen=True)
class TrainedLSTM:
    """The ``lstm`` generator (see the module docstring)."""

    name: str = "lstm"
    summary: str = (
        "an LSTM trained on the behavioural task, rule held in its recurrent state "
        "(not an AL-RNN, solution unknown): recovery test"
    )

    def simulate(
        self,
        trials: dict,
        timeline: ts.Timeline,
        *,
        seed: np.random.SeedSequence,
        decide: Decide,
    ) -> Simulation:
        """Train (or reuse) the network for this seed and run the session through it."""
        train_seq, noise_seq = (
            np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k)) for k in (0, 1)
        )
        weights = train_lstm(train_seq.entropy, train_seq.spawn_key, timeline.bin_size)
        valid = timeline.valid
        read = ts.make_inputs(trials, timeline)[..., : len(READ_INPUTS)]
        x = to_session(read, valid).astype(float)
        x = x + INPUT_NOISE * np.random.default_rng(noise_seq).standard_normal(x.shape)
        hidden, cell = lstm_forward(weights, x)
        logits = hidden @ weights.w_out.T + weights.b_out
        evidence = to_trials(logits[:, 1] - logits[:, 0], valid)
        response = timeline.epoch == "response"
        n_response = response.sum(axis=1)
        at_decision = evidence[np.arange(len(evidence)), timeline.decision_bin]
        mean_response = (evidence * response).sum(axis=1) / np.maximum(n_response, 1)
        behaviour = decide(np.where(n_response > 0, mean_response, at_decision))
        lat = "true_latent"
        return Simulation(
            latents=to_trials(hidden, valid),
            latent_names=tuple(f"h{i:02d}" for i in range(HIDDEN)),
            inputs=ts.make_inputs(trials, timeline, behaviour["correct"]),
            behaviour=behaviour,
            belief=None,
            ground_truth={
                "true_latents": (("trial", "time", lat), to_trials(hidden, valid)),
                "true_cell": (("trial", "time", lat), to_trials(cell, valid)),
                "true_lstm_w_ih": (("true_lstm_row", "true_lstm_input"), weights.w_ih),
                "true_lstm_w_hh": (("true_lstm_row", lat), weights.w_hh),
                "true_lstm_b": (("true_lstm_row",), weights.b),
                "true_lstm_w_out": (("true_lstm_output", lat), weights.w_out),
                "true_lstm_b_out": (("true_lstm_output",), weights.b_out),
            },
            attrs={
                "true_routing": LOCAL_LOCATION_PITCH_PITCH,
                "true_rule_memory": "recurrent",
                "true_nonlinearity": "lstm",
                "true_hidden_units": np.int64(HIDDEN),
                "true_input_noise": INPUT_NOISE,
                "true_training_accuracy": weights.training_accuracy,
                "true_training_steps": np.int64(weights.training_steps),
            },
            coords={
                "true_lstm_row": [f"{g}{i:02d}" for g in "ifgo" for i in range(HIDDEN)],
                "true_lstm_input": list(READ_INPUTS),
                "true_lstm_output": ["left", "right"],
            },
        )

    def observation_model(
        self, simulation: Simulation, n_units: int, *, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A random readout of the hidden units (:func:`random_readout`)."""
        return random_readout(len(simulation.latent_names), n_units, rng=rng)


LSTM = TrainedLSTM()

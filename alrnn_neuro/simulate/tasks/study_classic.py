"""The classic tasks as the AL-RNN study's public code defines them (``variant="study"``).

Brenner & Koppe (TMLR 2026, arXiv 2506.07919) train on task generators in their repository
fnnrth/Linear_Nonlinear_Memory. The generators here rebuild those definitions -- encodings,
lengths, the steps that carry loss, the readout step -- from that code (read, not copied; file
and commit per task in :mod:`~alrnn_neuro.simulate.tasks.study_presets`). The toolbox's own
short versions stay in :mod:`~alrnn_neuro.simulate.tasks.classic` (``variant="short"``).

Time counts in steps (``bin_size = 1.0``), every trial starts at step 0 and the model reads
input ``s_t`` before its output at step t, as in the study's loops (``z_t = f(z_{t-1}, s_t)``,
output ``D z_t``). Targets are 0 outside ``loss_mask``.

=========================  ====================================================================
task                       the study's definition
=========================  ====================================================================
addition                   T = 100; value ~ U(0, 1) every step, marker on 2 distinct steps of
                           the first T // 2; MSE on the final state only
copy                       tokens 0..K-1 (K = 5): 8 symbols from 1..K-1, token 0 as cue one
                           step later, 100 zero-input steps, token 0 again on the 8 recall
                           steps; cross-entropy on the last 8 steps over all K classes;
                           whole-sequence accuracy
variable_delay_copy        5 symbols from 1..4 on steps 0..4; the cue (token 0) on one step
                           drawn uniformly from 50..99; recall on the 5 steps after it; every
                           trial 50 + 50 + 5 = 105 steps; whole-sequence accuracy
contextual_integration     T = 100: context one-hot at t = 0, evidence +-1 + N(0, 0.01^2) on
                           t = 1..98, context again with the recall flag at t = 99;
                           cross-entropy on the final state only
=========================  ====================================================================
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks._common import (
    check_common,
    check_float,
    check_int,
    epoch_timeline,
    one_hot,
    task_dataset,
)
from alrnn_neuro.simulate.tasks.classic import addition_task

STEP = 1.0
STUDY = "study"
COPY_EPOCHS = ("stimulus", "cue", "delay", "recall")
VARIABLE_COPY_EPOCHS = ("stimulus", "delay", "cue", "recall", "post_recall")
CONTEXT_EPOCHS = ("context", "stimulus", "response")


def study_addition_task(n_trials: int, *, seed: int, length: int = 100) -> xr.Dataset:
    """Addition problem as in the study: ``length`` = 100 steps, markers in the first half.

    The study's encoding equals the toolbox's (:func:`~.classic.addition_task` with
    ``marker_window = length // 2``): inputs ``value`` ~ U(0, 1) on every step and ``marker``
    = 1 on two distinct steps among the first ``length // 2``; the target ``sum`` of the two
    marked values is read from the final state only (``loss_mask`` = the last step,
    ``task_loss="mse"``). Predicting the mean sum (1.0) gives the chance-level MSE 1/6.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    length : int
        Steps per trial (>= 4; the study uses 100).

    Returns
    -------
    xr.Dataset
        Task dataset (trial, time = ``length``), ``attrs["variant"] = "study"``; trial coords
        as :func:`~.classic.addition_task`.

    Examples
    --------
    >>> ds = study_addition_task(3, seed=0)
    >>> ds.sizes["time"], int(ds.loss_mask.sum()), ds.attrs["variant"]
    (100, 3, 'study')
    """
    check_int("length", length, 4)
    ds = addition_task(n_trials, seed=seed, length=length, marker_window=length // 2)
    ds.attrs["variant"] = STUDY
    return ds


def study_copy_task(
    n_trials: int, *, seed: int, n_symbols: int = 5, seq_len: int = 8, delay: int = 100
) -> xr.Dataset:
    """Copy task as in the study: zero-input delay, recall on the last ``seq_len`` steps.

    Tokens are ``0 .. n_symbols - 1``; token 0 is the cue, tokens ``1 .. n_symbols - 1`` the
    symbols to store (4 in the study). Epochs in order: ``"stimulus"`` (``seq_len`` steps),
    ``"cue"`` (1), ``"delay"`` (``delay``), ``"recall"`` (``seq_len``); every trial has
    ``2 * seq_len + 1 + delay`` steps (117 in the study).

    - ``inputs`` (``n_symbols`` channels ``cue, sym1 .. sym{K-1}``): the one-hot symbol on
      stimulus step k; ``cue`` = 1 on the cue step and on every recall step; the delay
      steps carry no input at all.
    - ``targets`` (the same ``n_symbols`` classes, ``task_loss="cross_entropy"``): on recall
      step k the one-hot of the k-th stored symbol; class ``cue`` is never a target but is
      an output, as in the study.
    - ``loss_mask``: the recall steps. Accuracy is whole-sequence accuracy (every recalled
      symbol right); guessing among the symbols gets ``(1 / (n_symbols - 1)) ** seq_len``.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0).
    n_symbols : int
        Tokens including the cue (>= 3; the study's ``num_symbols`` = 5).
    seq_len : int
        Symbols to store (>= 1; study 8).
    delay : int
        Zero-input steps between cue and recall (>= 0; study 100).

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``symbol_0 .. symbol_{seq_len-1}`` (token index of each
        stored symbol, 1 .. n_symbols - 1) and ``delay``.

    Examples
    --------
    >>> ds = study_copy_task(2, seed=0)
    >>> ds.sizes["time"], ds.input.values.tolist()
    (117, ['cue', 'sym1', 'sym2', 'sym3', 'sym4'])
    """
    rng = check_common(n_trials, seed)
    check_int("n_symbols", n_symbols, 3)
    check_int("seq_len", seq_len, 1)
    check_int("delay", delay, 0)
    symbols = rng.integers(1, n_symbols, (n_trials, seq_len))
    lengths = np.tile([seq_len, 1, delay, seq_len], (n_trials, 1))
    timeline = epoch_timeline(lengths, COPY_EPOCHS)
    n_time = timeline.valid.shape[1]
    recall = timeline.mask("recall")
    inputs = np.zeros((n_trials, n_time, n_symbols), np.float32)
    inputs[:, :seq_len] = one_hot(symbols, n_symbols)
    inputs[..., 0] = timeline.mask("cue") | recall
    position = np.clip(timeline.step_in_epoch("recall"), 0, seq_len - 1)
    targets = one_hot(np.take_along_axis(symbols, position, axis=1), n_symbols)
    names = ["cue", *(f"sym{k}" for k in range(1, n_symbols))]
    return task_dataset(
        task="copy",
        targets=targets * recall[..., None],
        inputs=inputs,
        input_names=names,
        output_names=names,
        timeline=timeline,
        loss_mask=recall,
        task_loss="cross_entropy",
        bin_size=STEP,
        trial_coords={
            **{f"symbol_{k}": symbols[:, k] for k in range(seq_len)},
            "delay": np.full(n_trials, delay),
        },
        params={"n_symbols": n_symbols, "seq_len": seq_len, "delay": delay, "seed": seed},
        variant=STUDY,
    )


def study_variable_delay_copy_task(
    n_trials: int,
    *,
    seed: int,
    n_symbols: int = 5,
    seq_len: int = 5,
    fixed_steps: int = 50,
    variable_steps: int = 50,
    recall_marker: bool = False,
) -> xr.Dataset:
    """Variable-delay copy as in the study: recall right after a cue at a random step.

    Every trial has ``fixed_steps + variable_steps + seq_len`` steps (105 in the study).
    Tokens as in :func:`study_copy_task` (token 0 = cue). The symbols (from 1 .. n_symbols
    - 1) are shown on steps ``0 .. seq_len - 1``; the cue comes on one step ``c`` drawn
    uniformly from ``fixed_steps .. fixed_steps + variable_steps - 1``; the stored symbols
    are to be recalled on steps ``c + 1 .. c + seq_len``; the remaining steps to the end of
    the trial carry no input and no loss. Epochs: ``"stimulus"``, ``"delay"``, ``"cue"``,
    ``"recall"``, ``"post_recall"`` (possibly empty).

    - ``inputs`` (``n_symbols`` channels ``cue, sym1 ..``): one-hot symbols, then ``cue`` = 1
      on step c (and on the recall steps too if ``recall_marker``).
    - ``targets`` / ``loss_mask``: one-hot of the k-th stored symbol on recall step k only
      (``task_loss="cross_entropy"``); whole-sequence accuracy.

    The generator function itself is missing from the study's public repository; lengths,
    cue window and the recall window come from its training and evaluation code
    (``copy_problem/variable_delay_task.py``, ``rnn_model.py``), the token encoding from the
    fixed-delay generator. Whether recall steps repeat the cue token is not recorded there:
    ``recall_marker=False`` (default) shows the cue once, ``True`` marks every recall step
    as the fixed-delay generator does.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0).
    n_symbols : int
        Tokens including the cue (>= 3; study 5).
    seq_len : int
        Symbols to store (>= 1; study 5), at most ``fixed_steps``.
    fixed_steps, variable_steps : int
        The cue falls on a step in ``[fixed_steps, fixed_steps + variable_steps)`` (study 50
        and 50; ``variable_steps`` >= 1).
    recall_marker : bool
        Also set the ``cue`` channel on the recall steps.

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``symbol_k``, ``cue_step`` (c) and ``delay`` (steps
        between the last symbol and the cue).

    Examples
    --------
    >>> ds = study_variable_delay_copy_task(4, seed=0)
    >>> ds.sizes["time"], sorted(set(ds.loss_mask.sum("time").values.tolist()))
    (105, [5])
    """
    rng = check_common(n_trials, seed)
    check_int("n_symbols", n_symbols, 3)
    check_int("fixed_steps", fixed_steps, 1)
    check_int("seq_len", seq_len, 1, fixed_steps)
    check_int("variable_steps", variable_steps, 1)
    if not isinstance(recall_marker, bool):
        raise ConfigError(f"recall_marker={recall_marker!r}; fix: True or False")
    n_time = fixed_steps + variable_steps + seq_len
    symbols = rng.integers(1, n_symbols, (n_trials, seq_len))
    cue_step = rng.integers(fixed_steps, fixed_steps + variable_steps, n_trials)
    lengths = np.stack(
        [
            np.full(n_trials, seq_len),
            cue_step - seq_len,
            np.ones(n_trials, int),
            np.full(n_trials, seq_len),
            n_time - cue_step - 1 - seq_len,
        ],
        axis=1,
    )
    timeline = epoch_timeline(lengths, VARIABLE_COPY_EPOCHS)
    recall = timeline.mask("recall")
    inputs = np.zeros((n_trials, n_time, n_symbols), np.float32)
    inputs[:, :seq_len] = one_hot(symbols, n_symbols)
    inputs[..., 0] = timeline.mask("cue") | (recall & recall_marker)
    position = np.clip(timeline.step_in_epoch("recall"), 0, seq_len - 1)
    targets = one_hot(np.take_along_axis(symbols, position, axis=1), n_symbols)
    names = ["cue", *(f"sym{k}" for k in range(1, n_symbols))]
    return task_dataset(
        task="variable_delay_copy",
        targets=targets * recall[..., None],
        inputs=inputs,
        input_names=names,
        output_names=names,
        timeline=timeline,
        loss_mask=recall,
        task_loss="cross_entropy",
        bin_size=STEP,
        trial_coords={
            **{f"symbol_{k}": symbols[:, k] for k in range(seq_len)},
            "cue_step": cue_step,
            "delay": cue_step - seq_len,
        },
        params={
            "n_symbols": n_symbols,
            "seq_len": seq_len,
            "fixed_steps": fixed_steps,
            "variable_steps": variable_steps,
            "recall_marker": recall_marker,
            "seed": seed,
        },
        variant=STUDY,
    )


def study_contextual_integration_task(
    n_trials: int,
    *,
    seed: int,
    length: int = 100,
    noise_std: float = 0.01,
    invert_prob: float = 0.5,
) -> xr.Dataset:
    """Contextual integration as in the study: the context is shown again at the recall step.

    Epochs: ``"context"`` (step 0), ``"stimulus"`` (steps 1 .. length - 2), ``"response"``
    (the last step).

    - ``inputs`` (4 channels ``context_1, context_2, evidence, recall``): the context one-hot
      on step 0 *and* on the last step; ``evidence`` = +-1 (fair coin) + N(0, noise_std^2)
      on every stimulus step; ``recall`` = 1 on the last step only.
    - ``targets`` (outputs ``negative, positive``, ``task_loss="cross_entropy"``) on the last
      step: ``positive`` iff the sum of the (noisy) evidence is > 0 in context 1, < 0 in
      context 2 (probability ``invert_prob``). The context need not be held: at recall it
      flips the sign of the integrated evidence.
    - ``loss_mask``: the last step only (final-state readout). Chance level is 1/2.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0).
    length : int
        Steps per trial (>= 3; study 100, i.e. 98 evidence steps).
    noise_std : float
        S.d. of the Gaussian noise on each evidence step (>= 0; study 0.01).
    invert_prob : float
        Probability of context 2 (in [0, 1]; study 0.5).

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``context`` (1/2), ``evidence_sum``,
        ``evidence_sign`` and ``answer`` (+1 = positive, -1 = negative).

    Examples
    --------
    >>> ds = study_contextual_integration_task(4, seed=0)
    >>> ds.inputs.values[:, -1, 3].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    rng = check_common(n_trials, seed)
    check_int("length", length, 3)
    check_float("noise_std", noise_std, 0.0)
    check_float("invert_prob", invert_prob, 0.0, 1.0)
    context = np.where(rng.random(n_trials) < invert_prob, 2, 1)
    coin = rng.integers(0, 2, (n_trials, length - 2)) * 2 - 1
    noise = noise_std * rng.standard_normal((n_trials, length - 2))
    evidence = (coin + noise).astype(np.float32)  # the target follows the stored inputs
    total = evidence.astype(np.float64).sum(axis=1)
    answer = np.where(total * np.where(context == 1, 1, -1) > 0, 1, -1)
    timeline = epoch_timeline(np.tile([1, length - 2, 1], (n_trials, 1)), CONTEXT_EPOCHS)
    inputs = np.zeros((n_trials, length, 4), np.float32)
    inputs[:, [0, -1], :2] = one_hot(context - 1, 2)[:, None, :]
    inputs[:, 1:-1, 2] = evidence
    inputs[:, -1, 3] = 1.0
    response = timeline.mask("response")
    targets = one_hot((answer > 0).astype(int), 2)[:, None, :] * response[..., None]
    return task_dataset(
        task="contextual_integration",
        targets=targets,
        inputs=inputs,
        input_names=["context_1", "context_2", "evidence", "recall"],
        output_names=["negative", "positive"],
        timeline=timeline,
        loss_mask=response,
        task_loss="cross_entropy",
        bin_size=STEP,
        trial_coords={
            "context": context,
            "evidence_sum": total,
            "evidence_sign": np.sign(total),
            "answer": answer,
        },
        params={
            "length": length,
            "noise_std": float(noise_std),
            "invert_prob": float(invert_prob),
            "seed": seed,
        },
        variant=STUDY,
    )

"""Classic sequence tasks: addition problem, copy (fixed or variable delay), contextual integration.

Abstract tasks count time in *steps*: ``bin_size = 1.0`` and ``time`` = step + 0.5, so "seconds"
in the canonical model read as steps (``event_<epoch>`` coords = onset step). All datasets
are aligned to trial ``start``. Targets are 0 outside ``loss_mask``; for
``task_loss="cross_entropy"`` they are one-hot over ``output`` on the ``loss_mask`` steps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks._common import (
    check_common,
    check_float,
    check_int,
    check_steps,
    draw_steps,
    epoch_timeline,
    one_hot,
    task_dataset,
)

STEP = 1.0
COPY_EPOCHS = ("stimulus", "delay", "go", "recall")
CONTEXT_EPOCHS = ("context", "stimulus", "response")


def addition_task(
    n_trials: int, *, seed: int, length: int = 100, marker_window: int | None = None
) -> xr.Dataset:
    """Addition problem (Hochreiter & Schmidhuber 1997): output the sum of two marked values.

    Trial structure (fixed length ``length`` steps, so no padding):

    - ``inputs`` (2 channels): ``value`` ~ U(0, 1) on every step; ``marker`` = 1 on exactly
      two steps, drawn without replacement from the first ``marker_window`` steps.
    - ``epoch``: ``"stimulus"`` on steps ``0 .. length-2``, ``"response"`` on the last step.
    - ``targets`` (output ``sum``): the sum of the two marked values on the last step, 0
      elsewhere; ``loss_mask`` is the last step only; ``task_loss="mse"``.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    length : int
        Steps per trial (>= 3).
    marker_window : int, optional
        Markers fall in the first ``marker_window`` steps (default ``length // 2``, the first
        half); 2 <= marker_window <= length - 1.

    Returns
    -------
    xr.Dataset
        Task dataset; trial coords ``marker_1`` < ``marker_2`` (steps), ``value_1``,
        ``value_2`` (the marked values, in time order) and ``target_sum``.

    Examples
    --------
    >>> ds = addition_task(4, seed=0, length=20)
    >>> ds.sizes["time"], ds.input.values.tolist()
    (20, ['value', 'marker'])
    """
    rng = check_common(n_trials, seed)
    check_int("length", length, 3)
    window = length // 2 if marker_window is None else marker_window
    check_int("marker_window", window, 2, length - 1)
    timeline = epoch_timeline(np.tile([length - 1, 1], (n_trials, 1)), ("stimulus", "response"))
    values = rng.uniform(0.0, 1.0, (n_trials, length))
    markers = np.sort(rng.random((n_trials, window)).argsort(axis=1)[:, :2], axis=1)
    marked = np.take_along_axis(values, markers, axis=1)
    inputs = np.zeros((n_trials, length, 2), np.float32)
    inputs[..., 0] = values
    np.put_along_axis(inputs[..., 1], markers, 1.0, axis=1)
    response = timeline.mask("response")
    targets = (response * marked.sum(axis=1)[:, None])[..., None]
    return task_dataset(
        task="addition",
        targets=targets,
        inputs=inputs,
        input_names=["value", "marker"],
        output_names=["sum"],
        timeline=timeline,
        loss_mask=response,
        task_loss="mse",
        bin_size=STEP,
        trial_coords={
            "marker_1": markers[:, 0],
            "marker_2": markers[:, 1],
            "value_1": marked[:, 0],
            "value_2": marked[:, 1],
            "target_sum": marked.sum(axis=1),
        },
        params={"length": length, "marker_window": window, "seed": seed},
    )


def copy_task(
    n_trials: int,
    *,
    seed: int,
    n_symbols: int = 8,
    seq_len: int = 10,
    delay: int | tuple[int, int] = 100,
) -> xr.Dataset:
    """Copy / delayed recall: store ``seq_len`` symbols, wait, recall them after a go cue.

    Trial structure, epochs in order: ``"stimulus"`` (``seq_len`` steps, one symbol each),
    ``"delay"`` (``delay`` steps), ``"go"`` (1 step), ``"recall"`` (``seq_len`` steps).

    - ``inputs`` (``n_symbols + 2`` channels ``sym0 .. sym{K-1}, blank, go``): the one-hot
      symbol during ``stimulus``; ``blank`` = 1 during ``delay`` and ``recall``; ``go`` = 1
      on the go step.
    - ``targets`` (outputs ``sym0 .. sym{K-1}``, ``task_loss="cross_entropy"``): on recall
      step ``k`` the one-hot of the ``k``-th stored symbol; 0 elsewhere.
    - ``loss_mask``: the recall steps.

    With ``delay=(lo, hi)`` each trial draws its delay uniformly from ``lo .. hi`` (variable
    delay; trials are then ragged and padded at the end).

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0).
    n_symbols : int
        Alphabet size K (>= 2).
    seq_len : int
        Symbols to store (>= 1).
    delay : int or (int, int)
        Delay in steps (>= 0), or an inclusive range for a variable delay.

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``symbol_0 .. symbol_{seq_len-1}`` (stored symbols,
        0-based) and ``delay`` (steps).

    Examples
    --------
    >>> ds = copy_task(3, seed=0, n_symbols=4, seq_len=3, delay=5)
    >>> ds.sizes["time"], int(ds.loss_mask.sum())
    (12, 9)
    """
    rng = check_common(n_trials, seed)
    check_int("n_symbols", n_symbols, 2)
    check_int("seq_len", seq_len, 1)
    delay_range = check_steps("delay", delay, low=0)
    symbols = rng.integers(0, n_symbols, (n_trials, seq_len))
    delays = draw_steps(rng, delay_range, n_trials)
    lengths = np.stack([np.full(n_trials, seq_len), delays, np.ones(n_trials, int)], axis=1)
    lengths = np.concatenate([lengths, lengths[:, :1]], axis=1)
    timeline = epoch_timeline(lengths, COPY_EPOCHS)
    n_time = timeline.valid.shape[1]
    inputs = np.zeros((n_trials, n_time, n_symbols + 2), np.float32)
    inputs[:, :seq_len, :n_symbols] = one_hot(symbols, n_symbols)
    recall = timeline.mask("recall")
    inputs[..., n_symbols] = timeline.mask("delay") | recall
    inputs[..., n_symbols + 1] = timeline.mask("go")
    position = np.clip(timeline.step_in_epoch("recall"), 0, seq_len - 1)
    recalled = np.take_along_axis(symbols, position, axis=1)
    targets = one_hot(recalled, n_symbols) * recall[..., None]
    names = [f"sym{k}" for k in range(n_symbols)]
    variable = delay_range[0] != delay_range[1]
    return task_dataset(
        task="variable_delay_copy" if variable else "copy",
        targets=targets,
        inputs=inputs,
        input_names=[*names, "blank", "go"],
        output_names=names,
        timeline=timeline,
        loss_mask=recall,
        task_loss="cross_entropy",
        bin_size=STEP,
        trial_coords={
            **{f"symbol_{k}": symbols[:, k] for k in range(seq_len)},
            "delay": delays,
        },
        params={"n_symbols": n_symbols, "seq_len": seq_len, "delay": delay_range, "seed": seed},
    )


def variable_delay_copy_task(
    n_trials: int,
    *,
    seed: int,
    n_symbols: int = 8,
    seq_len: int = 10,
    delay: tuple[int, int] = (50, 150),
) -> xr.Dataset:
    """Copy task whose delay is drawn per trial from ``delay = (lo, hi)`` (inclusive, steps).

    Same trial structure as :func:`copy_task`; trials differ in length, so ``valid`` marks
    the padded steps at the end of the shorter trials.

    Examples
    --------
    >>> ds = variable_delay_copy_task(5, seed=1, n_symbols=3, seq_len=2, delay=(1, 6))
    >>> sorted(set((ds.valid.sum("time").values - ds.delay.values).tolist()))
    [5]
    """
    low, high = check_steps("delay", delay, low=0)
    if low == high:
        raise ConfigError(
            f"delay={delay!r} is a single value; fix: a range (lo, hi) with lo < hi, or use "
            "copy_task for a fixed delay"
        )
    return copy_task(n_trials, seed=seed, n_symbols=n_symbols, seq_len=seq_len, delay=delay)


def contextual_integration_task(
    n_trials: int,
    *,
    seed: int,
    context_steps: int | tuple[int, int] = 5,
    stimulus_steps: int | tuple[int, int] = (11, 31),
    response_steps: int | tuple[int, int] = 5,
    coherence: tuple[float, ...] = (0.1, 0.2, 0.4),
) -> xr.Dataset:
    """Contextual integration: integrate +-1 evidence; report its sign, inverted in context 2.

    Trial structure, epochs in order: ``"context"`` (``context_steps``), ``"stimulus"``
    (``stimulus_steps``, always an odd number of steps so the evidence sum is never 0),
    ``"response"`` (``response_steps``). Durations given as ranges are drawn per trial.

    - ``inputs`` (4 channels): ``context_1`` / ``context_2`` = 1 during the context epoch of
      context-1 / context-2 trials (the cue is *not* shown later: it must be held);
      ``evidence`` = +-1 on every stimulus step, +1 with probability ``(1 + drift *
      coherence) / 2`` (drift +-1 and coherence drawn per trial); ``go`` = 1 during the
      response epoch.
    - ``targets`` (outputs ``negative``, ``positive``; ``task_loss="cross_entropy"``): the
      answer one-hot on the response steps, where answer = sign(sum of evidence) in context
      1 and -sign(sum of evidence) in context 2.
    - ``loss_mask``: the response steps.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0).
    context_steps, response_steps : int or (int, int)
        Epoch lengths (>= 1 step), fixed or an inclusive range.
    stimulus_steps : int or (int, int)
        Evidence steps (>= 1); even draws are raised by one step to stay odd.
    coherence : tuple of float
        Coherences in [0, 1] drawn uniformly per trial.

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``context`` (1/2), ``drift`` (+-1), ``coherence``,
        ``n_evidence``, ``evidence_sum``, ``evidence_sign`` and ``answer`` (+-1).

    Examples
    --------
    >>> ds = contextual_integration_task(6, seed=0)
    >>> bool(((ds.n_evidence % 2) == 1).all())
    True
    """
    rng = check_common(n_trials, seed)
    bounds = [
        check_steps("context_steps", context_steps, low=1),
        check_steps("stimulus_steps", stimulus_steps, low=1),
        check_steps("response_steps", response_steps, low=1),
    ]
    if not isinstance(coherence, tuple | list) or not coherence:
        raise ConfigError(f"coherence={coherence!r}; fix: a non-empty tuple of numbers in [0, 1]")
    levels = np.array([check_float("coherence", c, 0.0, 1.0) for c in coherence])
    lengths = np.stack([draw_steps(rng, b, n_trials) for b in bounds], axis=1)
    lengths[:, 1] += 1 - lengths[:, 1] % 2
    timeline = epoch_timeline(lengths, CONTEXT_EPOCHS)
    context = rng.integers(1, 3, n_trials)
    drift = rng.choice([-1, 1], n_trials)
    coh = levels[rng.integers(0, len(levels), n_trials)]
    stimulus = timeline.mask("stimulus")
    p_plus = (1 + drift * coh) / 2
    draws = rng.random(stimulus.shape) < p_plus[:, None]
    evidence = np.where(draws, 1, -1) * stimulus
    total = evidence.sum(axis=1)
    answer = np.sign(total) * np.where(context == 1, 1, -1)
    context_on = timeline.mask("context")
    inputs = np.stack(
        [
            context_on & (context == 1)[:, None],
            context_on & (context == 2)[:, None],
            evidence,
            timeline.mask("response"),
        ],
        axis=-1,
    ).astype(np.float32)
    response = timeline.mask("response")
    targets = one_hot((answer > 0).astype(int), 2)[:, None, :] * response[..., None]
    return task_dataset(
        task="contextual_integration",
        targets=targets,
        inputs=inputs,
        input_names=["context_1", "context_2", "evidence", "go"],
        output_names=["negative", "positive"],
        timeline=timeline,
        loss_mask=response,
        task_loss="cross_entropy",
        bin_size=STEP,
        trial_coords={
            "context": context,
            "drift": drift,
            "coherence": coh,
            "n_evidence": lengths[:, 1],
            "evidence_sum": total,
            "evidence_sign": np.sign(total),
            "answer": answer,
        },
        params={
            "context_steps": bounds[0],
            "stimulus_steps": bounds[1],
            "response_steps": bounds[2],
            "coherence": ",".join(f"{c:g}" for c in levels),
            "seed": seed,
        },
    )

"""One split's metrics: :func:`split_metrics`, and :class:`SplitScorer`, which computes its
data-only parts once for any number of models (the members of an ensemble).

The metrics themselves (bits/spike against two PSTH baselines, ``r2_condition``, ``mse``) are
defined in :mod:`~alrnn_neuro.training.metrics`; this module scores one model's predictions
over chunks of trials, reading the scored entries straight from its left-justified
predictions when asked to (``steps=``), through the compiled
:func:`~alrnn_neuro.training.metric_kernels.gather_poisson_terms` for float32 Poisson rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from alrnn_neuro.training.metric_kernels import gather_poisson_terms, restride
from alrnn_neuro.training.metrics import (
    CHUNK,
    PSTHBaseline,
    accumulate,
    log_factorial_sum,
    poisson_rate_terms,
    r2_around_unit_means,
    rows_of,
    summed_rate_terms,
)


def split_metrics(
    *,
    obs: str,
    counts: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    prediction: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    mask: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    keys: np.ndarray,
    members: np.ndarray,
    baseline: PSTHBaseline | None,
    loss: float,
    choice_correct: np.ndarray | None = None,
    unit_scale: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of one split, computed over chunks of its trials.

    Parameters
    ----------
    obs : str
        Observation model (``poisson``, ``gaussian``, ``identity``).
    counts, prediction, mask : ndarray (trial, time, unit) or callables ``f(positions)``
        Observations, model predictions (expected counts per bin for Poisson) and the valid,
        observed entries, for any trial positions.
    keys : ndarray of str, shape (trial,)
        Condition label of every trial (:func:`condition_keys`).
    members : ndarray of int
        Positions of this split's trials.
    baseline : PSTHBaseline or None
        Training-trial PSTHs (Poisson only).
    loss : float
        Loss of the split (as optimised, without regularisation).
    choice_correct : ndarray of bool, optional
        Per labelled trial of this split, whether the choice head was right.
    unit_scale : ndarray, shape (unit,), optional
        See :class:`SplitScorer`.

    Returns
    -------
    dict
        ``loss``, ``n_trials``, ``r2_condition``, and for Poisson ``bits_per_spike`` (vs the
        condition PSTH), ``bits_per_spike_unit_psth`` (vs the unit PSTH), ``ll_model``,
        ``ll_psth``, ``ll_unit_psth`` (nats), ``n_spikes``; otherwise ``mse``;
        ``choice_accuracy`` when a choice head is used.
    """
    scorer = SplitScorer(
        obs=obs,
        counts=counts,
        mask=mask,
        keys=keys,
        members=members,
        baseline=baseline,
        unit_scale=unit_scale,
    )
    return scorer.score(prediction, loss, choice_correct)


class SplitScorer:
    """The data-only parts of one split's metrics, computed once for any number of models.

    Everything :func:`split_metrics` needs apart from the predictions (the scored entries,
    condition sums of the data, both PSTH log-likelihoods, ``log y!``) depends on the data
    alone; the members of an ensemble share it and only :meth:`score` runs per member.
    Parameters as in :func:`split_metrics`, and:

    Parameters
    ----------
    steps : tuple of (ndarray, int), optional
        ``(offset, n_steps)``: :meth:`score` then takes predictions as the model gives them,
        left-justified (trial, step, unit) with ``n_steps`` steps, trial i's time t at step
        ``t - offset[i]`` (:meth:`~alrnn_neuro.training.batching.TrialTensors.restore_time`
        undoes this), and reads the scored entries straight from there. Default: predictions
        on the dataset's time axis, like ``counts``.
    unit_scale : ndarray, shape (unit,), optional
        Continuous signals: each channel's training-trial SD
        (:func:`~alrnn_neuro.training.metrics.channel_scales`); ``r2_condition`` is then taken
        in these standard units.
    """

    def __init__(
        self, *, obs, counts, mask, keys, members, baseline, steps=None, unit_scale=None
    ) -> None:
        members = np.asarray(members, dtype=np.int64)
        self.unit_scale = unit_scale
        levels, codes = np.unique(keys[members], return_inverse=True)
        self.obs, self.n_trials = obs, int(members.size)
        self.left_justified = steps is not None
        # per chunk: rows, where its scored entries lie in the chunk's predictions, their
        # (condition, time, unit) cell, y there, and the sum of log y!
        self.chunks: list[tuple] = []
        self.sums = {"ll_psth": 0.0, "ll_unit_psth": 0.0, "n_spikes": 0.0}
        self.data = self.n = None
        self.shape: tuple[int, ...] = ()
        for start in range(0, members.size, CHUNK):
            rows, code = members[start : start + CHUNK], codes.ravel()[start : start + CHUNK]
            m = rows_of(mask, rows).astype(bool)
            entries = np.flatnonzero(m)
            cell_size = m[0].size
            cells = entries + by_row(m, (code - np.arange(rows.size)) * cell_size)
            y_m = rows_of(counts, rows).reshape(-1)[entries].astype(np.float64)
            if steps is not None:
                entries = _left_justified(entries, m, rows, *steps)
            self.shape = (len(levels), *m.shape[1:])
            self.data = accumulate(self.data, np.bincount(cells, y_m, len(levels) * cell_size))
            self.n = accumulate(self.n, np.bincount(cells, minlength=len(levels) * cell_size))
            log_factorial = 0.0
            if obs == "poisson":
                log_factorial = log_factorial_sum(y_m)  # shared by the three LLs
                self.sums["n_spikes"] += float(y_m.sum())
            entries, cells = compact_index(entries), compact_index(cells)
            self.chunks.append((rows, entries, cells, y_m, log_factorial))
        if self.data is not None:
            self.data = self.data.reshape(self.shape)
            self.n = self.n.reshape(self.shape).astype(np.float64)
        if obs == "poisson" and self.data is not None:
            # both PSTHs are constant within a condition (and the unit PSTH across them), so
            # their log-likelihoods need the data's condition sums only, not a log per entry
            psth = baseline.condition_rates(levels)  # (condition, time, unit)
            unit = np.broadcast_to(baseline.unit_rates, psth.shape)
            log_factorials = sum(chunk[-1] for chunk in self.chunks)
            for name, rate in (("ll_psth", psth), ("ll_unit_psth", unit)):
                self.sums[name] = summed_rate_terms(self.data, self.n, rate) - log_factorials
        positions = [chunk[1] for chunk in self.chunks]
        self._entries = EntryPositions(positions, [chunk[2:4] for chunk in self.chunks])

    def _compiled(self, prediction) -> bool:
        """Whether :func:`~alrnn_neuro.training.metric_kernels.gather_poisson_terms` scores
        these predictions: Poisson, float32, left-justified (positions into the whole array)."""
        return self.obs == "poisson" and self.left_justified and prediction.dtype == np.float32

    def score(
        self,
        prediction: Callable[[np.ndarray], np.ndarray] | np.ndarray,
        loss: float,
        choice_correct: np.ndarray | None = None,
    ) -> dict[str, float]:
        """The metrics of one model's ``prediction`` (see :func:`split_metrics`)."""
        ll_model, sse, n_entries = 0.0, 0.0, 0
        size = int(np.prod(self.shape))
        entries = self._entries.chunks  # (positions, (cells, y)) per chunk
        if self.left_justified:  # read in place, wherever the predictions lie in memory
            prediction, entries = self._entries.read(prediction)
        compiled = bool(self.chunks) and self._compiled(prediction)
        pred = np.zeros(size) if compiled else None
        for (where, (cells, y_m)), (rows, *_, log_factorial) in zip(
            entries, self.chunks, strict=True
        ):
            if compiled:  # one pass over the scored entries
                rate_terms = gather_poisson_terms(prediction, where, cells, y_m, pred)
                ll_model += rate_terms - log_factorial
                continue
            source = prediction if self.left_justified else rows_of(prediction, rows)
            lam_m = source.reshape(-1).take(where).astype(np.float64)
            pred = accumulate(pred, np.bincount(cells, lam_m, size))
            if self.obs == "poisson":
                ll_model += poisson_rate_terms(y_m, lam_m) - log_factorial
            else:
                sse += float(((lam_m - y_m) ** 2).sum())
                n_entries += int(y_m.size)
        out = {"loss": float(loss), "n_trials": self.n_trials}
        if pred is not None:
            pred = pred.reshape(self.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                n = self.n
                pred = np.where(n > 0, pred / np.maximum(n, 1), np.nan)
                data = np.where(n > 0, self.data / np.maximum(n, 1), np.nan)
            if self.unit_scale is not None:  # standard units: no channel outweighs another
                pred, data = pred / self.unit_scale, data / self.unit_scale
            out["r2_condition"] = r2_around_unit_means(pred, data)
        else:
            out["r2_condition"] = float("nan")
        if self.obs == "poisson":
            sums = {**self.sums, "ll_model": ll_model}
            scale = sums["n_spikes"] * math.log(2.0)
            gain = sums["ll_model"] - sums["ll_psth"]
            gain_unit = sums["ll_model"] - sums["ll_unit_psth"]
            out["bits_per_spike"] = gain / scale if scale else float("nan")
            out["bits_per_spike_unit_psth"] = gain_unit / scale if scale else float("nan")
            for key in ("ll_model", "ll_psth", "ll_unit_psth", "n_spikes"):
                out[key] = sums[key]
        else:
            out["mse"] = sse / n_entries if n_entries else float("nan")
        if choice_correct is not None:
            out["choice_accuracy"] = (
                float(np.mean(choice_correct)) if choice_correct.size else float("nan")
            )
        return out


def compact_index(index: np.ndarray) -> np.ndarray:
    """``index`` as int32 where it fits: scorers and loss readers keep positions per scored
    entry for as long as they live, and int32 halves that memory."""
    if index.size and index.max() >= np.iinfo(np.int32).max:
        return index
    return index.astype(np.int32)


def by_row(flags: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values[r]`` for every True entry of ``flags`` (row, ...), in the order of
    ``np.flatnonzero(flags)``: with ``values`` a per-row shift, ``np.flatnonzero(flags) +
    by_row(flags, values)`` moves each row's entries without dividing any flat index.

    Examples
    --------
    >>> by_row(np.array([[True, False, True], [False, True, False]]), np.array([10, 20]))
    array([10, 10, 20])
    """
    return np.repeat(values, np.count_nonzero(flags, axis=tuple(range(1, flags.ndim))))


def _left_justified(
    entries: np.ndarray, m: np.ndarray, rows: np.ndarray, offset: np.ndarray, n_steps: int
) -> np.ndarray:
    """Flat positions ``entries`` (``np.flatnonzero(m)``) of a chunk ``m`` (row, time, unit)
    whose trials are at positions ``rows``, as flat positions in the whole left-justified
    predictions (trial, step, unit), step = time - offset[trial]."""
    n_rows, n_time, n_units = m.shape
    trial = np.asarray(rows, dtype=np.int64)
    shift = np.asarray(offset, dtype=np.int64)[trial]
    busy = m.any(axis=2)  # (row, time): steps with a scored entry
    first = np.argmax(busy, axis=1) - shift
    last = n_time - 1 - np.argmax(busy[:, ::-1], axis=1) - shift
    if np.any(busy.any(axis=1) & ((first < 0) | (last >= n_steps))):
        raise ValueError(f"scored entries outside the predictions' {n_steps} steps")
    return entries + by_row(m, (trial * n_steps - shift - np.arange(n_rows) * n_time) * n_units)


class EntryPositions:
    """Where chosen entries of C-ordered (trial, step, unit) predictions lie in memory.

    ``positions`` (one int array per chunk of entries) are flat indices into a C-contiguous
    array, ``values`` (per chunk, a tuple of per-entry arrays, e.g. counts) go with them.
    :meth:`read` takes the predictions as they lie, e.g. a member's slice of a stacked forward
    (time-major), and returns their memory as one flat view with each chunk's positions in
    that layout, sorted by address (reading them in order is 2-3x faster than jumping a
    whole time step per entry) and the values in the same order: computed once per layout
    and kept in ``layouts``.
    """

    def __init__(self, positions, values=None, layouts: dict | None = None) -> None:
        values = [()] * len(positions) if values is None else values
        self.chunks = list(zip(positions, values, strict=True))
        self.layouts = {} if layouts is None else layouts

    def read(self, prediction) -> tuple[np.ndarray, list[tuple]]:
        """``(flat, chunks)``: each chunk ``(positions, values)`` with ``flat[positions]`` its
        entries of ``prediction`` (trial, step, unit), in the order of ``values``; a copy only
        where strides are negative or not whole items."""
        prediction = np.asarray(prediction)
        item = prediction.itemsize
        if prediction.size == 0:
            return prediction.reshape(-1), self.chunks
        if any(st < 0 or st % item for st in prediction.strides):
            prediction = np.ascontiguousarray(prediction)
        strides = tuple(st // item for st in prediction.strides)
        last = sum((n - 1) * st for n, st in zip(prediction.shape, strides, strict=True))
        flat = np.lib.stride_tricks.as_strided(prediction, (last + 1,), (item,), writeable=False)
        n_steps, n_units = prediction.shape[1:]
        if strides == (n_steps * n_units, n_units, 1):
            return flat, self.chunks
        if strides not in self.layouts:
            self.layouts[strides] = [_in_layout(where, values, n_steps, n_units, strides)
                                     for where, values in self.chunks]  # fmt: skip
        return flat, self.layouts[strides]


def _in_layout(positions, values, n_steps, n_units, strides) -> tuple:
    """One chunk's entries in the layout with element ``strides``, sorted by address."""
    where = np.empty(positions.size, dtype=np.int64)
    restride(positions, n_steps, n_units, strides, where)
    order = np.argsort(where, kind="stable")
    return compact_index(where[order]), tuple(v[order] for v in values)

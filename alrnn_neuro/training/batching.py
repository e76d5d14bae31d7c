"""From a canonical dataset to padded tensors, and seeded mini-batches of trials.

Trials are *left-justified*: each trial's first valid step is moved to index 0, so the latent
state starts where the trial starts; :meth:`TrialTensors.restore_time` undoes the shift for
outputs. Steps after a trial's end (and any interior invalid steps) stay masked by ``valid``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.data.schema import observation_variable
from alrnn_neuro.models.log_factorial import log_factorial_steps
from alrnn_neuro.models.observation import smooth_time

#: fields of :class:`TrialTensors` with a ``time`` dim (cut together by ``take``)
TIME_FIELDS = (
    "data",
    "inputs",
    "valid",
    "readout",
    "loss_mask",
    "init_mask",
    "log_factorial",
    "init_rate",
)
#: fields kept in float64 by :meth:`TrialTensors.to`
FLOAT64_FIELDS = ("log_factorial", "init_rate")
#: width (bins) of the Gaussian that smooths the counts an initial state is inferred from
INIT_SMOOTH_SIGMA = 1.0


def channel_dim(ds: xr.Dataset) -> str:
    """Dim of the observed channels: ``"output"`` for task datasets, else ``"unit"``.

    Examples
    --------
    >>> channel_dim(xr.Dataset({"targets": (("trial", "time", "output"), np.zeros((1, 2, 3)))}))
    'output'
    """
    return "output" if observation_variable(ds) == "targets" else "unit"


@dataclass(frozen=True)
class TrialTensors:
    """Padded, left-justified tensors of a set of trials.

    Attributes
    ----------
    data : Tensor, shape (trial, time, unit)
        Observations (counts as float, or continuous values); 0 where masked. For task
        datasets the ``targets`` (trial, time, output) and ``unit`` reads ``output``.
    inputs : Tensor, shape (trial, time, input)
        Task inputs.
    valid : Tensor of bool, shape (trial, time)
        Steps that belong to the trial.
    observed : Tensor of bool, shape (trial, unit)
        Units recorded in each trial.
    labels : Tensor of int64, shape (trial,)
        Class index of each trial for the choice head; -1 = no label.
    readout : Tensor of bool, shape (trial, time)
        Steps the choice head reads (all False without a behaviour head).
    loss_mask : Tensor of bool, shape (trial, time)
        Steps whose ``data`` enter the loss: ``valid`` for recordings, the task's
        ``loss_mask`` (within ``valid``) for task datasets.
    offset : ndarray of int, shape (trial,)
        Index of each trial's first valid step in the dataset's ``time`` axis.
    init_mask : Tensor of bool, shape (trial, time)
        Steps a data-inferred initial state is read from (:func:`initial_state_bins`).
    log_factorial : Tensor of float64, shape (trial, time)
        ``sum over observed units of log(data!)`` per step (0 where data < 0): the data-only
        term of the Poisson NLL, computed once here instead of in every training step. It must
        match ``data`` and ``observed``: whoever changes either recomputes it with
        :func:`~alrnn_neuro.models.log_factorial.log_factorial_steps` (of the observed data).
    init_rate : Tensor of float64, shape (trial, init_time, unit)
        ``data`` smoothed over each trial's ``init_mask`` bins (Gaussian, ``INIT_SMOOTH_SIGMA``
        bins; :func:`initial_rates`), 0 elsewhere, up to the last initial bin of any trial
        (``init_time`` <= time): what a Poisson readout inverts into a data-inferred initial
        state. It depends on the data only, so it is smoothed once here instead of in every
        training step (a sixth of a single fit's step on the demo). Like ``log_factorial``,
        it must be recomputed by whoever changes ``data`` or ``init_mask``.
    """

    data: torch.Tensor
    inputs: torch.Tensor
    valid: torch.Tensor
    observed: torch.Tensor
    labels: torch.Tensor
    readout: torch.Tensor
    loss_mask: torch.Tensor
    offset: np.ndarray
    init_mask: torch.Tensor
    log_factorial: torch.Tensor
    init_rate: torch.Tensor

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.data.shape[0])

    def take(self, index: np.ndarray | torch.Tensor, trim: bool = True) -> TrialTensors:
        """Select trials by position; ``trim`` cuts trailing steps no selected trial uses."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        parts = {
            f.name: getattr(self, f.name)[idx.numpy() if f.name == "offset" else idx]
            for f in fields(self)
        }
        if trim and idx.numel():
            used = parts["valid"].any(dim=0).nonzero()
            length = int(used.max()) + 1 if used.numel() else 1
            for name in TIME_FIELDS:
                parts[name] = parts[name][:, :length]
        return TrialTensors(**parts)

    def initial_steps(self) -> TrialTensors:
        """The steps of ``init_mask`` (as ``valid``), cut after the last one of any trial."""
        used = self.init_mask.any(dim=0).nonzero()
        length = int(used.max()) + 1 if used.numel() else 1
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in TIME_FIELDS:
            parts[name] = parts[name][:, :length]
        parts["valid"] = parts["init_mask"]
        return TrialTensors(**parts)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> TrialTensors:
        """Move tensors to ``device`` (floating tensors also to ``dtype`` when given)."""
        parts = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                floating = value.is_floating_point() and f.name not in FLOAT64_FIELDS
                value = value.to(device, dtype=dtype if floating else None)
            parts[f.name] = value
        return TrialTensors(**parts)

    def restore_time(self, values: np.ndarray, n_time: int, fill: float | int) -> np.ndarray:
        """Undo the left-justification of ``values`` (trial, time, ...) onto ``n_time`` steps."""
        return shift_in_time(values, self.offset, n_time, fill)


def shift_in_time(
    values: np.ndarray,
    offset: np.ndarray,
    n_time: int,
    fill: float | int,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Left-justified ``values`` back on the time axis: trial i's step s lands at time
    ``offset[i] + s`` (steps past ``n_time`` are dropped, other times hold ``fill``).

    Parameters
    ----------
    values : ndarray, shape (trial, step, ...)
    offset : ndarray of int, shape (trial,)
        First time step of each trial (>= 0).
    n_time : int
        Length of the time axis of the result.
    fill : float or int
        Value of the times no step lands on.
    dtype : dtype, optional
        Of the result (default: that of ``values``).

    Returns
    -------
    ndarray, shape (trial, n_time, ...)

    Examples
    --------
    >>> shift_in_time(np.array([[1, 2, 3], [4, 5, 6]]), np.array([0, 2]), 4, -1)
    array([[ 1,  2,  3, -1],
           [-1, -1,  4,  5]])
    """
    n_trials, n_steps = values.shape[:2]
    out = np.full((n_trials, n_time, *values.shape[2:]), fill, dtype=dtype or values.dtype)
    offset = np.asarray(offset, dtype=np.int64)
    if not offset.any():  # every trial starts at time 0: one block copy
        length = min(n_steps, n_time)
        out[:, :length] = values[:, :length]
        return out
    # one copy per distinct offset (trials sharing it move together): at most n_time + 1
    # copies, 2-3x faster than one slice copy per trial (500 trials, 17 offsets: 0.25 ms)
    for start in np.unique(offset).tolist():
        rows = np.flatnonzero(offset == start)
        length = max(0, min(n_steps, n_time - start))
        out[rows, start : start + length] = values[rows, :length]
    return out


def initial_state_bins(
    valid: np.ndarray, epoch: np.ndarray, init_bins: int, init_epochs: tuple[str, ...] = ()
) -> np.ndarray:
    """Bins a data-inferred initial state is read from, on the dataset's time axis.

    Parameters
    ----------
    valid : ndarray of bool, shape (trial, time)
    epoch : ndarray of str, shape (trial, time)
    init_bins : int
        At most this many bins per trial (0 = none).
    init_epochs : tuple of str
        Only bins of these epochs (empty = any valid bin).

    Returns
    -------
    ndarray of bool, shape (trial, time)
        The first ``init_bins`` valid bins of each trial that lie in ``init_epochs``.

    Examples
    --------
    >>> valid = np.array([[True, True, True, True]])
    >>> epoch = np.array([["iti", "hold", "iti", "stim"]])
    >>> initial_state_bins(valid, epoch, 2).astype(int).tolist()
    [[1, 1, 0, 0]]
    >>> initial_state_bins(valid, epoch, 2, ("iti",)).astype(int).tolist()
    [[1, 0, 1, 0]]
    """
    candidate = np.asarray(valid, bool)
    if init_epochs:
        candidate = candidate & np.isin(np.asarray(epoch).astype(str), list(init_epochs))
    return candidate & (np.cumsum(candidate, axis=1) <= init_bins)


def dataset_tensors(
    ds: xr.Dataset,
    *,
    label: str | None = None,
    classes: list[str] | None = None,
    readout_epoch: str = "",
    init_bins: int = 0,
    init_epochs: tuple[str, ...] = (),
) -> tuple[TrialTensors, list[str]]:
    """Turn a canonical dataset into :class:`TrialTensors` (float32, CPU).

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset (recordings, or a task dataset: ``targets`` become ``data`` and
        its ``loss_mask`` the ``loss_mask``).
    label : str, optional
        Trial coord with the class of each trial (choice head); None = no labels.
    classes : list of str, optional
        Class names in index order (default: the sorted unique labels of ``ds``). Labels
        outside ``classes`` (or empty / ``"nan"``) get index -1 and are ignored.
    readout_epoch : str
        Epoch whose steps the choice head reads; ``""`` = each trial's last valid step.
    init_bins, init_epochs
        Steps of ``init_mask`` (see :func:`initial_state_bins`).

    Returns
    -------
    tensors : TrialTensors
        Left-justified tensors.
    classes : list of str
        Class names (empty without ``label``).

    Examples
    --------
    >>> import numpy as np
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> valid = np.array([[True, True, True], [False, True, True]])
    >>> ds = make_dataset(np.ones((2, 3, 1), dtype=np.int32) * valid[..., None], valid=valid,
    ...                   bin_size=0.1, align_event="go")
    >>> tensors, _ = dataset_tensors(ds)
    >>> tensors.valid.tolist(), tensors.offset.tolist()
    ([[True, True, True], [True, True, False]], [0, 1])
    """
    valid = ds["valid"].values.astype(bool)
    n_trial, n_time = valid.shape
    offset = np.where(valid.any(axis=1), valid.argmax(axis=1), 0)
    shift = (np.arange(n_time)[None, :] + offset[:, None]) % max(n_time, 1)
    rows = np.arange(n_trial)[:, None]
    in_range = np.arange(n_time)[None, :] < (n_time - offset)[:, None]
    aligned = not offset.any()  # every trial starts at bin 0: nothing to shift

    def left(x: np.ndarray) -> np.ndarray:
        return x if aligned else x[rows, shift]

    shifted_valid = left(valid) & in_range
    mask3 = shifted_valid[..., None]
    data = np.array(left(ds[observation_variable(ds)].values), dtype=np.float32)
    if "observed" in ds.data_vars:
        observed = ds["observed"].values.astype(bool)
        np.copyto(data, 0.0, where=~(mask3 & observed[:, None, :]))  # in place (NaN padding too)
    else:
        observed = np.ones((n_trial, data.shape[2]), bool)
        np.copyto(data, 0.0, where=~mask3)
    inputs = np.array(left(ds["inputs"].values), dtype=np.float32)
    np.copyto(inputs, 0.0, where=~mask3)
    labels = np.full(n_trial, -1, dtype=np.int64)
    readout = np.zeros((n_trial, n_time), bool)
    classes = list(classes or [])
    if label is not None:
        values = ds[label].values.astype(str)
        if not classes:
            classes = sorted({str(v) for v in values if v not in ("", "nan", "None")})
        lookup = {name: i for i, name in enumerate(classes)}
        labels = np.array([lookup.get(v, -1) for v in values], dtype=np.int64)
        if readout_epoch:
            readout = left(ds["epoch"].values.astype(str) == readout_epoch) & in_range
        else:
            last = shifted_valid.shape[1] - 1 - np.argmax(shifted_valid[:, ::-1], axis=1)
            readout[np.arange(n_trial), last] = True
        readout &= (labels >= 0)[:, None] & shifted_valid
    loss_mask = shifted_valid
    if "loss_mask" in ds.data_vars:
        loss_mask = left(ds["loss_mask"].values.astype(bool)) & shifted_valid
    epoch = ds["epoch"].values if "epoch" in ds else np.full(valid.shape, "")
    init = left(initial_state_bins(valid, epoch, init_bins, tuple(init_epochs))) & in_range
    tensors = TrialTensors(
        data=torch.from_numpy(data),
        inputs=torch.from_numpy(inputs),
        valid=torch.from_numpy(shifted_valid),
        observed=torch.from_numpy(observed),
        labels=torch.from_numpy(labels),
        readout=torch.from_numpy(readout),
        loss_mask=torch.from_numpy(np.ascontiguousarray(loss_mask)),
        offset=offset.astype(np.int64),
        init_mask=torch.from_numpy(np.ascontiguousarray(init)),
        log_factorial=log_factorial_steps(torch.from_numpy(data)),
        init_rate=initial_rates(torch.from_numpy(data), torch.from_numpy(init)),
    )
    return tensors, classes


def initial_rates(data: torch.Tensor, init_mask: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """``data`` smoothed over the ``init_mask`` bins of each trial, float64 (0 elsewhere).

    Gaussian smoothing of width ``INIT_SMOOTH_SIGMA`` bins over the initial bins only
    (:func:`~alrnn_neuro.models.observation.smooth_time`), cut after the last initial bin of
    any trial (at least one step), in chunks of trials. Each trial's values depend on its own
    data and bins alone, so a batch's slice equals smoothing that batch.

    Parameters
    ----------
    data : Tensor, shape (trial, time, unit)
    init_mask : Tensor of bool, shape (trial, time)
    chunk : int
        Trials per chunk (bounds the float64 temporaries).

    Returns
    -------
    Tensor of float64, shape (trial, init_time, unit)

    Examples
    --------
    >>> y = torch.tensor([[[2.0], [2.0], [9.0]]])  # the 9 lies after the initial bins
    >>> initial_rates(y, torch.tensor([[True, True, False]]))[..., 0]
    tensor([[2., 2.]], dtype=torch.float64)
    """
    used = init_mask.any(dim=0).nonzero()
    length = int(used.max()) + 1 if used.numel() else 1
    out = torch.zeros((*data.shape[:1], length, data.shape[2]), dtype=torch.float64)
    for lo in range(0, data.shape[0], chunk):
        mask = init_mask[lo : lo + chunk, :length]
        values = data[lo : lo + chunk, :length].double()
        out[lo : lo + chunk] = smooth_time(values, mask, INIT_SMOOTH_SIGMA)
    return out.to(data.device)


def iterate_batches(
    n_trials: int, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield shuffled batches of trial positions covering ``range(n_trials)`` once.

    Parameters
    ----------
    n_trials : int
        Number of trials to cover.
    batch_size : int
        Trials per batch (the last batch may be smaller).
    rng : numpy.random.Generator
        Source of the permutation; its state advances, so the sequence resumes exactly from a
        saved ``rng.bit_generator.state``.

    Examples
    --------
    >>> batches = list(iterate_batches(5, 2, np.random.default_rng(0)))
    >>> sorted(np.concatenate(batches).tolist()), [len(b) for b in batches]
    ([0, 1, 2, 3, 4], [2, 2, 1])
    """
    order = rng.permutation(n_trials)
    for start in range(0, n_trials, batch_size):
        yield order[start : start + batch_size]

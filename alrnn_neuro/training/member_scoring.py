"""Finish every member of a trained ensemble at once: predictions, metrics, outputs.

:func:`finish_members` does for K members what :func:`~alrnn_neuro.training.api.finish_fit`
does for one fit, sharing all work that does not depend on the member:

* members run free in stacks of a few at a time (:func:`predict_members`: one stacked
  forward over all trials per stack instead of four per member), the stack sized so that its
  predictions stay within :data:`GROUP_BYTES`; the split losses are read from those
  predictions (:mod:`~alrnn_neuro.training.rate_losses`: a softplus Poisson readout without
  choice head), else computed by one more stacked forward per split;
* the data-only parts of the metrics (scored entries, PSTH baselines and their
  log-likelihoods, condition sums of the data) are computed once
  (:class:`~alrnn_neuro.training.evaluate.RecordingScoring`);
* so are the coords, masks and split labels of the latents datasets
  (:class:`~alrnn_neuro.training.latents_output.LatentsFrame`);
* each member's metrics, latents dataset and run files then come from its own slice, through
  the same code as a single fit (numbers equal to the single fit's up to rounding).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from alrnn_neuro.data.schema import TASK_LOSSES
from alrnn_neuro.models.params import has_region_codes
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import finish_fit
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.checkpoint import TrainState
from alrnn_neuro.training.evaluate import RecordingScoring
from alrnn_neuro.training.latents_output import LatentsFrame
from alrnn_neuro.training.loop import evaluate_members
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.rate_losses import RateLosses
from alrnn_neuro.training.rate_losses import applies as applies_to_rates
from alrnn_neuro.training.result import FitResult
from alrnn_neuro.training.session import Session

#: memory for the predictions of one stack of members (latents, predictions, choices)
GROUP_BYTES = 64 * 2**20


def predict_members(model: FitModel, tensors: TrialTensors) -> list[dict[str, np.ndarray]]:
    """Free-running predictions of every member of a stack, one dict per member.

    The dicts hold what :func:`~alrnn_neuro.training.evaluate.predict_all` gives for that
    member alone (``latents``, ``prediction``, ``choice_prob``, ``bitcode``, ``n_pwl``), from
    one stacked forward over all trials.

    Examples
    --------
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> from alrnn_neuro.training import FitConfig
    >>> from alrnn_neuro.training.session import prepare_session
    >>> ds = simulate_stimulus_selection(n_trials=12, n_units=5, seed=0, lfp=False)
    >>> s = prepare_session(ds, FitConfig(latent_dim=3, pwl_units=1))
    >>> nets = [FitModel(s.config.replace(seed=k), s.n_units) for k in range(2)]
    >>> out = predict_members(FitModel.stack(nets), s.tensors)
    >>> len(out), out[1]["latents"].shape == (12, s.tensors.valid.shape[1], 3)
    (2, True)
    """
    model.eval()
    out = model.predict(tensors.take(np.arange(tensors.n_trials), trim=False))
    model.train()
    joined = {name: value.cpu().numpy() for name, value in out.items()}
    if not model.ensemble_shape:
        joined = {name: value[None] for name, value in joined.items()}
    predicted = []
    for k in range(model.n_members):
        params = model.params(k) if model.ensemble_shape else model.params()
        member = {name: values[k] for name, values in joined.items()}
        if has_region_codes(params.n_pwl):
            member["bitcode"] = params.bitcode(member["latents"])
        member["n_pwl"] = np.asarray(params.n_pwl)
        predicted.append(member)
    return predicted


def finish_members(
    session: Session,
    nets: list[FitModel],
    states: list[TrainState],
    runs: list[Path | None],
    records: list[dict],
) -> list[FitResult]:
    """Score every member (its best state already loaded in ``nets[k]``) and build its outputs.

    Parameters
    ----------
    session : Session
        The shared session (its config is the ensemble's; each member gets its own).
    nets : list of FitModel
        One single fit per member, holding that member's final state.
    states : list of TrainState
        Each member's training state (history, best epoch, stop reason).
    runs : list of Path or None
        Each member's run directory (None: nothing is written).
    records : list of dict
        Each member's ``config.json`` content.

    Returns
    -------
    list of FitResult
        As :func:`~alrnn_neuro.training.api.finish_fit` returns for each member alone.
    """
    config = session.config
    scoring = None
    if config.obs not in TASK_LOSSES:  # the data-only parts of the metrics, once
        scoring = RecordingScoring(session.ds, session.tensors, config, session.positions)
    frame = LatentsFrame(session.ds, session.tensors, session.split)  # coords etc., once
    rate_losses = None  # the data-only parts of the split losses, once, where they apply
    if applies_to_rates(nets[0]):
        rate_losses = RateLosses(session.tensors, session.positions)
    group = max(1, GROUP_BYTES // max(_bytes_per_member(nets[0], session.tensors), 1))
    device = next(nets[0].parameters()).device
    results = []
    for lo in range(0, len(nets), group):
        members = list(range(lo, min(len(nets), lo + group)))
        stack = FitModel.stack([nets[k] for k in members]).to(device)
        predicted = predict_members(stack, session.tensors)
        losses = _split_losses(stack, session, predicted, rate_losses)
        for j, k in enumerate(members):
            member = dataclasses.replace(session, config=nets[k].config, record=records[k])
            if runs[k] is not None:
                _start_run_dir(runs[k], records[k], session)
            own_losses = {name: float(values[j]) for name, values in losses.items()}
            result = finish_fit(
                member,
                nets[k],
                states[k],
                runs[k],
                predicted=predicted[j],
                losses=own_losses,
                scoring=scoring,
                frame=frame,
            )
            results.append(result)
    return results


def _bytes_per_member(net: FitModel, tensors: TrialTensors) -> int:
    """Memory of one member's predictions on all trials (latents, outputs, choices)."""
    n_out = int(net.residual_std.shape[-1]) + (net.head.n_out if net.head is not None else 0)
    itemsize = torch.empty((), dtype=next(net.parameters()).dtype).element_size()
    steps = tensors.n_trials * int(tensors.valid.shape[1])
    return steps * (net.config.latent_dim + n_out) * itemsize


def _start_run_dir(run: Path, record: dict, session: Session) -> None:
    """Empty ``run`` and write the member's split and config (the rest comes with its outputs)."""
    record[rd.RUN_ID] = rd.new_run_id()
    run.mkdir(parents=True, exist_ok=True)
    rd.clear_run_dir(run)
    rd.write_split(
        run / rd.SPLIT,
        session.split,
        record[rd.RUN_ID],
        split_seed=session.config.split_seed,
        fractions=session.config.split,
        conditions=session.config.conditions,
    )
    rd.write_json(run / rd.CONFIG, record)


def _split_losses(stack, session, predicted, rate_losses) -> dict[str, np.ndarray]:
    """Each split's loss of every member of ``stack`` (split -> (member,)): read from the
    predicted rates where :mod:`~alrnn_neuro.training.rate_losses` applies, else one more
    free-running pass per split."""
    if rate_losses is not None:
        per_member = [rate_losses.losses(member["prediction"]) for member in predicted]
        return {name: np.array([m[name] for m in per_member]) for name in session.positions}
    return {
        name: evaluate_members(stack, session.tensors, idx)
        for name, idx in session.positions.items()
    }

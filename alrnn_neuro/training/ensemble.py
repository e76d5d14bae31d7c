"""Fit many AL-RNNs at once: a grid of P values and seeds trained as one stacked model.

``fit_ensemble(ds, config, pwl_units=[...], seeds=[...])`` trains K = len(seeds) AL-RNNs with
the same M, data and hyperparameters but their own P and initialisation seed, with the
recurrence of all members in one call of the fused engine per batch
(:mod:`~alrnn_neuro.training.loop` explains why the members stay independent: a single fit
is the same loop with one member).

What "equivalent to single fits" means here
-------------------------------------------
A single :func:`~alrnn_neuro.training.fit` draws everything from ``config.seed``: the
initialisation, the train/val/test split, the batch order and the teacher-forcing phases. In an
ensemble the members must see the same batches, so:

* the split, batch order, forcing phases and (with ``config.fresh_trials``) the fresh
  training trials of every epoch come from ``config.seed`` (the *data seed*), shared by all
  members;
* member k is initialised exactly as ``FitModel(config.replace(pwl_units=p_k, seed=s_k))``.

Member k therefore ends (up to floating-point rounding; tests check 1e-10 in float64) with the
parameters of the single-model training loop run with its initialisation seed ``s_k`` and the
data seed ``config.seed``. When ``s_k == config.seed`` that is exactly
``fit(ds, config.replace(pwl_units=p_k))``. One difference by design: a member whose loss
becomes NaN/inf is frozen with ``stop_reason="diverged"`` (its best state kept) instead of
raising :class:`~alrnn_neuro.training.TrainingDivergedError` for the whole grid.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.checkpoint import TrainState
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.loop import EpochCallback, make_optimizer, train
from alrnn_neuro.training.member_scoring import finish_members
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.result import FitResult
from alrnn_neuro.training.session import prepare_session
from alrnn_neuro.training.threads import check_threads, torch_threads

logger = logging.getLogger(__name__)


def member_dir_name(pwl_units: int, seed: int) -> str:
    """Run-directory name of one member, e.g. ``member-P2-seed7``.

    Examples
    --------
    >>> member_dir_name(2, 7)
    'member-P2-seed7'
    """
    return f"member-P{int(pwl_units)}-seed{int(seed)}"


def fit_ensemble(
    ds: xr.Dataset,
    config: FitConfig | None = None,
    *,
    pwl_units: list[int],
    seeds: list[int],
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    callback: EpochCallback | None = None,
) -> list[FitResult]:
    """Fit K AL-RNNs (member k: ``pwl_units[k]``, ``seeds[k]``) to ``ds`` together.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset.
    config : FitConfig, optional
        Shared hyperparameters (``model`` must be ``"alrnn"``); its ``pwl_units`` is replaced
        by each member's, and its ``seed`` is the *data seed* (split, batch order, forcing).
    pwl_units : list of int
        P of each member, ``0 <= P <= config.latent_dim``.
    seeds : list of int
        Initialisation seed of each member (same length as ``pwl_units``); a grid of P x seeds
        is ``pwl_units=[p for p in ps for s in ss], seeds=[s for p in ps for s in ss]``.
    out : str or PathLike, optional
        Folder receiving one ordinary run directory per member, ``out/member-P{p}-seed{s}``
        (readable with :func:`~alrnn_neuro.training.load_run`); written after training, so a
        failure leaves nothing. ``config.json`` there holds the member's config (``seed`` =
        its init seed) plus an ``ensemble`` entry naming the data seed; ``split.json`` is the
        shared split. No checkpoints are kept (an ensemble cannot be resumed).
    overwrite : bool
        Replace runs already in the member directories.
    callback : callable, optional
        Called after every epoch (see :func:`~alrnn_neuro.training.loop.train`).

    Returns
    -------
    list of FitResult
        One per member, in the order given; ``metrics["stop_reason"]`` per member.

    Raises
    ------
    ConfigError
        Mismatched lists, an invalid P or seed, duplicate members with ``out``, or a
        non-AL-RNN ``config.model``.
    RunDirError
        A member directory holds another run (and ``overwrite`` is False).

    Examples
    --------
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False)
    >>> results = fit_ensemble(ds, FitConfig(latent_dim=4, epochs=2), pwl_units=[0, 2],
    ...                        seeds=[0, 1])
    >>> [(r.config.pwl_units, r.config.seed) for r in results]
    [(0, 0), (2, 1)]
    """
    config = FitConfig() if config is None else config
    _check_members(config, pwl_units, seeds, out)
    check_threads(config.threads)
    with torch_threads(config.threads):
        return _fit_ensemble(ds, config, list(pwl_units), list(seeds), out, overwrite, callback)


def _check_members(config: FitConfig, pwl_units, seeds, out) -> None:
    if config.model != "alrnn":
        raise ConfigError(
            f"model={config.model!r}: fit_ensemble trains AL-RNNs only; fix: model='alrnn', or "
            "call fit() once per seed for baselines"
        )
    if len(pwl_units) != len(seeds) or not len(seeds):
        raise ConfigError(
            f"pwl_units has {len(pwl_units)} entries and seeds {len(seeds)}; fix: give one P "
            "and one seed per member (at least one), e.g. pwl_units=[0, 1], seeds=[0, 0]"
        )
    for name, values in (("pwl_units", pwl_units), ("seeds", seeds)):
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 0]
        if bad:
            raise ConfigError(f"{name} holds {bad!r}; fix: use integers >= 0")
    too_big = [p for p in pwl_units if p > config.latent_dim]
    if too_big:
        raise ConfigError(
            f"pwl_units holds {too_big} > latent_dim={config.latent_dim}; fix: 0 <= P <= M"
        )
    pairs = list(zip(pwl_units, seeds, strict=True))
    if out is not None and len(set(pairs)) != len(pairs):
        raise ConfigError(
            f"(pwl_units, seeds) pairs repeat ({pairs}); with out= every member needs its own "
            "directory, fix: make each (P, seed) pair unique"
        )


def _fit_ensemble(ds, config, pwl_units, seeds, out, overwrite, callback) -> list[FitResult]:
    session = prepare_session(ds, config)
    shared_cfg = session.config
    configs = [
        shared_cfg.replace(pwl_units=p, seed=s) for p, s in zip(pwl_units, seeds, strict=True)
    ]
    records = [_member_record(session.record, c, shared_cfg.seed, len(configs)) for c in configs]
    runs: list[Path | None] = [None] * len(configs)
    if out is not None:
        runs = [Path(out) / member_dir_name(c.pwl_units, c.seed) for c in configs]
        for run, record in zip(runs, records, strict=True):
            rd.prepare_run_dir(run, record, resume=False, overwrite=overwrite)
    device = torch.device(shared_cfg.device)
    nets = [FitModel.for_session(session, c) for c in configs]
    model = FitModel.stack(nets).to(device)
    optimizer = make_optimizer(model, shared_cfg)
    states = [TrainState.start(c.seed) for c in configs]
    shared = TrainState.start(shared_cfg.seed)
    train(
        model,
        optimizer,
        session.tensors,
        session.positions,
        shared_cfg,
        shared,
        states,
        divergence="freeze",
        callback=callback,
        trial_source=session.fresh,
    )
    for k, (net, state) in enumerate(zip(nets, states, strict=True)):
        net.to(device).load_state_dict(state.best_model or model.member_state(k))
    results = finish_members(session, nets, states, runs, records)
    for c, state in zip(configs, states, strict=True):
        logger.info("member P=%d seed=%d: %s", c.pwl_units, c.seed, state.stop_reason)
    return results


def _member_record(record: dict, config: FitConfig, data_seed: int, n_members: int) -> dict:
    """``config.json`` content of one member: its own config plus the ensemble's data seed."""
    ensemble = {"data_seed": data_seed, "init_seed": config.seed, "n_members": n_members}
    return {**record, "config": config.to_dict(), "ensemble": ensemble}

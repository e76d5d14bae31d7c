"""Settings of ``alrnn-neuro reproduce``: how big each reproduction is (quick, full, tiny).

Every number a reproduction uses lives here, so ``reproduce.json`` records the whole setting
and a run can be repeated exactly. ``quick`` fits in a few minutes on two CPU cores, ``full``
follows the study's grids (hours, see docs/reproduce.md), ``tiny`` is for the test suite only
(seconds; too small for the claims to mean anything).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import MULTITASK, SUITE
from alrnn_neuro.training.study import study_fit_config, study_preset, study_trial_counts


@dataclass(frozen=True)
class StimulusSettings:
    """Size of ``reproduce stimulus-selection``.

    Attributes
    ----------
    name : str
        ``quick``, ``full`` or ``tiny``.
    n_trials, n_units : int
        Simulated session size (ignored with ``--dataset``).
    latent_dim : int
        M of the nonlinearity sweep.
    pwl_units : tuple of int
        P values of the sweep (0 and ``latent_dim`` among them).
    n_seeds : int
        Model seeds 0 .. n_seeds-1 per sweep cell.
    folds : int
        Folds of trials of the sweep (every trial is held out once).
    train_fractions : tuple of float
        Shares of the non-held-out trials (nested); the smallest is the little-data regime.
    baselines : tuple of str
        Baseline models of the sweep (``rnn``, ``gru``, ``lstm``; reported, not claimed).
    epochs, patience, batch_size, lr : fit settings of every sweep cell.
    recipe_seeds : int
        Model seeds of the chosen recipe (routing must replicate across them).
    chosen_epochs, chosen_patience : int
        Fit length of the chosen (analysed) model.
    latent_dim_chosen : int
        M of the chosen model (0: the recipe's).
    n_null : int
        Null draws of the regime analysis (p-value floor 1 / (n_null + 1)).
    n_shuffles : int
        Rule-label shuffles of the routing null (0: ``criteria.toml``).
    rsa_n_perm, rsa_n_boot : int
        Permutations and bootstrap samples of the RSA.
    control_seeds : tuple of int
        Data seeds of the controls (``--controls``): each generator is simulated once per
        seed; drawn away from every seed used while developing the toolbox.
    workers : int
        Sessions of the controls run in parallel processes.
    """

    name: str
    n_trials: int
    n_units: int
    pwl_units: tuple[int, ...]
    n_seeds: int
    train_fractions: tuple[float, ...]
    baselines: tuple[str, ...]
    epochs: int
    patience: int
    chosen_epochs: int
    chosen_patience: int
    n_null: int
    rsa_n_perm: int
    rsa_n_boot: int
    latent_dim: int = 7
    folds: int = 2
    recipe_seeds: int = 2
    latent_dim_chosen: int = 0
    n_shuffles: int = 0
    control_seeds: tuple[int, ...] = ()
    batch_size: int = 32
    lr: float = 0.005
    workers: int = 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists instead of tuples)."""
        return _plain(self)


@dataclass(frozen=True)
class TaskSpec:
    """One task of ``reproduce tasks``: generator parameters and its sweep.

    Attributes
    ----------
    n_trials : int
        Trials generated (per task for ``multitask``).
    params : dict
        Keyword arguments of the generator (e.g. ``length`` of the addition problem).
    latent_dim : int
        M.
    pwl_units : tuple of int
        P values swept.
    epochs, patience, lr, batch_size : fit settings of every cell.
    split : tuple of float
        Train, validation and held-out test fractions of the trials (the test trials are the
        units of the task claims).
    fit_options : dict
        Further :class:`~alrnn_neuro.training.config.FitConfig` fields of every cell (the
        study's training: MAR, A placement, no clipping, fresh trials, ...).
    """

    n_trials: int
    latent_dim: int
    pwl_units: tuple[int, ...]
    epochs: int
    params: dict[str, Any] = field(default_factory=dict)
    patience: int = 0
    lr: float = 0.01
    batch_size: int = 32
    split: tuple[float, ...] = (0.7, 0.15, 0.15)
    fit_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSettings:
    """Size of ``reproduce tasks``: the classic tasks and the multi-task suite.

    Attributes
    ----------
    name : str
        ``quick``, ``full`` or ``tiny``.
    tasks : dict of str to TaskSpec
        Classic task name (a key of ``alrnn_neuro.simulate.tasks.TASKS``) -> its spec.
    multitask : TaskSpec
        The 11-task suite (``n_trials`` per task).
    n_seeds : int
        Initialisation seeds 0 .. n_seeds-1 per cell.
    workers : int
        Parallel worker processes of each sweep.
    control_seeds : tuple of int
        Data seeds of the untrained-network controls (each task drawn anew per seed).
    baselines : tuple of str
        Fully nonlinear baselines (``gru``, ``lstm``, ``rnn``) fitted to every classic task
        beside the AL-RNNs, for the low-data comparison (not to the suite).
    train_fractions : tuple of float
        Shares of the training trials of the classic tasks' sweeps (nested); the smallest is
        the low-data regime of the comparison, the largest gives every other claim.
    shuffled_seeds : tuple of int
        Data seeds of the primitives claim's shuffled-targets controls: per seed, every
        P > 0 network of each task is trained again (twice: as fitted, and for the full epoch
        budget) on a new draw with its targets permuted across trials (empty: not run; each
        is one ensemble per task, 4-9 s per task in the quick setting; in the full setting one
        draw trains about as much again as the sweep's own AL-RNNs, hence one draw only).
    max_members : int
        AL-RNNs trained together in one ensemble (0: each task's grid split evenly over the
        workers). 1 makes every network its own sweep cell, so ``--resume`` loses at most one
        network's training after an interruption (ensembles keep no checkpoints); at M = 50
        an ensemble is no faster per network than single fits.
    """

    name: str
    tasks: dict[str, TaskSpec]
    multitask: TaskSpec
    n_seeds: int
    workers: int = 2
    control_seeds: tuple[int, ...] = ()
    baselines: tuple[str, ...] = ()
    train_fractions: tuple[float, ...] = (1.0,)
    shuffled_seeds: tuple[int, ...] = ()
    max_members: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _plain(self)


def _plain(obj: Any) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        return v

    return conv(obj)


STIMULUS = {
    "quick": StimulusSettings(
        name="quick",
        n_trials=400,
        n_units=30,
        latent_dim=7,
        pwl_units=(0, 2, 7),
        n_seeds=1,
        folds=2,
        train_fractions=(0.3, 1.0),
        baselines=(),
        epochs=150,
        patience=30,
        recipe_seeds=2,
        chosen_epochs=200,
        chosen_patience=40,
        n_null=100,
        rsa_n_perm=200,
        rsa_n_boot=200,
        control_seeds=(3001, 3002, 3003, 3004, 3005),
    ),
    "full": StimulusSettings(
        name="full",
        n_trials=500,
        n_units=30,
        latent_dim=7,
        pwl_units=(0, 1, 2, 3, 7),
        n_seeds=2,
        folds=3,
        train_fractions=(0.3, 1.0),
        baselines=("gru", "rnn"),
        epochs=200,
        patience=40,
        recipe_seeds=3,
        chosen_epochs=200,
        chosen_patience=40,
        n_null=200,
        rsa_n_perm=1000,
        rsa_n_boot=1000,
        control_seeds=tuple(range(3001, 3011)),
    ),
    "tiny": StimulusSettings(
        name="tiny",
        n_trials=100,
        n_units=8,
        pwl_units=(0, 1, 3),
        n_seeds=1,
        folds=2,
        train_fractions=(1.0,),
        baselines=(),
        epochs=2,
        patience=0,
        recipe_seeds=2,
        chosen_epochs=2,
        chosen_patience=0,
        latent_dim_chosen=3,
        n_null=5,
        n_shuffles=3,
        rsa_n_perm=5,
        rsa_n_boot=200,
        latent_dim=3,
        control_seeds=(3001,),
        workers=1,
    ),
}

# quick: short task versions, small batches; 35 % of the trials held out (the claims' units)
_SHORT = {"patience": 50, "batch_size": 16, "split": (0.55, 0.1, 0.35)}
_QUICK_TASKS = {
    "addition": TaskSpec(400, 8, (0, 1, 2, 8), 150, {"length": 10}, lr=0.005, **_SHORT),
    "copy": TaskSpec(
        400, 12, (0, 1, 2, 12), 300, {"n_symbols": 4, "seq_len": 3, "delay": 10}, lr=0.01, **_SHORT
    ),
    "variable_delay_copy": TaskSpec(
        400,
        12,
        (0, 1, 2, 12),
        300,
        {"n_symbols": 4, "seq_len": 3, "delay": (5, 15)},
        lr=0.01,
        **_SHORT,
    ),
    "contextual_integration": TaskSpec(
        400, 8, (0, 1, 2, 8), 150, {"stimulus_steps": (5, 11)}, lr=0.005, **_SHORT
    ),
}
_FULL_TASKS = {
    "addition": TaskSpec(2000, 20, (0, 1, 2, 5, 10, 20), 300, {"length": 100}, patience=50),
    "copy": TaskSpec(2000, 40, (0, 2, 5, 10, 20, 40), 300, {"delay": 100}, patience=50),
    "variable_delay_copy": TaskSpec(
        2000, 40, (0, 2, 5, 10, 20, 40), 300, {"delay": (50, 150)}, patience=50
    ),
    "contextual_integration": TaskSpec(2000, 20, (0, 1, 2, 5, 10, 20), 300, {}, patience=50),
}

#: fields of a study fit config that the sweep sets per cell (or from TaskSpec's own fields)
_SWEEP_SET = ("model", "latent_dim", "pwl_units", "seed", "split", "epochs", "lr", "batch_size")
#: task settings built from the study's presets (:func:`study_spec`)
STUDY_SETTINGS = ("study-reduced", "study")
#: the reduced study setting: share of the study's epochs, and P per task (0, sparse, M)
STUDY_EPOCH_SHARE = 0.25
_STUDY_P = {  # cheapest first, so that an interrupted run has whole tasks done
    "contextual_integration": (0, 5, 10),
    "copy": (0, 5, 50),
    "variable_delay_copy": (0, 5, 50),
    "addition": (0, 5, 50),
    "multitask": (0, 8, 64),
}


def study_spec(task: str, pwl_units: tuple[int, ...], epoch_share: float) -> TaskSpec:
    """A task of the reduced study setting: the study's definition (``variant="study"``),
    trial counts and training (:func:`~alrnn_neuro.training.study.study_fit_config`) with
    ``epoch_share`` of its epochs (suite: ``n_trials`` per task, as ``make_task``)."""
    preset = study_preset(task)
    config = study_fit_config(task, pwl_units=0, epoch_share=epoch_share, threads=1)
    counts = study_trial_counts(task)
    total = sum(counts.values())
    n_trials = -(-total // len(SUITE)) if task == MULTITASK else total
    options = {k: v for k, v in config.to_dict().items() if k not in _SWEEP_SET}
    return TaskSpec(
        n_trials=n_trials,
        latent_dim=preset.latent_dim,
        pwl_units=pwl_units,
        epochs=config.epochs,
        params={"variant": "study", **dict(preset.task_params)},
        patience=config.patience,
        lr=config.lr,
        batch_size=config.batch_size,
        split=tuple(config.split),
        fit_options=options,
    )


def _study_settings(name: str) -> TaskSettings:
    """``study-reduced`` (a quarter of the study's epochs, P in {0, sparse, M}, 3 seeds) or
    ``study`` (all its epochs, its P grid with 0 and M, 5 seeds): every network its own cell."""
    full = name == "study"
    share = 1.0 if full else STUDY_EPOCH_SHARE

    def grid(task: str) -> tuple[int, ...]:
        if not full:
            return _STUDY_P[task]
        preset = study_preset(task)
        return tuple(sorted({0, preset.latent_dim, *preset.pwl_grid}))

    return TaskSettings(
        name=name,
        tasks={t: study_spec(t, grid(t), share) for t in _STUDY_P if t != MULTITASK},
        multitask=study_spec(MULTITASK, grid(MULTITASK), share),
        n_seeds=5 if full else 3,
        control_seeds=tuple(range(3001, 3011)) if full else (3001, 3002, 3003),
        max_members=1,
    )


TASK_SETTINGS = {
    "quick": TaskSettings(
        name="quick",
        tasks=_QUICK_TASKS,
        n_seeds=3,
        multitask=TaskSpec(
            40, 16, (0, 2, 4, 16), 120, patience=50, lr=0.01, batch_size=16, split=(0.6, 0.1, 0.3)
        ),
        control_seeds=(3001, 3002, 3003, 3004, 3005),
        baselines=("gru", "lstm"),
        train_fractions=(0.25, 1.0),
        shuffled_seeds=(3001,),
    ),
    "full": TaskSettings(
        name="full",
        tasks=_FULL_TASKS,
        n_seeds=5,
        multitask=TaskSpec(500, 64, (0, 2, 4, 8, 16, 32, 64), 300, patience=50, lr=0.005),
        control_seeds=tuple(range(3001, 3011)),
        baselines=("gru", "lstm"),
        train_fractions=(0.1, 0.3, 1.0),
        shuffled_seeds=(3001,),
    ),
    "tiny": TaskSettings(
        name="tiny",
        n_seeds=2,
        workers=1,
        tasks={"addition": TaskSpec(20, 3, (0, 3), 1, {"length": 10})},
        multitask=TaskSpec(8, 3, (0, 1, 2), 1),
        control_seeds=(3001,),
        baselines=("gru",),
        train_fractions=(0.5, 1.0),
        shuffled_seeds=(3001,),
    ),
}


def on_device(s: TaskSettings, device: str) -> TaskSettings:
    """``s`` with every task's fits on ``device`` (``"cpu"`` or ``"cuda"``).

    On a GPU each task's AL-RNN grid trains as ensembles (``max_members = 0``: split evenly
    over the workers) even where the CPU setting trains one network per cell: a GPU step of
    these small recurrent networks is bound by launching its kernels (several per time step),
    not by the number of members, so one network per cell would take about as long per
    network as the whole grid together.
    """
    if device == "cpu":
        return s

    def moved(spec: TaskSpec) -> TaskSpec:
        return dataclasses.replace(spec, fit_options={**spec.fit_options, "device": device})

    tasks = {name: moved(spec) for name, spec in s.tasks.items()}
    return dataclasses.replace(s, tasks=tasks, multitask=moved(s.multitask), max_members=0)


def stimulus_settings(name: str) -> StimulusSettings:
    """The stimulus-selection setting called ``name`` (``quick``, ``full`` or ``tiny``)."""
    return _pick(STIMULUS, name)


def task_settings(name: str) -> TaskSettings:
    """The task setting called ``name`` (``quick``, ``full``, ``study-reduced`` or ``tiny``).

    ``study-reduced``: the study's task definitions, trial counts and training (MAR, A on the
    rectified units, Adam without schedule or clipping, the last epoch's parameters, fresh
    suite trials every epoch) with a quarter of its epochs, P in {0, a sparse P, M} and 3
    model seeds, no baselines (hours on 2 cores; run it with ``--resume``). ``study``: the
    same with all of the study's epochs, its P grids (with 0 and M) and 5 model seeds (days
    on a CPU; meant for a GPU or a cluster).
    """
    if name in STUDY_SETTINGS:
        return _study_settings(name)
    return _pick(TASK_SETTINGS, name)


def _pick(table: dict, name: str):
    if name not in table:
        names = [*table, *STUDY_SETTINGS] if table is TASK_SETTINGS else list(table)
        raise ConfigError(f"setting={name!r} is unknown; fix: use one of {', '.join(names)}")
    return table[name]

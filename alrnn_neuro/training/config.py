"""The fit configuration: one frozen dataclass, validated on construction.

Every field has a default, so ``FitConfig()`` is a complete, sensible configuration for the
bundled stimulus-selection demo. TOML keys and CLI flags share the field names
(``latent_dim`` in a TOML file is ``--latent-dim`` on the command line). Precedence, lowest
first: the defaults below < the TOML file (``--config run.toml``) < explicit CLI flags.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alrnn_neuro.errors import ConfigError

MODELS = ("alrnn", "rnn", "gru", "lstm")
OBSERVATIONS = ("auto", "poisson", "gaussian", "identity", "mse", "cross_entropy")
INIT_STATES = ("learned", "zero", "data")
OPTIMIZERS = ("adam", "radam")
SCHEDULES = ("exponential", "cosine", "constant")
DEVICES = ("cpu", "cuda")
A_PLACEMENTS = ("all", "pwl")
MAR_DEFINITIONS = ("toolbox", "study")
KEEP_EPOCHS = ("best", "last")
#: upper bounds of integer settings (beyond them a fit cannot run on any machine)
SEED_MAX = 2**63 - 1
MAX_LATENT_DIM = 10_000
MAX_COUNT = 10**9  # epochs, batch_size, init_bins, patience, tf_interval, fresh_trials
#: tuple fields that hold numbers (the others hold strings)
NUMBER_TUPLES = ("split", "a_init")


@dataclass(frozen=True)
class FitConfig:
    """Hyperparameters of one fit (model, observation model, optimiser, schedule, split).

    Attributes
    ----------
    model : {"alrnn", "rnn", "gru", "lstm"}
        Latent dynamics: the AL-RNN or a baseline (tanh RNN, GRU, LSTM).
    latent_dim : int
        Number of latent states M (>= 1).
    pwl_units : int
        Number of piecewise-linear (ReLU) units P, 0 <= P <= M (AL-RNN only).
    obs : {"auto", "poisson", "gaussian", "identity", "mse", "cross_entropy"}
        Observation model; ``"auto"`` picks Poisson for ``spikes``, Gaussian for ``signal``
        and the dataset's ``task_loss`` for task ``targets`` (``"mse"``: linear readout with
        squared error, ``"cross_entropy"``: softmax readout; both on ``loss_mask`` steps).
    init_state : {"learned", "zero", "data"}
        Initial latent state: one learned vector, zeros, or inferred from each trial's first
        ``init_bins`` bins through the observation model (trial-specific; those bins are
        left out of the reported metrics). Task datasets cannot infer it: ``"data"`` is
        resolved to ``"learned"`` there.
    init_bins : int
        Bins used to infer a data-driven initial state (>= 1).
    init_epochs : tuple of str
        Infer z0 only from bins of these epochs (at most ``init_bins`` of them, from each
        trial's start), e.g. ``("iti",)`` so that the pre-stimulus hold's spikes, where the
        rule is read out, never enter the initial state; empty = the first ``init_bins``
        valid bins.
    behaviour : bool
        Add a choice head (cross-entropy on ``behaviour_label``) to the loss.
    behaviour_label : str
        Trial coord holding the class label of each trial (e.g. ``"choice"``).
    behaviour_epoch : str
        Epoch label whose steps the choice head reads; ``""`` = the last valid step.
    behaviour_weight : float
        Weight of the choice loss relative to the observation loss. Both are means (over
        labelled steps / over valid bins x units), so one trial's label meets T x N counts;
        a small weight keeps the head from bending the dynamics (0.01 on the demo: choice
        accuracy ~0.9 at no cost in held-out spike likelihood; 1.0 ruined the spike fit).
    epochs : int
        Maximum number of passes over the training trials.
    batch_size : int
        Trials per gradient step.
    lr : float
        Initial learning rate.
    lr_schedule : {"exponential", "cosine", "constant"}
        Per-epoch decay from ``lr`` to ``lr * lr_final``.
    lr_final : float
        Final learning rate as a fraction of ``lr`` (0 < lr_final <= 1).
    optimizer : {"adam", "radam"}
        Optimiser.
    weight_decay : float
        L2 penalty of the optimiser (>= 0).
    grad_clip : float
        Maximum global gradient norm; 0 disables clipping.
    patience : int
        Stop when the validation loss has not improved for this many epochs; 0 disables.
    keep_epoch : {"best", "last"}
        Which epoch's parameters the fit returns: the one with the lowest validation loss
        (also with ``patience=0``) or the last one trained (the AL-RNN study's choice).
    tf_interval : int
        Sparse teacher forcing every ``tf_interval`` steps; 0 disables forcing.
    tf_alpha : float
        Forcing strength alpha in [0, 1] at the first epoch (z <- (1-alpha) z + alpha z_data).
    tf_anneal : float
        Fraction of ``epochs`` over which alpha decays linearly to 0 (0 = constant alpha).
    mar : float
        Manifold-attractor regularisation strength tau (>= 0; AL-RNN only).
    mar_units : int
        Number of regularised units (the first ones); -1 = all M - P linear units.
    mar_definition : {"toolbox", "study"}
        What MAR pulls toward 1 (see :mod:`~alrnn_neuro.training.regularizers`):
        ``"toolbox"`` the diagonal ``A_i`` alone, ``"study"`` the unit's whole self-coupling
        ``W_ii + A_i`` (the AL-RNN study's ``MAR.py``; with ``a_placement="pwl"`` that is
        ``W_ii`` on a linear unit). Both add ``sum_{j != i} W_ij^2 + h_i^2``.
    a_placement : {"all", "pwl"}
        Which units carry the diagonal self-connection ``A`` (AL-RNN only): every unit, or
        only the P rectified units (the AL-RNN study's model; a linear unit's ``A_i`` is then
        exactly 0 and never trained, its self-coupling is ``W_ii``).
    a_init : tuple of float
        ``()``: ``A`` starts at the diagonal of a random normalised positive-definite matrix
        (in (0, 1]); ``(mean, sd)``: ``A_i ~ N(mean, sd^2)`` on the units that carry it (the
        study: (0, 0.01) for its classic tasks, (0.9, 0.1) for the task suite).
    fresh_trials : int
        Train on freshly generated trials every epoch: this many (``make_task``'s
        ``n_trials``, per task for ``"multitask"``), drawn with
        ``seed=epoch_seed(seed, epoch)``; validation and test trials stay the dataset's.
        Needs a dataset made by :func:`~alrnn_neuro.simulate.tasks.make_task`. 0 = off
        (train on the dataset's training trials).
    self_coupling : float
        Strength tau (>= 0; AL-RNN only) of the L1 self-coupling penalty
        ``tau * sum_i |W_ii + A_i|`` of the AL-RNN paper's stimulus-selection fits, which pulls
        each unit's self-coupling toward 0 (a regulariser beside MAR, not a form of it).
    self_coupling_units : int
        Units it covers (the first ones); -1 = all M (the paper: all 6).
    inputs : tuple of str
        Input channels that drive the model: ``("all",)`` = every channel, ``()`` = none
        (autonomous model).
    split : tuple of float
        Train/validation/test fractions of the trials (sum to 1).
    conditions : tuple of str
        Trial coords defining task conditions (split strata, PSTH baseline); empty = auto.
    seed : int
        Model seed: initialisation, batch order and teacher-forcing phases.
    split_seed : int
        Seed of the train/validation/test split, separate from ``seed`` so that fits with
        different model seeds are scored on the same held-out trials (seed noise is not mixed
        with split noise); change it to study split variability.
    device : {"cpu", "cuda"}
        Torch device.
    threads : int
        CPU threads torch may use during the fit (0 = torch's default). One thread is fastest
        for these small recurrent models and keeps results identical across machines.
    """

    model: str = "alrnn"
    latent_dim: int = 6
    pwl_units: int = 2
    obs: str = "auto"
    init_state: str = "data"
    init_bins: int = 20
    init_epochs: tuple[str, ...] = ()
    behaviour: bool = False
    behaviour_label: str = "choice"
    behaviour_epoch: str = ""
    behaviour_weight: float = 0.01
    epochs: int = 200
    batch_size: int = 32
    lr: float = 0.005
    lr_schedule: str = "exponential"
    lr_final: float = 0.1
    optimizer: str = "adam"
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    patience: int = 40
    keep_epoch: str = "best"
    tf_interval: int = 0
    tf_alpha: float = 0.5
    tf_anneal: float = 0.5
    mar: float = 0.0
    mar_units: int = -1
    mar_definition: str = "toolbox"
    a_placement: str = "all"
    a_init: tuple[float, ...] = ()
    fresh_trials: int = 0
    self_coupling: float = 0.0
    self_coupling_units: int = -1
    inputs: tuple[str, ...] = ("all",)
    split: tuple[float, ...] = (0.7, 0.15, 0.15)
    conditions: tuple[str, ...] = field(default=())
    seed: int = 0
    split_seed: int = 0
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.default, self)
        _choice("model", self.model, MODELS)
        _choice("obs", self.obs, OBSERVATIONS)
        _choice("init_state", self.init_state, INIT_STATES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        _choice("keep_epoch", self.keep_epoch, KEEP_EPOCHS)
        _choice("mar_definition", self.mar_definition, MAR_DEFINITIONS)
        _choice("a_placement", self.a_placement, A_PLACEMENTS)
        _check_a_init(self.a_init, self.model)
        if self.latent_dim < 1:
            _fail("latent_dim", self.latent_dim, "at least 1 latent state, e.g. --latent-dim 6")
        if not 0 <= self.pwl_units <= self.latent_dim:
            _fail(
                "pwl_units",
                self.pwl_units,
                f"0 <= pwl_units <= latent_dim ({self.latent_dim}); P > M is impossible",
            )
        for name in ("epochs", "batch_size", "init_bins"):
            if getattr(self, name) < 1:
                _fail(name, getattr(self, name), "a positive integer")
        for name in ("patience", "tf_interval", "seed", "split_seed", "threads", "fresh_trials"):
            if getattr(self, name) < 0:
                _fail(name, getattr(self, name), "an integer >= 0")
        if self.seed > SEED_MAX:
            _fail("seed", self.seed, f"an integer below 2**63 ({SEED_MAX})")
        if self.latent_dim > MAX_LATENT_DIM:
            _fail("latent_dim", self.latent_dim, f"at most {MAX_LATENT_DIM} latent states")
        for name in (
            "epochs",
            "batch_size",
            "init_bins",
            "patience",
            "tf_interval",
            "threads",
            "fresh_trials",
        ):
            if getattr(self, name) > MAX_COUNT:
                _fail(name, getattr(self, name), f"an integer <= {MAX_COUNT}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            _fail("lr", self.lr, "a positive learning rate such as 0.01")
        if not 0 < self.lr_final <= 1:
            _fail("lr_final", self.lr_final, "a fraction in (0, 1]")
        for name in ("weight_decay", "grad_clip", "mar", "behaviour_weight", "self_coupling"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                _fail(name, value, "a finite number >= 0")
        for name in ("tf_alpha", "tf_anneal"):
            if not 0 <= getattr(self, name) <= 1:
                _fail(name, getattr(self, name), "a number in [0, 1]")
        if not -1 <= self.mar_units <= self.latent_dim:
            _fail("mar_units", self.mar_units, f"-1 (linear units) or 0..{self.latent_dim}")
        if self.mar > 0 and self.model != "alrnn":
            _fail("mar", self.mar, "0 for baseline models (MAR applies to the AL-RNN only)")
        if not -1 <= self.self_coupling_units <= self.latent_dim:
            _fail(
                "self_coupling_units", self.self_coupling_units, f"-1 (all) or 0..{self.latent_dim}"
            )
        if self.model != "alrnn":
            for name, default in (("a_placement", "all"), ("mar_definition", "toolbox")):
                if getattr(self, name) != default:
                    _fail(
                        name, getattr(self, name), f"'{default}' for baseline models (AL-RNN only)"
                    )
        if self.self_coupling > 0 and self.model != "alrnn":
            _fail("self_coupling", self.self_coupling, "0 for baseline models (AL-RNN only)")
        if len(self.split) not in (2, 3) or any(not v > 0 for v in self.split):
            _fail("split", list(self.split), "2 or 3 positive fractions (train, val[, test])")
        if abs(sum(self.split) - 1) > 1e-6:
            _fail("split", list(self.split), "fractions that sum to 1, e.g. [0.7, 0.15, 0.15]")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready dict (tuples become lists)."""
        return {
            f.name: list(getattr(self, f.name))
            if isinstance(getattr(self, f.name), tuple)
            else getattr(self, f.name)
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitConfig:
        """Build from a dict whose keys are field names (``-`` is read as ``_``).

        Raises
        ------
        ConfigError
            On an unknown key (with the closest valid name) or an invalid value.

        Examples
        --------
        >>> FitConfig.from_dict({"latent-dim": 8, "pwl_units": 3}).latent_dim
        8
        """
        names = [f.name for f in dataclasses.fields(cls)]
        clean: dict[str, Any] = {}
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(
                    f"unknown config key '{key}' (value {value!r}); fix: {hint}valid keys: "
                    f"{', '.join(names)} (alrnn-neuro fit --help lists them as flags)"
                )
            clean[name] = tuple(value) if isinstance(value, list) else value
        return cls(**clean)

    @classmethod
    def from_toml(cls, path: str | os.PathLike, **overrides: Any) -> FitConfig:
        """Read a TOML file of ``key = value`` lines; ``overrides`` (not None) take precedence.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ConfigError
            On a TOML syntax error, an unknown key or an invalid value.
        """
        values = read_toml(path)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> FitConfig:
        """Return a validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def diff(self, other: FitConfig) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: name -> (self's value, other's value)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The key/value pairs of a TOML settings file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ConfigError
        On a file that is not UTF-8 text or not valid TOML.
    """
    import tomllib

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such config file; fix: check --config")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{file}: not a text file (not UTF-8), so not a TOML settings file; fix: pass the "
            "TOML file with --config (the dataset is the first argument)"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML ({error}); fix the syntax") from error


def _check_type(name: str, value: Any, default: Any, config: FitConfig) -> None:
    """Coerce ints to floats where floats are expected; reject wrong types with a fix."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            object.__setattr__(config, name, float(value))
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:  # tuple fields: split and a_init hold numbers, the others strings
        numeric = name in NUMBER_TUPLES
        item = (int, float) if numeric else (str,)
        ok = isinstance(value, tuple | list) and all(
            isinstance(v, item) and not isinstance(v, bool) for v in value
        )
        if ok:
            object.__setattr__(config, name, tuple(float(v) if numeric else v for v in value))
    if not ok:
        expected = type(default).__name__
        if isinstance(default, tuple):
            expected = "list of numbers" if name in NUMBER_TUPLES else "list of strings"
        _fail(name, value, f"a value of type {expected}")


def _check_a_init(a_init: tuple[float, ...], model: str) -> None:
    """``()`` or ``(mean, sd)`` with a finite mean and a finite sd >= 0 (AL-RNN only)."""
    if not a_init:
        return
    if len(a_init) != 2:
        _fail(
            "a_init", list(a_init), "[] (default init) or two numbers [mean, sd], e.g. [0.9, 0.1]"
        )
    mean, sd = a_init
    if not math.isfinite(mean):
        _fail("a_init", list(a_init), "a finite mean, e.g. [0.9, 0.1]")
    if not (sd >= 0 and math.isfinite(sd)):
        _fail("a_init", list(a_init), "a finite sd >= 0 as the second number, e.g. [0.9, 0.1]")
    if model != "alrnn":
        _fail("a_init", list(a_init), "[] for baseline models (A exists in the AL-RNN only)")


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        _fail(name, value, f"one of {', '.join(options)}")


def _fail(name: str, value: Any, fix: str) -> None:
    flag = "--" + name.replace("_", "-")
    raise ConfigError(f"{name}={value!r} is invalid; fix: use {fix} (flag {flag}, TOML key {name})")

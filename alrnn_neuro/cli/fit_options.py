"""One command-line flag for every :class:`~alrnn_neuro.training.FitConfig` field.

``--latent-dim 8`` on the command line is ``latent_dim = 8`` in a TOML file (``--config``):
the flag is the field name with ``-`` for ``_``. :func:`with_fit_flags` adds the flags to a
Typer command (``fit`` gets all of them, ``sweep`` those its grid does not set), grouped in
panels of ``--help``, each with its default and choices; the command receives the flags that
were given as one dict, ``fit_flags``, ready for :func:`fit_settings`. Lists are written with
commas: ``--inputs all|none|a,b``, ``--conditions rule,location``, ``--split 0.7,0.15,0.15``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training import config as cfg
from alrnn_neuro.training.config import FitConfig, read_toml

MODEL, TRAINING, FORCING, BEHAVIOUR, SPLIT = (
    "Model",
    "Training",
    "Teacher forcing and regularisation",
    "Choice head",
    "Trials and split",
)


@dataclass(frozen=True)
class FitFlag:
    """The flag of one FitConfig field: its value type on the command line, help and panel.

    ``kind`` is ``int``, ``float``, ``str``, ``bool`` (``--x/--no-x``) or ``list`` (comma-
    separated strings) / ``floats`` (comma-separated numbers) for the tuple fields.
    """

    name: str
    kind: Any
    help: str
    panel: str
    default_text: str | None = None

    @property
    def flag(self) -> str:
        """``--latent-dim`` for ``latent_dim``."""
        return "--" + self.name.replace("_", "-")

    def parameter(self) -> inspect.Parameter:
        """The keyword-only parameter Typer reads (default None: not given)."""
        default = getattr(FitConfig(), self.name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        shown = self.default_text or shown or "none"
        text = f"{self.help} [TOML: {self.name}; default: {shown}]"
        decls = (f"{self.flag}/--no-{self.flag[2:]}",) if self.kind is bool else (self.flag,)
        annotation = str if self.kind in ("list", "floats") else self.kind
        option = typer.Option(
            None, *decls, help=text, rich_help_panel=self.panel, show_default=False
        )
        return inspect.Parameter(
            self.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation | None
        )


def _one_of(options: tuple[str, ...]) -> str:
    return " | ".join(options)


#: every FitConfig field, in the order of ``fit --help``
FIT_FLAGS: tuple[FitFlag, ...] = (
    FitFlag("model", str, f"Latent dynamics: {_one_of(cfg.MODELS)}.", MODEL),
    FitFlag("latent_dim", int, "Latent states M.", MODEL),
    FitFlag("pwl_units", int, "Piecewise-linear (ReLU) units P <= M (AL-RNN).", MODEL),
    FitFlag(
        "obs",
        str,
        f"Observation model: {_one_of(cfg.OBSERVATIONS)}; auto = poisson for spikes, "
        "gaussian for signal, the task loss for task targets.",
        MODEL,
    ),
    FitFlag(
        "inputs",
        "list",
        "Input channels that drive the model: all, none (autonomous) or a list a,b.",
        MODEL,
    ),
    FitFlag(
        "init_state",
        str,
        f"Initial state: {_one_of(cfg.INIT_STATES)} (data = inferred from each trial's "
        "first --init-bins bins).",
        MODEL,
    ),
    FitFlag("init_bins", int, "Bins that infer the initial state (init_state data).", MODEL),
    FitFlag(
        "a_placement",
        str,
        f"Units that carry the diagonal A: {_one_of(cfg.A_PLACEMENTS)} (pwl = the rectified "
        "units only, A = 0 on linear units: the AL-RNN study's model).",
        MODEL,
    ),
    FitFlag(
        "a_init",
        "floats",
        "Initialise A ~ N(mean, sd^2), given as mean,sd (e.g. 0.9,0.1); none = the diagonal "
        "of a random positive-definite matrix.",
        MODEL,
    ),
    FitFlag(
        "init_epochs",
        "list",
        "Infer z0 only from bins of these epochs, e.g. iti; none = the first bins.",
        MODEL,
    ),
    FitFlag("epochs", int, "Maximum passes over the training trials.", TRAINING),
    FitFlag("batch_size", int, "Trials per gradient step.", TRAINING),
    FitFlag("lr", float, "Initial learning rate.", TRAINING),
    FitFlag(
        "lr_schedule",
        str,
        f"Decay from --lr to --lr * --lr-final: {_one_of(cfg.SCHEDULES)}.",
        TRAINING,
    ),
    FitFlag("lr_final", float, "Final learning rate as a fraction of --lr (0, 1].", TRAINING),
    FitFlag("optimizer", str, f"Optimiser: {_one_of(cfg.OPTIMIZERS)}.", TRAINING),
    FitFlag("weight_decay", float, "L2 penalty of the optimiser.", TRAINING),
    FitFlag("grad_clip", float, "Maximum gradient norm; 0 = no clipping.", TRAINING),
    FitFlag(
        "patience",
        int,
        "Stop after this many epochs without a better val loss; 0 = never.",
        TRAINING,
    ),
    FitFlag(
        "keep_epoch",
        str,
        f"Parameters the fit returns: {_one_of(cfg.KEEP_EPOCHS)} (best = lowest val loss).",
        TRAINING,
    ),
    FitFlag(
        "fresh_trials",
        int,
        "Train on this many freshly drawn trials each epoch (datasets made by make_task / "
        "simulate-task); 0 = the dataset's own training trials.",
        TRAINING,
    ),
    FitFlag("seed", int, "Model seed: initialisation, batch order, forcing phases.", TRAINING),
    FitFlag("device", str, f"Torch device: {_one_of(cfg.DEVICES)}.", TRAINING),
    FitFlag("threads", int, "CPU threads for torch; 0 = torch's default.", TRAINING),
    FitFlag("tf_interval", int, "Sparse teacher forcing every N steps; 0 = off.", FORCING),
    FitFlag("tf_alpha", float, "Forcing strength in [0, 1] at the first epoch.", FORCING),
    FitFlag("tf_anneal", float, "Fraction of --epochs over which alpha decays to 0.", FORCING),
    FitFlag("mar", float, "Manifold-attractor regularisation strength (AL-RNN).", FORCING),
    FitFlag("mar_units", int, "Units MAR regularises (the first ones); -1 = all linear.", FORCING),
    FitFlag(
        "mar_definition",
        str,
        f"MAR's self-coupling: {_one_of(cfg.MAR_DEFINITIONS)} (toolbox = A_i, study = "
        "W_ii + A_i as in the AL-RNN study).",
        FORCING,
    ),
    FitFlag(
        "self_coupling", float, "L1 penalty on each unit's self-coupling |W_ii + A_i|.", FORCING
    ),
    FitFlag(
        "self_coupling_units", int, "Units the self-coupling penalty covers; -1 = all.", FORCING
    ),
    FitFlag(
        "behaviour",
        bool,
        "Add a choice head (cross-entropy on --behaviour-label).",
        BEHAVIOUR,
        "off",
    ),
    FitFlag(
        "behaviour_label", str, "Trial coord with each trial's class (e.g. choice).", BEHAVIOUR
    ),
    FitFlag(
        "behaviour_epoch",
        str,
        "Epoch whose steps the head reads; '' = the last valid step.",
        BEHAVIOUR,
        "''",
    ),
    FitFlag("behaviour_weight", float, "Weight of the choice loss.", BEHAVIOUR),
    FitFlag("split", "floats", "Train,val[,test] fractions of the trials (sum to 1).", SPLIT),
    FitFlag("split_seed", int, "Seed of the train/val/test split (apart from --seed).", SPLIT),
    FitFlag(
        "conditions",
        "list",
        "Trial coords defining conditions (split strata, PSTH baseline); auto = the usual "
        "task variables found in the data.",
        SPLIT,
        "auto",
    ),
)

#: how a TOML file spells the settings (shown in ``fit --help``)
TOML_NOTE = (
    "Every flag can go in a TOML file given with --config, under its name with _ for - "
    "(latent_dim = 8, inputs = [] for none, split = [0.7, 0.15, 0.15]). Precedence: "
    "defaults < saved run config (--resume) < --config TOML < flags."
)


def with_fit_flags(*, exclude: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Add a flag for every FitConfig field (but ``exclude``) to a Typer command.

    The command declares a parameter ``fit_flags: dict`` and receives the given flags there,
    parsed (lists as lists); flags not given are left out, so a TOML file or the defaults
    decide them.
    """
    flags = [f for f in FIT_FLAGS if f.name not in exclude]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            given = {f.name: kwargs.pop(f.name) for f in flags}
            return command(**kwargs, fit_flags=parse_fit_flags(given))

        own = [p for p in inspect.signature(command).parameters.values() if p.name != "fit_flags"]
        extra = [f.parameter() for f in flags]
        wrapper.__signature__ = inspect.Signature(own + extra)
        return wrapper

    return decorate


def parse_fit_flags(given: dict[str, Any]) -> dict[str, Any]:
    """FitConfig values from the raw flag values (None = not given, dropped)."""
    by_name = {f.name: f for f in FIT_FLAGS}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        kind = by_name[name].kind
        if kind == "list":
            out[name] = _names(name, value)
        elif kind == "floats":
            out[name] = _numbers(name, value)
        else:
            out[name] = value
    return out


def _names(name: str, text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    lowered = [t.lower() for t in items]
    if name == "inputs" and lowered == ["all"]:
        return ["all"]
    if lowered in ([], ["none"]) or (name == "conditions" and lowered == ["auto"]):
        return []
    return items


def _numbers(name: str, text: str) -> list[float]:
    flag = "--" + name.replace("_", "-")
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError as error:
        example = _NUMBER_EXAMPLES.get(name, "1,2")
        raise ConfigError(
            f"{flag} {text!r}: not comma-separated numbers; fix: e.g. {flag} {example}"
        ) from error


#: an example value of each numbers flag (its own form: --split fractions, --a-init mean,sd)
_NUMBER_EXAMPLES = {"split": "0.7,0.15,0.15", "a_init": "0.9,0.1"}


def fit_settings(config: Path | None, flags: dict[str, Any]) -> dict[str, Any]:
    """Fit settings: the TOML file ``config`` (if any) overridden by the given ``flags``."""
    settings = read_toml(config) if config is not None else {}
    settings.update(flags)
    return settings


#: flag -> (whether it acts under a config, why it does not, the flag that makes it act)
_NEEDS = {
    "tf_alpha": (lambda c: c.tf_interval > 0, "teacher forcing is off", "--tf-interval N"),
    "tf_anneal": (lambda c: c.tf_interval > 0, "teacher forcing is off", "--tf-interval N"),
    "lr_final": (
        lambda c: c.lr_schedule != "constant",
        "the lr schedule is constant",
        "--lr-schedule exponential",
    ),
    "mar_units": (lambda c: c.mar > 0, "MAR is off (mar 0)", "--mar TAU"),
    "mar_definition": (lambda c: c.mar > 0, "MAR is off (mar 0)", "--mar TAU"),
    "behaviour_weight": (lambda c: c.behaviour, "there is no choice head", "--behaviour"),
    "behaviour_label": (lambda c: c.behaviour, "there is no choice head", "--behaviour"),
    "init_bins": (lambda c: c.init_state == "data", "init_state is not data", "--init-state data"),
    "pwl_units": (lambda c: c.model == "alrnn", "only the AL-RNN has PWL units", "--model alrnn"),
}


def refuse_inert_flags(flags: dict[str, Any], config: Any) -> None:
    """Refuse a flag given on the command line that the rest of the config makes inert.

    ``--tf-alpha`` without teacher forcing, ``--lr-final`` with a constant schedule, ``--mar-*``
    without MAR, ``--behaviour-*`` without the choice head, ``--init-bins`` without data-
    inferred initial states, ``--pwl-units`` for a baseline model: each was accepted, recorded
    in config.json and changed nothing.
    """
    for name, value in flags.items():
        if value is None or name not in _NEEDS:
            continue
        acts, why, fix = _NEEDS[name]
        if not acts(config):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} {value} has no effect here: {why}; fix: add {fix}, or leave {flag} out"
            )

"""Check a :class:`FitConfig` against a dataset and fill in its automatic choices.

``resolve_config`` turns ``obs="auto"``, ``inputs=["all"]`` and empty ``conditions`` into
explicit values, so the saved ``config.json`` says exactly what was fitted; it raises a
one-line error (field, bad value, fix) for every combination that cannot work.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.data.schema import TASK_LOSSES, observation_variable, validate_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.training.config import FitConfig

#: trial coords that name task conditions (used when ``conditions`` is empty)
CONDITION_NAMES = (
    "rule",
    "context",
    "task",
    "modality",
    "location",
    "pitch",
    "stimulus",
    "cue_trial",
    "target",
    "condition",
    "direction",
    "coherence",
    "signed_coherence",
)
MAX_CONDITION_LEVELS = 24


def resolve_config(config: FitConfig, ds: xr.Dataset) -> FitConfig:
    """Validate ``config`` for ``ds``; return it with automatic choices made explicit.

    Parameters
    ----------
    config : FitConfig
        Requested configuration.
    ds : xr.Dataset
        Canonical dataset (validated here).

    Returns
    -------
    FitConfig
        With ``obs``, ``inputs`` and ``conditions`` resolved. For task datasets (``targets``)
        ``obs`` becomes the dataset's ``task_loss`` and ``init_state="data"`` becomes
        ``"learned"`` (task targets cannot be inverted into a latent state).

    Raises
    ------
    ConfigError
        Poisson model on continuous data, identity readout with fewer latents than units,
        unknown inputs / conditions / behaviour label, CUDA requested but unavailable; for
        task datasets also a mismatching ``obs``, teacher forcing or a behaviour head.
    DataValidationError
        The dataset is not canonical, or has no usable inputs although the config uses them.

    Examples
    --------
    >>> from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    >>> ds = simulate_stimulus_selection(n_trials=100, n_units=4, seed=0, lfp=False)
    >>> cfg = resolve_config(FitConfig(), ds)
    >>> cfg.obs, cfg.conditions
    ('poisson', ('cue_trial', 'location', 'pitch', 'rule', 'target'))
    """
    validate_dataset(ds)
    kind = observation_variable(ds)
    if kind == "targets":
        return _resolve_task(config, ds)
    obs = config.obs
    if obs in TASK_LOSSES:
        raise ConfigError(
            f"obs={obs!r} is a task readout, but the dataset holds recordings ('{kind}'); "
            "fix: --obs auto (or poisson / gaussian / identity)"
        )
    if obs == "auto":
        obs = "poisson" if kind == "spikes" else "gaussian"
    if obs == "poisson" and kind != "spikes":
        raise ConfigError(
            f"obs='poisson' needs spike counts, but the dataset holds continuous '{kind}'; "
            "fix: use --obs gaussian (or identity), or store counts as 'spikes'"
        )
    n_units = ds.sizes["unit"]
    if obs == "identity" and config.latent_dim < n_units:
        raise ConfigError(
            f"obs='identity' reads the first {n_units} latents, but latent_dim="
            f"{config.latent_dim}; fix: --latent-dim >= {n_units} or --obs gaussian"
        )
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device='cuda' but torch.cuda.is_available() is False on this machine; "
            "fix: --device cpu"
        )
    _check_behaviour(config, ds)
    _check_init_epochs(config, ds)
    shortest = int(ds["valid"].values.sum(axis=1).min()) if ds.sizes["trial"] else 0
    if config.init_state == "data" and shortest <= config.init_bins:
        smaller = shortest // 3 if shortest // 3 >= 1 else None
        raise ConfigError(
            f"init_bins={config.init_bins} leaves nothing to predict in the shortest trial "
            f"({shortest} valid bins); fix: "
            + (f"a smaller --init-bins (e.g. {smaller}; TOML init_bins) or " if smaller else "")
            + "--init-state learned"
            + ("" if smaller else " (or leave out the trials with under 2 valid bins)")
        )
    return config.replace(
        obs=obs, inputs=_resolve_inputs(config, ds), conditions=_resolve_conditions(config, ds)
    )


def _resolve_task(config: FitConfig, ds: xr.Dataset) -> FitConfig:
    """Task datasets: the task loss as readout, a learned z0, no forcing or choice head."""
    task_loss = str(ds.attrs.get("task_loss", ""))
    if config.obs not in ("auto", task_loss):
        raise ConfigError(
            f"obs={config.obs!r} does not fit this task dataset (task_loss={task_loss!r}); "
            f"fix: --obs auto or --obs {task_loss}"
        )
    if config.tf_interval > 0:
        raise ConfigError(
            f"tf_interval={config.tf_interval}: teacher forcing needs latent states inferred "
            "from recordings, which task targets do not give; fix: --tf-interval 0"
        )
    if config.behaviour:
        raise ConfigError(
            "behaviour=True: task datasets are scored by their own readout (targets on "
            "loss_mask steps), not by a choice head; fix: --no-behaviour"
        )
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device='cuda' but torch.cuda.is_available() is False on this machine; "
            "fix: --device cpu"
        )
    init_state = "learned" if config.init_state == "data" else config.init_state
    return config.replace(
        obs=task_loss,
        init_state=init_state,
        inputs=_resolve_inputs(config, ds),
        conditions=_resolve_conditions(config, ds),
    )


def _resolve_inputs(config: FitConfig, ds: xr.Dataset) -> tuple[str, ...]:
    available = [str(v) for v in ds["input"].values] if "input" in ds.coords else []
    requested = list(config.inputs)
    if not requested:
        return ()
    if requested == ["all"]:
        requested = available
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ConfigError(
            f"inputs={list(config.inputs)} names channels {unknown} that the dataset lacks; "
            f"fix: --inputs with some of {available} (TOML inputs = [...]), or --inputs none "
            "(inputs = []) for an autonomous model"
        )
    valid = ds["valid"].values.astype(bool)
    values = ds["inputs"].sel(input=requested).values[valid] if requested else np.zeros(0)
    if not requested or not np.any(values != 0):
        raise DataValidationError(
            f"the config uses task inputs (inputs={list(config.inputs)}) but the dataset's "
            f"'inputs' {'are all zero' if requested else 'have no channels'}; fix: add the "
            "task inputs (make_dataset(inputs=...)) or fit an autonomous model with --inputs none "
            "(TOML inputs = [])"
        )
    return tuple(requested)


def _resolve_conditions(config: FitConfig, ds: xr.Dataset) -> tuple[str, ...]:
    trial_coords = sorted(str(n) for n, c in ds.coords.items() if c.dims == ("trial",))
    if config.conditions:
        unknown = [name for name in config.conditions if name not in trial_coords]
        if unknown:
            raise ConfigError(
                f"conditions={list(config.conditions)} names {unknown}, which are not trial "
                f"coords; fix: --conditions with some of {trial_coords} (TOML conditions), or "
                "--conditions auto"
            )
        return tuple(config.conditions)
    return tuple(
        name
        for name in trial_coords
        if name in CONDITION_NAMES
        and 2 <= np.unique(ds[name].values.astype(str)).size <= MAX_CONDITION_LEVELS
    )


def _check_behaviour(config: FitConfig, ds: xr.Dataset) -> None:
    if not config.behaviour:
        return
    label = config.behaviour_label
    if label not in ds.coords or ds[label].dims != ("trial",):
        trial_coords = sorted(str(n) for n, c in ds.coords.items() if c.dims == ("trial",))
        raise ConfigError(
            f"behaviour_label={label!r} is not a trial coord; fix: --behaviour-label with one of "
            f"{trial_coords}, or --no-behaviour"
        )
    levels = {str(v) for v in ds[label].values.astype(str) if v not in ("", "nan", "None")}
    values = ds[label].values
    fractional = values.dtype.kind == "f" and bool(
        np.any(np.isfinite(values) & (values != np.round(values)))
    )
    if label == "trial" or fractional or len(levels) > MAX_CONDITION_LEVELS:
        why = "the trial id" if label == "trial" else f"{len(levels)} distinct values"
        raise ConfigError(
            f"behaviour_label={label!r} is not a categorical label ({why}"
            f"{', not whole numbers' if fractional else ''}): the choice head would treat every "
            f"value as a class; fix: --behaviour-label with a categorical trial coord of at "
            f"most {MAX_CONDITION_LEVELS} classes (e.g. choice), or --no-behaviour"
        )
    if len(levels) < 2:
        raise ConfigError(
            f"behaviour_label={label!r} has {len(levels)} class(es) {sorted(levels)}; fix: "
            "--behaviour-label with at least 2 classes, or --no-behaviour"
        )
    epoch = config.behaviour_epoch
    if epoch and epoch not in set(ds["epoch"].values[ds["valid"].values].astype(str)):
        labels = sorted({str(e) for e in ds["epoch"].values[ds["valid"].values]})
        raise ConfigError(
            f"behaviour_epoch={epoch!r} is not an epoch label of the dataset; fix: "
            f"--behaviour-epoch with one of {labels}, or '' for the last step of each trial"
        )


def _check_init_epochs(config: FitConfig, ds: xr.Dataset) -> None:
    """``init_epochs`` must name epochs of the dataset, and leave z0 bins in some trial."""
    if not config.init_epochs or config.init_state != "data":
        return
    have = sorted({str(e) for e in np.unique(ds["epoch"].values) if str(e)})
    unknown = [e for e in config.init_epochs if e not in have]
    if unknown:
        raise ConfigError(
            f"init_epochs={list(config.init_epochs)} names epochs {unknown} the dataset lacks; "
            f"fix: --init-epochs with some of {have} (e.g. the inter-trial epoch), or "
            "--init-epochs none (TOML init_epochs = [])"
        )

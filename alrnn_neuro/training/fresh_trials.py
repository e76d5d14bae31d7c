"""Fresh training trials every epoch, drawn from the task that made the dataset.

The AL-RNN study trains its task-suite models on 5,000 newly drawn trials in every epoch
(Brenner & Koppe, TMLR 2026). With ``FitConfig.fresh_trials = n`` a fit does the same: in
epoch ``e`` it trains on ``make_task(name, n_trials=n, seed=epoch_seed(config.seed, e),
variant=..., **params)``, the recipe read from the dataset's ``attrs["make_task"]`` (written
by :func:`~alrnn_neuro.simulate.tasks.make_task`). Validation and test trials stay the
dataset's own, so early stopping and the reported metrics see fixed trials.

The stream depends only on ``(config.seed, epoch)``: two fits with one seed train on the
same trials, every member of an ensemble (whose data seed is ``config.seed``) sees the same
trials, and a resumed fit continues the stream where it stopped. Fresh trials are padded to
the dataset's time length (the study's suite pads its trials too); a draw longer than that
is an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import RECIPE_ATTR, epoch_seed, make_task, pad_time
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.config import FitConfig


def task_recipe(ds: xr.Dataset) -> dict[str, Any]:
    """How ``ds`` was generated: ``{"name", "variant", "n_trials", "seed", "params"}``.

    Raises
    ------
    ConfigError
        If ``ds`` does not record a :func:`make_task` call (``fresh_trials`` needs one).
    """
    text = ds.attrs.get(RECIPE_ATTR)
    if not text:
        raise ConfigError(
            f"fresh_trials needs a dataset that records how to draw more trials "
            f"(attrs[{RECIPE_ATTR!r}]), but this one has none (task={ds.attrs.get('task')!r}); "
            "fix: generate it with alrnn_neuro.simulate.tasks.make_task(...), or set "
            "fresh_trials=0 (flag --fresh-trials 0) to train on its own trials"
        )
    try:
        recipe = json.loads(str(text))
        recipe["params"] = dict(recipe.get("params", {}))
        missing = [k for k in ("name", "variant") if k not in recipe]
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(
            f"attrs[{RECIPE_ATTR!r}]={str(text)[:80]!r} is not a make_task record ({error}); "
            "fix: regenerate the dataset with make_task, or set fresh_trials=0"
        ) from None
    if missing:
        raise ConfigError(
            f"attrs[{RECIPE_ATTR!r}] lacks {missing}; fix: regenerate the dataset with "
            "make_task, or set fresh_trials=0"
        )
    return recipe


def fresh_trial_source(
    ds: xr.Dataset,
    config: FitConfig,
    to_tensors: Callable[[xr.Dataset], TrialTensors],
) -> Callable[[int], TrialTensors] | None:
    """The training trials of each epoch, or None when ``config.fresh_trials`` is 0.

    Parameters
    ----------
    ds : xr.Dataset
        The task dataset of the fit (made by ``make_task``).
    config : FitConfig
        Resolved configuration: ``fresh_trials`` (trials per draw, ``make_task``'s
        ``n_trials``) and ``seed`` (the stream's seed; an ensemble's data seed).
    to_tensors : callable
        Turns a dataset into the fit's tensors (input selection, device), as for ``ds``.

    Returns
    -------
    callable or None
        ``source(epoch) -> TrialTensors`` of ``epoch``'s fresh trials.

    Raises
    ------
    ConfigError
        If ``ds`` cannot be regenerated (see :func:`task_recipe`) or a draw does not fit it.
    """
    if not config.fresh_trials:
        return None
    recipe = task_recipe(ds)
    n_time = int(ds.sizes["time"])

    def draw(epoch: int) -> xr.Dataset:
        fresh = make_task(
            recipe["name"],
            n_trials=config.fresh_trials,
            seed=epoch_seed(config.seed, epoch),
            variant=recipe["variant"],
            **recipe["params"],
        )
        check_compatible(fresh, ds)
        return pad_time(fresh, n_time)

    # drawn now so that a recipe that does not fit fails before training; used in epoch 0
    first = {0: draw(0)}

    def source(epoch: int) -> TrialTensors:
        return to_tensors(first.pop(epoch) if epoch in first else draw(epoch))

    return source


def check_compatible(fresh: xr.Dataset, ds: xr.Dataset) -> None:
    """Raise :class:`ConfigError` unless ``fresh`` has ``ds``'s inputs, outputs and at most
    its number of time steps."""
    problems = []
    for dim in ("input", "output"):
        if dim in ds.dims and list(fresh[dim].values) != list(ds[dim].values):
            problems.append(f"{dim} {list(fresh[dim].values)} vs {list(ds[dim].values)}")
    if fresh.sizes["time"] > ds.sizes["time"]:
        problems.append(f"{fresh.sizes['time']} time steps vs the dataset's {ds.sizes['time']}")
    if problems:
        raise ConfigError(
            f"fresh trials from attrs[{RECIPE_ATTR!r}] do not fit the dataset ("
            + "; ".join(problems)
            + "); fix: fit the dataset exactly as make_task returned it, or fresh_trials=0"
        )

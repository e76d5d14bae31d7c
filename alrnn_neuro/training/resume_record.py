"""What a resume with changed settings does to a run, and how the run records it.

``fit --resume`` may change :data:`~alrnn_neuro.training.rundir.RESUMABLE_KEYS` (epochs,
patience, lr, ...): they do not change what was learned so far, but they change what comes
next, and the learning-rate schedule and the teacher-forcing anneal run over ``epochs``. A run
resumed from 5 to 10 epochs is therefore not the run a fresh 10-epoch fit makes (its learning
rate decayed on the 5-epoch schedule first). ``config.json`` holds the settings in force at the
end, so it alone no longer reproduces such a run: :func:`record_resume` appends each change to
its ``"resumed"`` list (after which epoch, what changed) and logs a warning. Changes that cannot
take effect are refused or acted on here: fewer ``epochs`` than already trained is an error; a
longer ``patience`` (or 0, off) continues a run that had stopped early.
"""

from __future__ import annotations

import logging
from typing import Any

from alrnn_neuro.errors import RunDirError
from alrnn_neuro.training.checkpoint import TrainState
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.rundir import RESUMABLE_KEYS

logger = logging.getLogger(__name__)

#: key of ``config.json`` listing the resumes that changed settings
RESUMED = "resumed"


def setting_changes(old: dict[str, Any], config: FitConfig) -> dict[str, list[Any]]:
    """``{key: [before, now]}`` for the resumable settings a resume changes."""
    before = {**FitConfig().to_dict(), **old.get("config", {})}
    now = config.to_dict()
    return {k: [before.get(k), now[k]] for k in RESUMABLE_KEYS if before.get(k) != now[k]}


def record_resume(
    record: dict[str, Any], old: dict[str, Any], config: FitConfig, state: TrainState, run
) -> None:
    """Check a resume of ``run`` with ``config`` after ``state.epoch`` epochs; carry the
    run's earlier resumes into ``record`` and append this one if it changes settings.

    Raises
    ------
    RunDirError
        If ``config.epochs`` is below the epochs already trained.
    """
    record[RESUMED] = list(old.get(RESUMED, []))
    changes = setting_changes(old, config)
    if not changes:
        return
    if config.epochs < state.epoch:
        raise RunDirError(
            f"cannot resume {run} with epochs={config.epochs}: it has trained {state.epoch} "
            f"epochs already; fix: --epochs {state.epoch} or more, or --overwrite to start again"
        )
    old_patience = changes.get("patience", [config.patience])[0]
    if state.stop_reason == "early_stopping" and "patience" in changes:
        if config.patience == 0 or config.patience > old_patience:
            state.stop_reason = ""  # the longer patience has not run out: go on
    if state.stop_reason and not (state.stop_reason == "max_epochs" and "epochs" in changes):
        raise RunDirError(
            f"cannot resume {run} with {_describe(changes)}: it stopped ({state.stop_reason}) "
            f"after epoch {state.epoch}, so it would train nothing more; fix: drop the changed "
            "flags to load it, a longer --patience (or more --epochs) to go on, or --overwrite"
        )
    record[RESUMED].append({"after_epoch": state.epoch, "changed": changes})
    logger.warning(
        "resuming %s after epoch %d with %s: the learning-rate schedule and teacher forcing "
        "follow the new settings from here, so the result differs from a fresh fit with them "
        "(config.json lists this under %r)",
        run,
        state.epoch,
        _describe(changes),
        RESUMED,
    )


def _describe(changes: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())

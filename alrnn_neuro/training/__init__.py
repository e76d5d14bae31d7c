"""Training: fit an AL-RNN (or a baseline) to a canonical dataset and keep a run directory.

Notebook use::

    from alrnn_neuro.training import FitConfig, fit, load_run
    result = fit(ds, FitConfig(latent_dim=6, pwl_units=2), out="runs/demo")
    result.metrics["test"]["bits_per_spike"], result.latents["bitcode"]
"""

import importlib
from typing import Any

_EXPORTS = {
    "ALRNN": "alrnn_neuro.training.estimator",
    "FitConfig": "alrnn_neuro.training.config",
    "FitModel": "alrnn_neuro.training.network",
    "FitResult": "alrnn_neuro.training.result",
    "TrainingDivergedError": "alrnn_neuro.training.loop",
    "fit": "alrnn_neuro.training.api",
    "fit_ensemble": "alrnn_neuro.training.ensemble",
    "initial_fit": "alrnn_neuro.training.api",
    "initial_model": "alrnn_neuro.training.api",
    "load_run": "alrnn_neuro.training.api",
    "mar_penalty": "alrnn_neuro.training.regularizers",
    "simulate_model": "alrnn_neuro.training.simulation",
    "study_dataset": "alrnn_neuro.training.study",
    "study_fit_config": "alrnn_neuro.training.study",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # resolved on first use, so the CLI can read run files without importing torch
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alrnn_neuro.training' has no attribute {name!r}")

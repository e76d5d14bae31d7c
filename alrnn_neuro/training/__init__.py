"""Training: fit an AL-RNN (or a baseline) to a canonical dataset and keep a run directory.

Notebook use::

    from alrnn_neuro.training import FitConfig, fit, load_run
    result = fit(ds, FitConfig(latent_dim=6, pwl_units=2), out="runs/demo")
    result.metrics["test"]["bits_per_spike"], result.latents["bitcode"]
"""

from alrnn_neuro.training.api import FitResult as FitResult
from alrnn_neuro.training.api import fit as fit
from alrnn_neuro.training.api import load_run as load_run
from alrnn_neuro.training.api import simulate_model as simulate_model
from alrnn_neuro.training.config import FitConfig as FitConfig
from alrnn_neuro.training.loop import TrainingDivergedError as TrainingDivergedError
from alrnn_neuro.training.network import FitModel as FitModel
from alrnn_neuro.training.regularizers import mar_penalty as mar_penalty

__all__ = [
    "FitConfig",
    "FitModel",
    "FitResult",
    "TrainingDivergedError",
    "fit",
    "load_run",
    "mar_penalty",
    "simulate_model",
]

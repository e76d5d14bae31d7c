"""alrnn-neuro: Almost-Linear RNNs for neural recordings of stimulus-selection tasks.

The public API, re-exported here on purpose (names resolve on first use, so that
``import alrnn_neuro`` and the CLI's data commands do not pay for importing torch)::

    from alrnn_neuro import load_dataset, fit, FitConfig
    ds = load_dataset("datasets/stimulus_selection_demo.h5")
    result = fit(ds, FitConfig(latent_dim=6, pwl_units=2, epochs=50))

or, scikit-learn style (``ALRNN`` is the estimator; the torch module of one AL-RNN step is
:class:`alrnn_neuro.models.ALRNN`)::

    from alrnn_neuro import ALRNN
    latents = ALRNN(latent_dim=6, pwl_units=2).fit(ds).transform(ds)
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("alrnn-neuro")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    # data model and adapters
    "make_dataset": "alrnn_neuro.data.schema",
    "validate_dataset": "alrnn_neuro.data.schema",
    "load_dataset": "alrnn_neuro.data.h5",
    "save_dataset": "alrnn_neuro.data.h5",
    "summarize_dataset": "alrnn_neuro.data.summary",
    "split_trials": "alrnn_neuro.data.split",
    "bin_spike_times": "alrnn_neuro.data.events",
    "read_event_tables": "alrnn_neuro.data.event_files",
    "read_nwb": "alrnn_neuro.data.nwb",
    "write_nwb": "alrnn_neuro.data.nwb",
    "load_mat": "alrnn_neuro.data.matlab",
    "convert_roitman_fd": "alrnn_neuro.data.roitman",
    "read_study_pfc1": "alrnn_neuro.data.study_pfc1",
    "read_crcns_pfc1": "alrnn_neuro.data.crcns_pfc1",
    "lfp_band_amplitudes": "alrnn_neuro.data.lfp",
    # simulators
    "simulate_stimulus_selection": "alrnn_neuro.simulate.stimulus_selection",
    "make_task": "alrnn_neuro.simulate.tasks",
    # models and training (the torch module of one AL-RNN step is alrnn_neuro.models.ALRNN)
    "ALRNNParams": "alrnn_neuro.models.params",
    "make_model": "alrnn_neuro.models.baselines",
    "FitConfig": "alrnn_neuro.training.config",
    "FitModel": "alrnn_neuro.training.network",
    "FitResult": "alrnn_neuro.training.api",
    "ALRNN": "alrnn_neuro.training.estimator",
    "fit": "alrnn_neuro.training.api",
    "load_run": "alrnn_neuro.training.api",
    "simulate_model": "alrnn_neuro.training.simulation",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alrnn_neuro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

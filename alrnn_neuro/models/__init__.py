"""Latent dynamics models and observation models.

- :class:`ALRNNParams` (``params.py``): one AL-RNN's parameters as an immutable record, with
  its bitcode, regions and region Jacobians; numpy only, the one implementation of each.
- :class:`ALRNN`: the trainable Almost-Linear RNN (one step, whole sequences with a fast
  hand-written BPTT engine, closed-form Jacobians); ``model.params()`` gives its record.
- :func:`alrnn_scan`: the fast whole-sequence recurrence itself (``engine.py``).
- Baselines :class:`RNNBaseline` (tanh RNN, GRU, LSTM) and the :func:`make_model` factory.
- Observation models: :class:`PoissonReadout`, :class:`GaussianReadout`,
  :class:`IdentityReadout`, :class:`ChoiceHead`.

Names resolve on first use, so ``alrnn_neuro.models.params`` (and analyses of saved runs)
do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ALRNNParams": "alrnn_neuro.models.params",
    "MAX_ENUMERATED_PWL": "alrnn_neuro.models.params",
    "bitcode": "alrnn_neuro.models.params",
    "code_bits": "alrnn_neuro.models.params",
    "ALRNN": "alrnn_neuro.models.alrnn",
    "check_dims": "alrnn_neuro.models.alrnn",
    "MODEL_NAMES": "alrnn_neuro.models.baselines",
    "RNNBaseline": "alrnn_neuro.models.baselines",
    "make_model": "alrnn_neuro.models.baselines",
    "alrnn_scan": "alrnn_neuro.models.engine",
    "plain_scan": "alrnn_neuro.models.engine",
    "ChoiceHead": "alrnn_neuro.models.observation",
    "GaussianReadout": "alrnn_neuro.models.observation",
    "IdentityReadout": "alrnn_neuro.models.observation",
    "PoissonReadout": "alrnn_neuro.models.observation",
    "smooth_time": "alrnn_neuro.models.observation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alrnn_neuro.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

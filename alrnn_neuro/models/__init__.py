"""Latent dynamics models and observation models.

- :class:`ALRNN`: the Almost-Linear RNN (one step, whole sequences with a fast hand-written
  BPTT engine, Jacobians, linear regions and their bitcodes).
- :func:`alrnn_scan`: the fast whole-sequence recurrence itself (``engine.py``).
- Baselines :class:`RNNBaseline` (tanh RNN, GRU, LSTM) and the :func:`make_model` factory.
- Observation models: :class:`PoissonReadout`, :class:`GaussianReadout`,
  :class:`IdentityReadout`, :class:`ChoiceHead`.
"""

from alrnn_neuro.models.alrnn import ALRNN as ALRNN
from alrnn_neuro.models.alrnn import check_dims as check_dims
from alrnn_neuro.models.baselines import MODEL_NAMES as MODEL_NAMES
from alrnn_neuro.models.baselines import RNNBaseline as RNNBaseline
from alrnn_neuro.models.baselines import make_model as make_model
from alrnn_neuro.models.engine import alrnn_scan as alrnn_scan
from alrnn_neuro.models.engine import plain_scan as plain_scan
from alrnn_neuro.models.observation import ChoiceHead as ChoiceHead
from alrnn_neuro.models.observation import GaussianReadout as GaussianReadout
from alrnn_neuro.models.observation import IdentityReadout as IdentityReadout
from alrnn_neuro.models.observation import PoissonReadout as PoissonReadout
from alrnn_neuro.models.observation import smooth_time as smooth_time

__all__ = [
    "ALRNN",
    "MODEL_NAMES",
    "ChoiceHead",
    "GaussianReadout",
    "IdentityReadout",
    "PoissonReadout",
    "RNNBaseline",
    "alrnn_scan",
    "check_dims",
    "make_model",
    "plain_scan",
    "smooth_time",
]

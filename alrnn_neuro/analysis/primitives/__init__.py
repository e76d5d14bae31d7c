"""Computational primitives read off the piecewise-linear structure of a fitted AL-RNN.

Each detector takes the model's :class:`~alrnn_neuro.models.params.ALRNNParams` and the run's
(trial, time) bitcode and returns a :class:`pandas.DataFrame`, one row per candidate (epoch,
condition, region, input) with a boolean ``detected`` and the evidence numbers; operational
definitions are in each function's docstring.

================== =================================================================
module             detectors
================== =================================================================
``integration``    slow modes carrying an input (and the input-free slow-mode test)
``gating``         input onsets that flip the region and change an input's gain
``trial_decoding`` rule-based integration, memory-dependent transients
``table``          :func:`detect_primitives`: every applicable detector, one table
``common``         shared helpers (steps, active epochs, condition levels)
================== =================================================================
"""

from alrnn_neuro.analysis.primitives.gating import detect_gating as detect_gating
from alrnn_neuro.analysis.primitives.integration import detect_integration as detect_integration
from alrnn_neuro.analysis.primitives.integration import detect_slow_modes as detect_slow_modes
from alrnn_neuro.analysis.primitives.integration import integrating_modes as integrating_modes
from alrnn_neuro.analysis.primitives.integration import mode_kind as mode_kind
from alrnn_neuro.analysis.primitives.table import detect_primitives as detect_primitives
from alrnn_neuro.analysis.primitives.table import skipped_detectors as skipped_detectors
from alrnn_neuro.analysis.primitives.table import to_records as to_records
from alrnn_neuro.analysis.primitives.trial_decoding import (
    decode_with_null as decode_with_null,
)
from alrnn_neuro.analysis.primitives.trial_decoding import (
    detect_memory_transients as detect_memory_transients,
)
from alrnn_neuro.analysis.primitives.trial_decoding import (
    detect_rule_integration as detect_rule_integration,
)
from alrnn_neuro.analysis.primitives.trial_decoding import (
    loo_centroid_accuracy as loo_centroid_accuracy,
)

__all__ = [
    "decode_with_null",
    "detect_gating",
    "detect_integration",
    "detect_memory_transients",
    "detect_primitives",
    "detect_rule_integration",
    "detect_slow_modes",
    "integrating_modes",
    "loo_centroid_accuracy",
    "mode_kind",
    "skipped_detectors",
    "to_records",
]

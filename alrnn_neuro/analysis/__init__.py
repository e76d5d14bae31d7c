"""Analyses of fitted AL-RNNs: regime usage, alignment with the task, exact dynamics, primitives.

Plain functions on the model's :class:`~alrnn_neuro.models.params.ALRNNParams` (build it with
``ALRNNParams.from_model(fit)`` or ``fit.params``) and xarray objects (the ``bitcode`` /
``valid`` / ``epoch`` (trial, time) arrays of a run's ``latents.nc``, the dataset's
``inputs``). Results are labelled xarray objects or pandas tables.

=========================  ===============================================================
module                     content
=========================  ===============================================================
``pipeline``               :func:`analyze_run`: a run end to end
``files``                  writing ``analyze``'s files, loading a run and its inputs
``summary``                short facts for people (top regions, primitives, cycles, gates)
``regimes``                bitcodes, region usage, dwell times, transitions, bit flips,
                           where the nonlinearity is used
``alignment``              region x epoch / condition tables, AMI alignment scores with
                           nulls, switch latencies, per-epoch transition graphs
``dynamics``               per-region spectra, stability, fixed points
``cycles``                 period-k cycles (exhaustive or SCYFI), per-epoch cycle tables
``primitives``             integration, gating, rule-based integration, memory transients
``routing``                rule-set routing of stimulus features, slow hold mode
``checks``                 input checks, epoch mean inputs
``multitask``              per-task region usage and sharing measures
``rsa``                    representational similarity analysis
=========================  ===============================================================
"""

from alrnn_neuro.analysis.alignment import alignment_scores as alignment_scores
from alrnn_neuro.analysis.alignment import epoch_transition_graphs as epoch_transition_graphs
from alrnn_neuro.analysis.alignment import latency_by_condition as latency_by_condition
from alrnn_neuro.analysis.alignment import region_condition_table as region_condition_table
from alrnn_neuro.analysis.alignment import region_epoch_table as region_epoch_table
from alrnn_neuro.analysis.alignment import switch_latency as switch_latency
from alrnn_neuro.analysis.checks import epoch_mean_inputs as epoch_mean_inputs
from alrnn_neuro.analysis.cycles import Cycle as Cycle
from alrnn_neuro.analysis.cycles import CycleSearch as CycleSearch
from alrnn_neuro.analysis.cycles import cycle_dataset as cycle_dataset
from alrnn_neuro.analysis.cycles import find_cycles as find_cycles
from alrnn_neuro.analysis.dynamics import classify_stability as classify_stability
from alrnn_neuro.analysis.dynamics import fixed_points as fixed_points
from alrnn_neuro.analysis.dynamics import region_dynamics as region_dynamics
from alrnn_neuro.analysis.files import write_analysis as write_analysis
from alrnn_neuro.analysis.pipeline import AnalysisResult as AnalysisResult
from alrnn_neuro.analysis.pipeline import analyze_run as analyze_run
from alrnn_neuro.analysis.primitives import detect_gating as detect_gating
from alrnn_neuro.analysis.primitives import detect_integration as detect_integration
from alrnn_neuro.analysis.primitives import detect_memory_transients as detect_memory_transients
from alrnn_neuro.analysis.primitives import detect_primitives as detect_primitives
from alrnn_neuro.analysis.primitives import detect_rule_integration as detect_rule_integration
from alrnn_neuro.analysis.primitives import detect_slow_modes as detect_slow_modes
from alrnn_neuro.analysis.primitives import integrating_modes as integrating_modes
from alrnn_neuro.analysis.primitives import loo_centroid_accuracy as loo_centroid_accuracy
from alrnn_neuro.analysis.primitives import to_records as to_records
from alrnn_neuro.analysis.regimes import bit_flips as bit_flips
from alrnn_neuro.analysis.regimes import bitcode_from_latents as bitcode_from_latents
from alrnn_neuro.analysis.regimes import dwell_times as dwell_times
from alrnn_neuro.analysis.regimes import nonlinearity_usage as nonlinearity_usage
from alrnn_neuro.analysis.regimes import region_usage as region_usage
from alrnn_neuro.analysis.regimes import transition_matrix as transition_matrix
from alrnn_neuro.analysis.routing import hold_mode as hold_mode
from alrnn_neuro.analysis.routing import rule_routing as rule_routing
from alrnn_neuro.models.params import ALRNNParams as ALRNNParams

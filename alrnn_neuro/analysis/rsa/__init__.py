"""Representational similarity analysis: model latents vs recorded populations.

Pure functions on xarray objects, with one vocabulary: ``by`` (segments: epoch, time, window,
region), ``distance`` (how an RDM is made) and ``compare`` (how two RDMs are compared).

1. :func:`condition_labels` + :func:`trial_patterns` (per epoch / time bin / window / model
   regime, valid steps and observed units only) -> :func:`compute_rdm`, or all three in one
   call with :func:`compute_rdms` -> RDMs with dims (..., condition, condition2);
   pseudo-populations pair by pair over the units observed in both conditions.
2. :func:`compare_rdms` / :func:`cross_compare` (Spearman, Kendall tau-a, Pearson, cosine,
   debiased or biased linear CKA), :func:`linear_cka` on patterns.
3. :func:`rsa_table`: permutation p-values, bootstrap CIs, Holm/FDR correction, the noise
   ceiling (:func:`noise_ceiling`, lower <= upper) and the model's place against it.
4. :func:`distance_test`: two-condition questions (a cross-validated distance vs zero).
5. :func:`select_trials` / :func:`after_init_bins`: held-out trials only, no bins that
   inferred the model's initial state (used by :func:`~.pipeline.run_rsa`).
6. :func:`run_rsa`: all of it for a fitted run against its recordings (``rsa.nc``/``rsa.json``).
7. :func:`to_rsatoolbox` / :func:`from_rsatoolbox` (rsatoolbox is imported lazily).
"""

from alrnn_neuro.analysis.rsa.ceiling import noise_ceiling as noise_ceiling
from alrnn_neuro.analysis.rsa.compare import COMPARE_ALIASES as COMPARE_ALIASES
from alrnn_neuro.analysis.rsa.compare import COMPARISONS as COMPARISONS
from alrnn_neuro.analysis.rsa.compare import compare_matrices as compare_matrices
from alrnn_neuro.analysis.rsa.compare import compare_rdms as compare_rdms
from alrnn_neuro.analysis.rsa.compare import compare_vectors as compare_vectors
from alrnn_neuro.analysis.rsa.compare import cross_compare as cross_compare
from alrnn_neuro.analysis.rsa.compare import kendall_tau_a as kendall_tau_a
from alrnn_neuro.analysis.rsa.compare import linear_cka as linear_cka
from alrnn_neuro.analysis.rsa.compare import rdm_vector as rdm_vector
from alrnn_neuro.analysis.rsa.conditions import BY as BY
from alrnn_neuro.analysis.rsa.conditions import check_same_trials as check_same_trials
from alrnn_neuro.analysis.rsa.conditions import condition_labels as condition_labels
from alrnn_neuro.analysis.rsa.conditions import trial_patterns as trial_patterns
from alrnn_neuro.analysis.rsa.distance_test import distance_test as distance_test
from alrnn_neuro.analysis.rsa.inference import bootstrap_conditions as bootstrap_conditions
from alrnn_neuro.analysis.rsa.inference import bootstrap_units as bootstrap_units
from alrnn_neuro.analysis.rsa.inference import correct_pvalues as correct_pvalues
from alrnn_neuro.analysis.rsa.inference import permutation_null as permutation_null
from alrnn_neuro.analysis.rsa.inference import permutation_pvalue as permutation_pvalue
from alrnn_neuro.analysis.rsa.noise import noise_covariance as noise_covariance
from alrnn_neuro.analysis.rsa.noise import noise_precision as noise_precision
from alrnn_neuro.analysis.rsa.pipeline import run_rsa as run_rsa
from alrnn_neuro.analysis.rsa.rdm import DISTANCES as DISTANCES
from alrnn_neuro.analysis.rsa.rdm import MIN_UNITS as MIN_UNITS
from alrnn_neuro.analysis.rsa.rdm import compute_rdm as compute_rdm
from alrnn_neuro.analysis.rsa.rdm import compute_rdms as compute_rdms
from alrnn_neuro.analysis.rsa.rsatoolbox_io import from_rsatoolbox as from_rsatoolbox
from alrnn_neuro.analysis.rsa.rsatoolbox_io import to_rsatoolbox as to_rsatoolbox
from alrnn_neuro.analysis.rsa.rsatoolbox_io import to_rsatoolbox_dataset as to_rsatoolbox_dataset
from alrnn_neuro.analysis.rsa.selection import after_init_bins as after_init_bins
from alrnn_neuro.analysis.rsa.selection import init_bins_of as init_bins_of
from alrnn_neuro.analysis.rsa.selection import select_trials as select_trials
from alrnn_neuro.analysis.rsa.table import rsa_table as rsa_table

__all__ = [
    "BY",
    "COMPARE_ALIASES",
    "COMPARISONS",
    "DISTANCES",
    "MIN_UNITS",
    "after_init_bins",
    "bootstrap_conditions",
    "bootstrap_units",
    "check_same_trials",
    "compare_matrices",
    "compare_rdms",
    "compare_vectors",
    "compute_rdm",
    "compute_rdms",
    "condition_labels",
    "correct_pvalues",
    "cross_compare",
    "distance_test",
    "from_rsatoolbox",
    "init_bins_of",
    "kendall_tau_a",
    "linear_cka",
    "noise_ceiling",
    "noise_covariance",
    "noise_precision",
    "permutation_null",
    "permutation_pvalue",
    "rdm_vector",
    "rsa_table",
    "run_rsa",
    "select_trials",
    "to_rsatoolbox",
    "to_rsatoolbox_dataset",
    "trial_patterns",
]

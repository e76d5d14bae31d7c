"""Representational similarity analysis: model latents vs recorded populations.

Pure functions on xarray objects:

1. :func:`condition_labels` + :func:`trial_patterns` (per epoch / time bin / window / model
   regime, valid steps and observed units only) -> :func:`compute_rdm`, or all three in one
   call with :func:`compute_rdms` -> RDMs with dims (..., condition, condition2).
2. :func:`compare_rdms` / :func:`cross_compare` (Spearman, Kendall tau-a, Pearson, cosine,
   debiased or biased linear CKA), :func:`linear_cka` on patterns.
3. :func:`rsa_table`: permutation p-values, bootstrap CIs, noise ceiling, Holm/FDR correction.
4. :func:`to_rsatoolbox` / :func:`from_rsatoolbox` (rsatoolbox is imported lazily).
"""

from alrnn_neuro.analysis.rsa.compare import COMPARE_METHODS as COMPARE_METHODS
from alrnn_neuro.analysis.rsa.compare import compare_matrices as compare_matrices
from alrnn_neuro.analysis.rsa.compare import compare_rdms as compare_rdms
from alrnn_neuro.analysis.rsa.compare import compare_vectors as compare_vectors
from alrnn_neuro.analysis.rsa.compare import cross_compare as cross_compare
from alrnn_neuro.analysis.rsa.compare import kendall_tau_a as kendall_tau_a
from alrnn_neuro.analysis.rsa.compare import linear_cka as linear_cka
from alrnn_neuro.analysis.rsa.compare import rdm_vector as rdm_vector
from alrnn_neuro.analysis.rsa.conditions import check_same_trials as check_same_trials
from alrnn_neuro.analysis.rsa.conditions import condition_labels as condition_labels
from alrnn_neuro.analysis.rsa.conditions import trial_patterns as trial_patterns
from alrnn_neuro.analysis.rsa.inference import bootstrap_conditions as bootstrap_conditions
from alrnn_neuro.analysis.rsa.inference import bootstrap_units as bootstrap_units
from alrnn_neuro.analysis.rsa.inference import correct_pvalues as correct_pvalues
from alrnn_neuro.analysis.rsa.inference import noise_ceiling as noise_ceiling
from alrnn_neuro.analysis.rsa.inference import permutation_null as permutation_null
from alrnn_neuro.analysis.rsa.inference import permutation_pvalue as permutation_pvalue
from alrnn_neuro.analysis.rsa.noise import noise_covariance as noise_covariance
from alrnn_neuro.analysis.rsa.noise import noise_precision as noise_precision
from alrnn_neuro.analysis.rsa.rdm import METHODS as METHODS
from alrnn_neuro.analysis.rsa.rdm import compute_rdm as compute_rdm
from alrnn_neuro.analysis.rsa.rdm import compute_rdms as compute_rdms
from alrnn_neuro.analysis.rsa.rsatoolbox_io import from_rsatoolbox as from_rsatoolbox
from alrnn_neuro.analysis.rsa.rsatoolbox_io import to_rsatoolbox as to_rsatoolbox
from alrnn_neuro.analysis.rsa.rsatoolbox_io import to_rsatoolbox_dataset as to_rsatoolbox_dataset
from alrnn_neuro.analysis.rsa.table import rsa_table as rsa_table

__all__ = [
    "COMPARE_METHODS",
    "METHODS",
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
    "from_rsatoolbox",
    "kendall_tau_a",
    "linear_cka",
    "noise_ceiling",
    "noise_covariance",
    "noise_precision",
    "permutation_null",
    "permutation_pvalue",
    "rdm_vector",
    "rsa_table",
    "to_rsatoolbox",
    "to_rsatoolbox_dataset",
    "trial_patterns",
]

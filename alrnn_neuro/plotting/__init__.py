"""Figures of fitted runs (matplotlib only, Agg canvas; plotting lives apart from analysis).

=================  ==========================================================================
module             content
=================  ==========================================================================
``regimes``        trajectories in PC space by region, region x epoch heatmap, transition
                   graph, per-region eigenvalues with the unit circle, switch latencies
=================  ==========================================================================
"""

from alrnn_neuro.plotting.regimes import plot_analysis as plot_analysis
from alrnn_neuro.plotting.regimes import plot_eigenvalues as plot_eigenvalues
from alrnn_neuro.plotting.regimes import plot_region_epoch as plot_region_epoch
from alrnn_neuro.plotting.regimes import plot_switch_latency as plot_switch_latency
from alrnn_neuro.plotting.regimes import plot_trajectories as plot_trajectories
from alrnn_neuro.plotting.regimes import plot_transition_graph as plot_transition_graph
from alrnn_neuro.plotting.regimes import save_figure as save_figure

"""Figures of fitted runs (matplotlib only, Agg canvas; plotting lives apart from analysis).

Every ``plot_*`` takes ``ax=`` (one panel) or ``axes=`` (several) to draw into a layout of
the caller's, and returns the Figure.

=================  ==========================================================================
module             content
=================  ==========================================================================
``regimes``        trajectories in PC space by region, region x epoch heatmap, transition
                   graph, per-region eigenvalues with the unit circle, switch latencies
``rsa``            RDMs, MDS of the conditions, model-neural similarity per segment
``sweep``          performance and regions used vs P and training-set size, task panels
``multitask``      region sharing across tasks vs P, region usage per task
``selection``      held-out bits/spike per P and the selection verdict
``axes``           where a figure is drawn (new Agg figure or the caller's axes)
``labels``         non-overlapping point labels with leader lines
=================  ==========================================================================
"""

from alrnn_neuro.plotting.regimes import plot_analysis as plot_analysis
from alrnn_neuro.plotting.regimes import plot_eigenvalues as plot_eigenvalues
from alrnn_neuro.plotting.regimes import plot_region_epoch as plot_region_epoch
from alrnn_neuro.plotting.regimes import plot_switch_latency as plot_switch_latency
from alrnn_neuro.plotting.regimes import plot_trajectories as plot_trajectories
from alrnn_neuro.plotting.regimes import plot_transition_graph as plot_transition_graph
from alrnn_neuro.plotting.regimes import save_figure as save_figure

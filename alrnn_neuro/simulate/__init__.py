"""Simulators: the stimulus-selection task with known ground truth, and task generators.

- :func:`simulate_stimulus_selection`: rodent stimulus-selection task (after Rodgers & DeWeese
  2014) with mPFC-/A1-like Poisson units driven by a known generating system, chosen by name
  from :mod:`alrnn_neuro.simulate.generators` (default: the piecewise-linear ``"pwl"``; the
  controls ``"linear"`` and ``"no_routing"``; ``"softplus"``, ``"bilinear"`` and the trained
  ``"lstm"``, which are not AL-RNNs).
- :mod:`alrnn_neuro.simulate.tasks`: addition, copy, contextual integration, the 11-task suite
  (Yang et al. 2019) and stimulus selection at the behaviour level (:func:`make_task`).
"""

from alrnn_neuro.simulate.stimulus_selection import (
    simulate_stimulus_selection as simulate_stimulus_selection,
)
from alrnn_neuro.simulate.tasks import TASKS as TASKS
from alrnn_neuro.simulate.tasks import make_task as make_task

__all__ = ["TASKS", "make_task", "simulate_stimulus_selection"]

"""One-command reproductions of the study (``alrnn-neuro reproduce``).

``reproduce_stimulus_selection(out, settings="quick")`` and ``reproduce_tasks(out,
settings="quick")`` run every step into ``out`` and return the ``reproduce.json`` record; see
docs/reproduce.md for the folder layout and the settings.
"""

from alrnn_neuro.reproduce.settings import StimulusSettings as StimulusSettings
from alrnn_neuro.reproduce.settings import TaskSettings as TaskSettings
from alrnn_neuro.reproduce.settings import TaskSpec as TaskSpec
from alrnn_neuro.reproduce.stimulus import (
    reproduce_stimulus_selection as reproduce_stimulus_selection,
)
from alrnn_neuro.reproduce.tasks import reproduce_tasks as reproduce_tasks

__all__ = [
    "StimulusSettings",
    "TaskSettings",
    "TaskSpec",
    "reproduce_stimulus_selection",
    "reproduce_tasks",
]

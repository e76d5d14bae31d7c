"""Ground-truth generators of the stimulus-selection simulator, by name.

``simulate_stimulus_selection(..., generator=NAME)`` and
``alrnn-neuro simulate stimulus-selection --generator NAME``. Every generator writes the same
observable layout (Poisson spikes, the same inputs, epochs and trial labels) and records what
it is in the dataset attrs (``generator``, ``true_routing``, ``true_rule_memory``,
``true_nonlinearity``); docs/generators.md says which claim each one controls or tests.

==============  =========================================================================
``pwl``         the hand-designed AL-RNN (M = 7, P = 2) whose ReLU gates route the rule's
                feature to the choice (the default, and the demo dataset's generator)
``linear``      ``pwl`` with its gates made linear (true P = 0): control for
                "P = 0 is insufficient" and for routing
``no_routing``  ``pwl`` whose choice reads both features alike in both rules: control
                for rule-set routing (rule still held in a slow latent)
``softplus``    smooth softplus gates, rule in a recurrent memory (not an AL-RNN)
``bilinear``    multiplicative gating by a recurrent rule memory (not an AL-RNN)
``lstm``        an LSTM trained on the behavioural task (not an AL-RNN, solution unknown)
==============  =========================================================================
"""

from __future__ import annotations

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.generators.base import Generator, Simulation
from alrnn_neuro.simulate.generators.bilinear import BILINEAR
from alrnn_neuro.simulate.generators.lstm import LSTM
from alrnn_neuro.simulate.generators.pwl_family import LINEAR, NO_ROUTING_GENERATOR, PWL
from alrnn_neuro.simulate.generators.softplus import SOFTPLUS

DEFAULT_GENERATOR = "pwl"
GENERATORS: dict[str, Generator] = {
    g.name: g for g in (PWL, LINEAR, NO_ROUTING_GENERATOR, SOFTPLUS, BILINEAR, LSTM)
}
GENERATOR_NAMES = tuple(GENERATORS)


def get_generator(name: str) -> Generator:
    """The generator registered under ``name``.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> get_generator("linear").name
    'linear'
    """
    if not isinstance(name, str) or name not in GENERATORS:
        raise ConfigError(f"generator={name!r} is unknown; fix: one of {', '.join(GENERATORS)}")
    return GENERATORS[name]


__all__ = [
    "DEFAULT_GENERATOR",
    "GENERATORS",
    "GENERATOR_NAMES",
    "Generator",
    "Simulation",
    "get_generator",
]

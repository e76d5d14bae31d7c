"""Registry of CLI command groups: each group lives in its own module with a ``register(app)``."""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "alrnn_neuro.cli.info",
    "alrnn_neuro.cli.convert",
    "alrnn_neuro.cli.simulate",
    "alrnn_neuro.cli.fit",
    "alrnn_neuro.cli.analyze",
    "alrnn_neuro.cli.rsa",
    "alrnn_neuro.cli.sweep",
)


def register(app: typer.Typer) -> None:
    """Attach every available command module's commands to ``app``."""
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(app)

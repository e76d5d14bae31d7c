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
    "alrnn_neuro.cli.select",
    "alrnn_neuro.cli.report",
    "alrnn_neuro.cli.reproduce",
)


def register(app: typer.Typer) -> None:
    """Attach the commands of every module in :data:`COMMAND_MODULES` to ``app``."""
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)

"""The ``alrnn-neuro`` command line (see :mod:`alrnn_neuro.cli.app`)."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point: Ctrl-C while the app is still loading is one line too."""
    try:
        from alrnn_neuro.cli.app import main as run_app
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing was done\n")
        raise SystemExit(130) from None
    run_app()

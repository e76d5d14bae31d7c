"""The ``alrnn-neuro`` command line (see :mod:`alrnn_neuro.cli.app`)."""

from __future__ import annotations

import sys

#: exit code of a command that cannot run as invoked (usage errors, bad input, a broken install)
USAGE_EXIT = 2


def main() -> None:
    """Console-script entry point: Ctrl-C, or a dependency missing from the Python that runs
    the command, while the app is still loading is one line too (no traceback)."""
    try:
        from alrnn_neuro.cli.app import main as run_app
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing was done\n")
        raise SystemExit(130) from None
    except ModuleNotFoundError as error:
        missing = missing_dependency(error)
        if missing is None or "--debug" in sys.argv[1:]:
            raise
        sys.stderr.write(f"error: {missing_dependency_message(missing, sys.executable)}\n")
        raise SystemExit(USAGE_EXIT) from None
    run_app()


def missing_dependency(error: ModuleNotFoundError) -> str | None:
    """The top-level package that ``error`` failed to import, None when it is the toolbox's
    own (a broken install or a bug: keep the traceback).

    Examples
    --------
    >>> missing_dependency(ModuleNotFoundError("...", name="xarray.core"))
    'xarray'
    >>> missing_dependency(ModuleNotFoundError("...", name="alrnn_neuro.cli.app")) is None
    True
    """
    package = (error.name or "").partition(".")[0]
    return package if package and package != "alrnn_neuro" else None


def missing_dependency_message(package: str, python: str) -> str:
    """What the one error line says when a dependency cannot be imported.

    Examples
    --------
    >>> print(missing_dependency_message("typer", "/usr/bin/python3"))
    alrnn-neuro cannot start: the package 'typer' is not installed for /usr/bin/python3; install the toolbox with its dependencies into that Python (pip install -e . in the repository) or run the alrnn-neuro of the environment where it is installed
    """  # noqa: E501
    return (
        f"alrnn-neuro cannot start: the package {package!r} is not installed for "
        f"{python}; install the toolbox with its dependencies into that Python (pip install "
        "-e . in the repository) or run the alrnn-neuro of the environment where it is "
        "installed"
    )

"""The ``alrnn-neuro`` command line: one Typer app, one small module per command group.

Every failure a user can cause ends in exactly one line on stderr (``--debug`` shows the
traceback instead):

==================================================  ==============================  =========
cause                                               shown as                        exit code
==================================================  ==============================  =========
usage error (unknown option/command, missing        ``error: <command>: <what>``    2
argument, bad value), with Click's suggestions
bad input (:class:`~alrnn_neuro.errors.AlrnnNeuroError`)   ``error: <what>; fix: ...``     2
an ``OSError`` (missing file, read-only or full     ``error: <path>: <reason>``     2
disk, name too long, ...)
Ctrl-C                                              what was saved, how to go on    130
==================================================  ==============================  =========
"""

from __future__ import annotations

import logging
import sys
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from alrnn_neuro import __version__
from alrnn_neuro.cli import commands, missing_dependency, missing_dependency_message
from alrnn_neuro.cli.interrupts import (
    DEFAULT_MESSAGE,
    CommandInterrupted,
    redeliver_swallowed_interrupts,
)
from alrnn_neuro.cli.messages import one_line, os_error_line, usage_error_line, warning_line
from alrnn_neuro.errors import AlrnnNeuroError

app = typer.Typer(
    name="alrnn-neuro",
    help="Fit Almost-Linear RNNs to neural recordings and analyse their linear regimes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)
_state = {"debug": False}


class CurrentStderrHandler(logging.StreamHandler):
    """A log handler that writes to ``sys.stderr`` as it is when a record arrives, so that log
    lines land above a progress bar (which redirects ``sys.stderr`` while it is drawn)
    instead of through it."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the handler always follows sys.stderr
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of the libraries and readers as one console line each (not two with a path)."""
    err_console.print(escape(warning_line(message, category)), highlight=False, soft_wrap=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"alrnn-neuro {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """alrnn-neuro: where does my circuit need nonlinearity, and what does it compute there?"""
    _state["debug"] = debug
    if not debug:  # --debug keeps Python's form (with the source line)
        warnings.showwarning = _show_warning
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", handlers=[CurrentStderrHandler()])
    for handler in logging.getLogger().handlers:
        # libraries that set their own loggers to INFO (dask.distributed) propagate to the
        # console handler: its level, not the root logger's, keeps them quiet without --verbose
        if type(handler) in (logging.StreamHandler, CurrentStderrHandler):
            handler.setLevel(level)


commands.register(app)

#: input errors shown as one line with exit code 2 (every OSError is one line too)
USER_ERRORS = (AlrnnNeuroError,)


def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(ClickException classes, Abort classes) of the Click that this Typer raises.

    Typer >= 0.26 bundles its own Click; older Typer uses the ``click`` package. Both are
    found through Typer's public names, so every allowed Typer version is covered.
    """
    exceptions = {k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException"}
    aborts = {typer.Abort}
    try:  # the separate package, if some code path raises its exceptions directly
        import click

        exceptions.add(click.exceptions.ClickException)
        aborts.add(click.exceptions.Abort)
    except ImportError:  # pragma: no cover - typer >= 0.26 does not need click
        pass
    return tuple(exceptions), tuple(aborts)


def memory_error_line(error: MemoryError) -> str:
    """One line for a command that ran out of memory, with what to change.

    Examples
    --------
    >>> memory_error_line(MemoryError("Unable to allocate 8.45 GiB"))[:54]
    'out of memory (Unable to allocate 8.45 GiB); fix: ask '
    """
    detail = one_line(str(error)) or type(error).__name__
    return (
        f"out of memory ({detail}); fix: ask for less data at once (fewer --n-trials, units, "
        "members or null draws) or use a machine with more memory"
    )


def _fail(line: str, code: int) -> None:
    err_console.print(line, highlight=False, soft_wrap=True)
    raise SystemExit(code) from None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app; every error is one line (see module doc)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    click_errors, aborts = _click_classes()
    redeliver_swallowed_interrupts()
    try:
        code = app(args=argv, standalone_mode=False)
    except CommandInterrupted as interrupt:
        _fail(f"[yellow]interrupted:[/] {escape(str(interrupt))}", 130)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _fail(f"[yellow]{escape(DEFAULT_MESSAGE)}[/]", 130)
    except click_errors as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `alrnn-neuro` alone: the help
            error.show()
            raise SystemExit(2) from None
        _fail(f"[bold red]error:[/] {escape(usage_error_line(error))}", 2)
    except aborts:  # Click's form of Ctrl-C (older Typer)
        _fail(f"[yellow]{escape(DEFAULT_MESSAGE)}[/]", 130)
    except USER_ERRORS as error:
        if debug:
            raise
        _fail(f"[bold red]error:[/] {escape(one_line(str(error)))}", 2)
    except OSError as error:
        if debug:
            raise
        _fail(f"[bold red]error:[/] {escape(os_error_line(error))}", 2)
    except MemoryError as error:  # e.g. --n-trials far beyond this machine's memory
        if debug:
            raise
        _fail(f"[bold red]error:[/] {escape(memory_error_line(error))}", 2)
    except ModuleNotFoundError as error:  # a core dependency a command imports on first use
        missing = missing_dependency(error)
        if debug or missing is None:
            raise
        line = missing_dependency_message(missing, sys.executable)
        _fail(f"[bold red]error:[/] {escape(line)}", 2)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        # Typer >= 0.26 returns the exit code of a KeyboardInterrupt (130) it caught itself
        if code == 130:
            _fail(f"[yellow]{escape(DEFAULT_MESSAGE)}[/]", 130)
        raise SystemExit(code)

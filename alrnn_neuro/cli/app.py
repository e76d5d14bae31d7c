"""The ``alrnn-neuro`` command line: one Typer app, one small module per command group.

Input errors (:class:`alrnn_neuro.errors.AlrnnNeuroError`, ``FileNotFoundError``) are shown as
one red line and exit with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from alrnn_neuro.cli import commands
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


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    """alrnn-neuro: where does my circuit need nonlinearity, and what does it compute there?"""
    _state["debug"] = debug
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    for handler in logging.getLogger().handlers:
        # libraries that set their own loggers to INFO (dask.distributed) propagate to the
        # console handler: its level, not the root logger's, keeps them quiet without --verbose
        if type(handler) is logging.StreamHandler:
            handler.setLevel(level)


commands.register(app)

USER_ERRORS = (AlrnnNeuroError, FileNotFoundError, IsADirectoryError, PermissionError)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning input errors into one line + exit 2."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv, standalone_mode=False)
    except USER_ERRORS as error:
        if debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as error:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            raise SystemExit(2) from None
        if isinstance(error, click.exceptions.Abort):
            raise SystemExit(130) from None
        raise

"""Ctrl-C in a command: one line that says what was saved and how to continue, exit code 130.

Typer (>= 0.26, non-standalone mode) turns a ``KeyboardInterrupt`` into a bare exit code 130
and Click (older Typer) into ``Abort``; either way the user would learn nothing. Each command
is therefore wrapped with :func:`on_interrupt`, which turns the interrupt into
:class:`CommandInterrupted` carrying the command's own message; ``cli.app.main`` prints it.
"""

from __future__ import annotations

import _thread
import functools
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

#: the line shown when a command has no message of its own (e.g. Ctrl-C while parsing)
DEFAULT_MESSAGE = "interrupted; run the same command again to start over"


class CommandInterrupted(Exception):
    """A command stopped by Ctrl-C (SIGINT); ``str(error)`` is the line to show."""


def on_interrupt(describe: Callable[..., str]) -> Callable[[Callable], Callable]:
    """Decorate a Typer command so Ctrl-C raises :class:`CommandInterrupted`.

    Parameters
    ----------
    describe : callable
        Called with the command's keyword arguments after the interrupt; returns the line to
        show (what was saved, how to continue). Must be quick and must not raise.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt:
                try:
                    message = describe(**kwargs)
                except Exception:  # noqa: BLE001 - the interrupt message must never crash
                    message = DEFAULT_MESSAGE
                raise CommandInterrupted(message) from None

        return wrapper

    return decorate


def redeliver_swallowed_interrupts() -> None:
    """Make Ctrl-C stop the command even when it lands inside a finalizer.

    Python cannot raise ``KeyboardInterrupt`` out of a weakref callback or ``__del__``: it
    prints "Exception ignored in ..." and goes on, so a long sweep would ignore Ctrl-C (and
    leave a traceback-like message). This hook catches that case and delivers the interrupt
    again, a moment later, to the code that was running. Once Ctrl-C was pressed it also
    drops the errors of finalizers of objects the interrupt left half-built (the command
    ends with its one interrupted line, not a second report about such an object).
    """
    previous = sys.unraisablehook
    INTERRUPTED.clear()  # one command's Ctrl-C (main() calls this at each start)

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            threading.Timer(0.01, _thread.interrupt_main).start()
            return
        if INTERRUPTED.is_set():
            # the finalizer of an object the interrupt cut off half-built (e.g. an h5netcdf
            # File without its _closed attribute) fails as it is collected: noise, not news
            return
        previous(unraisable)

    sys.unraisablehook = hook
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _note_interrupt)


#: set when SIGINT arrives (by the handler :func:`redeliver_swallowed_interrupts` installs)
INTERRUPTED = threading.Event()


def _note_interrupt(signum: int, frame: Any) -> None:
    """Python's own SIGINT handler (raise KeyboardInterrupt), noting that it ran."""
    INTERRUPTED.set()
    signal.default_int_handler(signum, frame)


def nothing_written(**_: Any) -> str:
    """A ``describe`` for commands that write their outputs only at the end (atomically)."""
    return "interrupted before anything was written; run the same command again"

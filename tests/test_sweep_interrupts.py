"""Ctrl-C in a sweep silences dask's loggers before the interrupt unwinds the sweep."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from alrnn_neuro.sweep.cluster import DASK_LOGGERS, quiet_after_interrupt


@pytest.fixture
def default_sigint():
    """Python's default SIGINT handler, whatever the test process inherited.

    A process started in the background by a non-interactive shell inherits SIGINT as
    ignored, and then ``quiet_after_interrupt`` rightly leaves it alone.
    """
    inherited = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


@pytest.fixture
def dask_log_levels(default_sigint):
    loggers = [logging.getLogger(name) for name in DASK_LOGGERS]
    levels = [lg.level for lg in loggers]
    yield loggers
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def test_sigint_silences_dask_loggers_then_interrupts(dask_log_levels):
    for lg in dask_log_levels:
        lg.setLevel(logging.INFO)
    with pytest.raises(KeyboardInterrupt), quiet_after_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10**6):  # the handler runs between bytecodes, at once in practice
            pass
    assert all(lg.level == logging.CRITICAL for lg in dask_log_levels)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_without_an_interrupt_nothing_changes(dask_log_levels):
    for lg in dask_log_levels:
        lg.setLevel(logging.INFO)
    with quiet_after_interrupt():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert all(lg.level == logging.INFO for lg in dask_log_levels)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_is_left_ignored(dask_log_levels):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. a sweep started with nohup ... &
    with quiet_after_interrupt():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN

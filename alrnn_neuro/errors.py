"""Exception types for user-facing input errors.

Every error a user can cause by handing the toolbox bad input derives from
:class:`AlrnnNeuroError` *and* from :class:`ValueError` (or :class:`TypeError`; an output that
cannot be written: :class:`OSError`), so callers can catch either. The CLI turns any of them
into one line and exit code 2. Messages name the field, the bad value and the fix.
"""

from __future__ import annotations


class AlrnnNeuroError(Exception):
    """Base class of every input error raised by alrnn-neuro."""


class DataValidationError(AlrnnNeuroError, ValueError):
    """A dataset violates the canonical data model (see ``validate_dataset``)."""


class FileFormatError(AlrnnNeuroError, ValueError):
    """A file is missing, unreadable, or not in a format the toolbox reads."""


class EventTableError(AlrnnNeuroError, ValueError):
    """A trial/event table is inconsistent (order, bounds, length, names)."""


class ConfigError(AlrnnNeuroError, ValueError):
    """A configuration value (CLI flag, TOML key, keyword argument) is invalid."""


class RunDirError(AlrnnNeuroError, ValueError):
    """A run directory is missing files, incompatible, or already holds another run."""


class OutputError(AlrnnNeuroError, OSError):
    """An output cannot be written: a special file or link in the way, or no space left."""

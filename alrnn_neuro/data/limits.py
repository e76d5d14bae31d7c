"""Resource limits checked before data are loaded or binned, so a bad file cannot exhaust memory.

==========================  ===============================================================
limit                       value
==========================  ===============================================================
bins per trial              :data:`MAX_BINS_PER_TRIAL` (window / bin size)
one array in memory         half of the memory available now (``MemAvailable``)
declared HDF5 array sizes   at most :data:`MAX_EXPANSION` x the file size once above
                            :data:`EXPANSION_FLOOR` bytes (a few KB declaring gigabytes of
                            unwritten chunks is refused), and within the memory limit
archive members             :data:`MAX_MEMBER_BYTES` each, :data:`MAX_ARCHIVE_BYTES` in all
==========================  ===============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from alrnn_neuro.errors import ConfigError, FileFormatError

#: most time bins one trial may have (e.g. 10 minutes at 10 ms bins is 60 000)
MAX_BINS_PER_TRIAL = 100_000
#: declared (uncompressed) size may exceed the file size this many times ...
MAX_EXPANSION = 1000
#: ... once it is larger than this many bytes
EXPANSION_FLOOR = 256 * 2**20
#: largest member of a data archive read by ``convert`` (one .mat file of a session)
MAX_MEMBER_BYTES = 512 * 2**20
#: largest total of the members read from one archive
MAX_ARCHIVE_BYTES = 4 * 2**30


def available_memory() -> int:
    """Bytes of memory available to this process now (``MemAvailable``; a large number if
    it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def memory_limit() -> int:
    """Largest array (bytes) a loader may allocate: half of :func:`available_memory`."""
    return available_memory() // 2


def check_bins(n_bins: float, *, bin_size: float, window: object) -> int:
    """Refuse a bin size / window pair that gives more than :data:`MAX_BINS_PER_TRIAL` bins.

    Returns
    -------
    int
        ``n_bins`` as an int.

    Raises
    ------
    ConfigError
        If ``n_bins`` is not finite or above the limit.

    Examples
    --------
    >>> check_bins(40, bin_size=0.05, window=(-0.5, 1.5))
    40
    """
    if not np.isfinite(n_bins) or n_bins > MAX_BINS_PER_TRIAL:
        raise ConfigError(
            f"bin_size={bin_size!r} s over window={window!r} gives {n_bins:.3g} bins per trial, "
            f"more than the limit of {MAX_BINS_PER_TRIAL}; fix: a larger --bin-size or a "
            "shorter --window"
        )
    return int(n_bins)


def check_allocation(shape: tuple[int, ...], itemsize: int, what: str) -> None:
    """Refuse to allocate an array of ``shape`` x ``itemsize`` bytes beyond :func:`memory_limit`.

    Raises
    ------
    ConfigError
        If the array would not fit, naming ``what``, its shape and both sizes.
    """
    need = int(np.prod([int(s) for s in shape], dtype=float)) * int(itemsize)
    limit = memory_limit()
    if need > limit:
        raise ConfigError(
            f"{what} would need {_size(need)} {tuple(int(s) for s in shape)}, more than half "
            f"of the memory available now ({_size(limit)}); fix: fewer trials or units, a "
            "larger bin size or a shorter window"
        )


def check_declared_sizes(sizes: dict[str, int], path: str | os.PathLike) -> None:
    """Refuse an HDF5 file whose arrays declare far more data than the file holds or memory.

    Parameters
    ----------
    sizes : dict of str to int
        Declared (uncompressed) bytes of each array in the file.
    path : str or PathLike
        The file (its size on disk is the reference).

    Raises
    ------
    FileFormatError
        If the total exceeds :func:`memory_limit`, or :data:`MAX_EXPANSION` x the file size
        once above :data:`EXPANSION_FLOOR`.
    """
    total = sum(sizes.values())
    if not sizes or total <= EXPANSION_FLOOR:
        return
    largest = max(sizes, key=sizes.get)
    on_disk = max(Path(path).stat().st_size, 1)
    if total > MAX_EXPANSION * on_disk:
        raise FileFormatError(
            f"{path}: its arrays declare {_size(total)} (largest '{largest}', "
            f"{_size(sizes[largest])}) but the file holds {_size(on_disk)}, more than "
            f"{MAX_EXPANSION}x its size; fix: write the data themselves, not an empty or "
            "mostly unwritten array"
        )
    limit = memory_limit()
    if total > limit:
        raise FileFormatError(
            f"{path}: its arrays declare {_size(total)} (largest '{largest}', "
            f"{_size(sizes[largest])}), more than half of the memory available now "
            f"({_size(limit)}); fix: split the session into smaller files or use a machine "
            "with more memory"
        )


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"

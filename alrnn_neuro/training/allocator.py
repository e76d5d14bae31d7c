"""Keep freed memory in the process, so a fit's per-step tensors reuse warm pages.

A training step allocates and frees the same few megabytes of tensors every time (states,
gradients, readout temporaries). With glibc's default settings, freed blocks at the top of
the heap beyond a few megabytes are handed back to the kernel (``M_TRIM_THRESHOLD``) and
blocks above about a megabyte are mapped afresh (``M_MMAP_THRESHOLD``), so every step faults
in and zeroes new pages: measured here, about 660 page faults and 1.5 ms (15 %) of an
11 ms step at M = 64, batch 64, 100 steps (``benchmarks/bench_training.py``). glibc's
thresholds adapt to the blocks freed so far, so other processes (other import orders, other
earlier allocations) showed no faults at all; small models with short trials allocate less
than glibc keeps anyway.
:func:`keep_freed_memory` raises both thresholds once per process; the resident memory then
stays near the fit's peak instead of shrinking between steps.

Set ``ALRNN_NEURO_KEEP_FREED_MEMORY=0`` to leave the allocator alone; glibc's own
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables, when set, are
respected (nothing is changed). Other C libraries (macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import platform

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (glibc's largest allowed value on 64-bit)
MMAP_THRESHOLD = 32 << 20
#: free memory kept at the top of the heap before it is returned to the kernel: above a fit's
#: working set (an 80-member ensemble on the demo grows the heap by about 500 MB; with 256 MB
#: its freed top was handed back after every fit and the next one faulted it all in again,
#: about 100,000 page faults and 0.2-0.3 s of a 3 s ``fit_ensemble``)
TRIM_THRESHOLD = 1 << 30
#: environment variable that turns the setting off ("0")
ENV_SWITCH = "ALRNN_NEURO_KEEP_FREED_MEMORY"
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds once per process (see the module doc).

    Returns
    -------
    bool
        Whether the thresholds are (now, or from an earlier call) raised by this function:
        False off glibc, when switched off by ``ALRNN_NEURO_KEEP_FREED_MEMORY=0``, when
        glibc's own variables are set, or when ``mallopt`` refused.

    Examples
    --------
    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    if any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and done
    if not done:  # pragma: no cover - only with a glibc that caps the values lower
        log.debug("mallopt refused the thresholds; the allocator keeps its defaults")
    return done

"""CPU threads of a fit: refuse more than the process's cores, and limit torch and BLAS.

One torch thread is fastest for these small models; more threads than free cores make every
OpenMP barrier wait for a descheduled thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# loads scipy's own BLAS, the one the engine's compiled loops call (numba's np.dot), so that
# the limit below reaches it too (threadpoolctl limits only libraries already loaded)
import scipy.linalg  # noqa: F401
import torch
from threadpoolctl import threadpool_limits

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.training.allocator import keep_freed_memory


def check_threads(n: int) -> None:
    """Refuse more torch threads than this process has CPU cores (``threads`` setting)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    if n > cores:
        raise ConfigError(
            f"threads={n} is more than the {cores} CPU cores this process may use; fix: "
            f"threads = 1 (fastest for these small models) up to {cores}, or 0 for torch's "
            "default"
        )


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Let torch, and the BLAS of numpy and scipy, use ``n`` CPU threads inside the block
    (0 = unchanged); restore them afterwards.

    Limiting the BLAS pools too (numpy's, and scipy's, which the compiled recurrence loops
    call) keeps them from starting one thread per core next to torch's: more threads than
    free cores make every OpenMP barrier wait for a descheduled thread (a 30x slower training
    step was measured with two threads on two cores next to one busy process). The block also
    keeps freed memory in the process (:func:`~alrnn_neuro.training.allocator.keep_freed_memory`,
    once per process), so the per-step tensors of a fit reuse warm pages.
    """
    keep_freed_memory()
    before = torch.get_num_threads()
    if n <= 0:
        yield
        return
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)

"""Summaries over model seeds that the sweep figures draw (mean ± standard error)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def mean_sem(data: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, xr.DataArray]:
    """Mean and standard error over ``dim`` (NaN ignored; sem 0 where fewer than 2 values).

    The standard error is ``std(ddof=1) / sqrt(n)`` with n the non-NaN values.

    Examples
    --------
    >>> mean, sem = mean_sem(xr.DataArray([1.0, 3.0], dims="seed"))
    >>> float(mean), float(sem)
    (2.0, 1.0)
    """
    n = data.notnull().sum(dim)
    sem = (data.std(dim, ddof=1) / np.sqrt(n)).where(n > 1, 0.0)
    return data.mean(dim), sem

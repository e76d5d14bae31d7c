"""Assertions shared by the RSA tests."""

from __future__ import annotations

import numpy as np
import xarray as xr


def assert_ceiling_ordered(result: xr.Dataset, *, min_finite: int = 1) -> int:
    """Assert the noise-ceiling bounds of ``result`` are ordered or explained.

    Wherever both bounds are finite, lower <= upper; wherever they are NaN, a
    ``noise_ceiling_note`` (when the result carries notes) says why. ``result`` is the output of
    :func:`noise_ceiling`, :func:`rsa_table` or :func:`run_rsa`.

    Returns
    -------
    int
        Number of finite (lower, upper) pairs checked; at least ``min_finite``, so that a
        test cannot pass on bounds that are all NaN.
    """
    low = np.asarray(result["noise_ceiling_low"].values, dtype=float)
    high = np.asarray(result["noise_ceiling_high"].values, dtype=float)
    assert low.shape == high.shape
    finite = np.isfinite(low) & np.isfinite(high)
    assert np.array_equal(np.isfinite(low), np.isfinite(high)), "one bound NaN, the other not"
    bad = finite & (low > high + 1e-12)
    assert not bad.any(), f"lower > upper at {np.argwhere(bad).tolist()}: {low[bad]} > {high[bad]}"
    if "noise_ceiling_note" in result:
        notes = np.asarray(result["noise_ceiling_note"].values).astype(str)
        assert all(notes[~finite]), "a NaN noise ceiling without a note saying why"
        assert not any(notes[finite]), "a note on a finite noise ceiling"
    assert int(finite.sum()) >= min_finite, f"only {int(finite.sum())} finite noise ceilings"
    return int(finite.sum())

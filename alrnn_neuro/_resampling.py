"""How many bootstrap resamples a percentile interval needs: one rule for every interval the
toolbox prints (selection of P, RSA) and every way of asking for one (library, CLI)."""

from __future__ import annotations

import numpy as np

from alrnn_neuro.errors import ConfigError

#: fewest resamples of a percentile interval (0 = none): 200 leave 5 resamples beyond each
#: bound of a 95 % interval; fewer give bounds that rest on one or two draws (one draw: a
#: zero-width "interval")
MIN_N_BOOT = 200


def check_n_boot(n_boot: int, *, default: int) -> int:
    """Return ``n_boot`` if it is 0 (no interval) or at least :data:`MIN_N_BOOT`.

    Parameters
    ----------
    n_boot : int
        Bootstrap resamples asked for.
    default : int
        The caller's default, named in the message as an example.

    Raises
    ------
    ConfigError
        Not an int, negative, or between 1 and ``MIN_N_BOOT - 1`` (too few resamples for a
        percentile interval: its bounds would rest on one or two draws).

    Examples
    --------
    >>> check_n_boot(2000, default=1000), check_n_boot(0, default=1000)
    (2000, 0)
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer):
        raise ConfigError(f"n_boot={n_boot!r}; fix: use an integer, 0 (no CI) or >= {MIN_N_BOOT}")
    if n_boot < 0 or 0 < n_boot < MIN_N_BOOT:
        raise ConfigError(
            f"n_boot={n_boot!r} is not a usable number of bootstrap resamples; fix: use "
            f"n_boot >= {MIN_N_BOOT} (e.g. {default}), or 0 for no CI"
        )
    return int(n_boot)

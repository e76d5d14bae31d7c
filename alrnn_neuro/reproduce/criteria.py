"""The reproduction's criteria (``criteria.toml``), loaded once, with the file's sha256.

Every threshold a claim uses comes from this file; ``reproduce.json`` records its hash.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CRITERIA_FILE = Path(__file__).with_name("criteria.toml")


@cache
def criteria() -> dict[str, Any]:
    """The criteria, section -> key -> value.

    Examples
    --------
    >>> criteria()["calibration"]["alpha"]
    0.05
    """
    return tomllib.loads(CRITERIA_FILE.read_text())


def criteria_sha256() -> str:
    """sha256 (hex) of ``criteria.toml`` as shipped."""
    return hashlib.sha256(CRITERIA_FILE.read_bytes()).hexdigest()


def max_false_positive_rate() -> float:
    """The largest false-positive rate a claim may have and still be reported as holding."""
    c = criteria()["calibration"]
    return float(c["alpha"] + c["max_excess_fpr"])


def min_power() -> float:
    """The smallest power (share of the power draws on which a claim holds) with which a claim
    that holds on the reproduction's draw is reported as holding, not as "not replicated"."""
    return float(criteria()["calibration"]["min_power"])

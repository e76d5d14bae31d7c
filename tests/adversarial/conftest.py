"""Shared inputs of the adversarial suite: one dataset and two finished runs per session."""

from __future__ import annotations

import pytest

from tests.adversarial.builders import Shared, make_shared


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> Shared:
    return make_shared(tmp_path_factory.mktemp("shared"))

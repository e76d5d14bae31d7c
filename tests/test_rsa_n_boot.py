"""``alrnn-neuro rsa --n-boot`` is 0 (no CI) or at least the percentile minimum, as in
``select``: a handful of resamples gave a "95 % CI" whose bounds rest on one or two draws."""

from __future__ import annotations

import pytest

from alrnn_neuro.sweep.selection_stats import MIN_N_BOOT
from tests.conftest import entry_point


@pytest.mark.parametrize("n_boot", ["1", str(MIN_N_BOOT - 1)])
def test_installed_cli_rsa_refuses_too_few_resamples(tmp_path, n_boot):
    run = tmp_path / "run"
    run.mkdir()
    done = entry_point("rsa", run, "--conditions", "rule", "--n-boot", n_boot)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"--n-boot {n_boot} is too few bootstrap resamples" in lines[0]
    assert f"fix: --n-boot {MIN_N_BOOT} or more (default: 1000)" in lines[0]
    assert "Traceback" not in done.stderr and not (run / "rsa").exists()

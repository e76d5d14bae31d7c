"""Every benchmark script runs to the end on small arguments and reports its headline figures.

The README quotes these scripts' figures (and issue targets are stated in them), so a script
broken by an API change must fail here, not at the next measurement. Arguments are shrunk
where a script takes them; the figures are checked for presence (and times and ratios for
sign) only: speed is measured by running the scripts, never asserted in tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: script -> (small arguments, figures it must report)
RUNS = {
    "bench_analysis.py": (
        [],
        ["fixed_points_2p16_seconds", "speedup_vs_direct_lu", "n_real_fixed_points_2p16"],
    ),
    "bench_ensemble.py": (
        ["--quick"],
        [
            "grid_vs_sequential_ratio",
            "grid_end_to_end_ratio",
            "step_ms_per_member_K8_M16",
            "grid_kernel_floor_ratio",
            "grid_kernel_share",
            "grid_ensemble_ms_per_member_step",
        ],
    ),
    "bench_io.py": ([], ["bin_events_1e6_spikes_seconds", "speedup_vs_naive_histogram"]),
    "bench_memory.py": (
        ["--trials", "120", "--units", "12", "--bins", "30"],
        ["peak_rss_gb", "scoring_vs_epoch_ratio", "test_bits_per_spike"],
    ),
    "bench_parallel_scan.py": (
        ["--sizes", "8", "--batches", "4", "--lengths", "100", "300", "--repeat", "1"],
        ["max_relative_error", "engine_choice_agrees_fraction", "M8_B4_P0_T300_ratio"],
    ),
    "bench_rsa.py": ([], ["perm_10k_16cond_seconds", "speedup_vs_naive_loop"]),
    "bench_training.py": (
        ["--sizes", "6", "--repeat", "2", "--warmup", "1", "--compare-threads"],
        ["max_ratio_vs_nn_rnn", "min_speedup_vs_plain_loop", "M6_ratio_vs_nn_rnn"],
    ),
}


def test_every_benchmark_script_is_run_here():
    assert sorted(p.name for p in BENCHMARKS.glob("bench_*.py")) == sorted(RUNS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(RUNS))
def test_benchmark_runs_and_reports_its_figures(script, tmp_path):
    arguments, figures = RUNS[script]
    out = tmp_path / "figures.json"
    run = run_script(BENCHMARKS / script, *arguments, "--json", str(out), cwd=tmp_path)
    reported = json.loads(out.read_text())
    missing = [name for name in figures if name not in reported]
    assert not missing, f"{script} did not report {missing}"
    for name in figures:  # times, ratios and sizes are positive (bits/spike may be < 0)
        if any(word in name for word in ("seconds", "ratio", "speedup", "_ms", "rss")):
            assert reported[name] > 0, (name, reported[name])
    printed = {line.split(":")[0] for line in run.stdout.splitlines() if ": " in line}
    assert set(figures) <= printed  # the same figures on stdout

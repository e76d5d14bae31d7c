"""Benchmark: binning an event-layout session (200 units, 1,000 trials, ~1e6 spikes).

Usage::

    python benchmarks/bench_io.py [--json PATH]

Figures (seconds are medians of 3 calls, after one warm-up call on a tiny session so that
one-time imports are not counted):

* ``bin_events_1e6_spikes_seconds``: ``bin_spike_times`` on the whole session (target < 2 s
  on two CPU cores);
* ``bin_events_1e6_spikes_cpu_seconds``: the same in CPU seconds of this process (a fair
  figure when other jobs share the cores);
* ``bin_events_smoothed_seconds``: the same with ``smooth_sigma=0.05`` (rates);
* ``read_plain_h5_events_seconds``: ``read_plain_h5`` of the session stored in the plain
  ``events`` HDF5 layout (read + bin);
* ``reference_naive_histogram_seconds``: a naive loop calling ``np.histogram`` per trial and
  per unit, **timed on the first 50 trials and extrapolated linearly** to all 1,000 trials,
  measured in the same process; its counts are checked against ours on those trials;
* ``speedup_vs_naive_histogram``: reference / ours.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parse_args, report, time_call  # noqa: E402

from alrnn_neuro.data.events import bin_spike_times  # noqa: E402
from alrnn_neuro.data.plain_h5 import read_plain_h5  # noqa: E402

N_UNITS, N_TRIALS, N_SPIKES, SEED = 200, 1000, 1_000_000, 0
BIN_SIZE, ALIGN, WINDOW = 0.05, "stim_on", (-0.5, 2.0)
EPOCHS = [
    ("fixation", "fix_on", "stim_on"),
    ("stimulus", "stim_on", "go"),
    ("response", "go", "stop"),
]
N_REFERENCE_TRIALS = 50


def make_session(seed: int = SEED, n_trials: int = N_TRIALS, n_spikes: int = N_SPIKES):
    """Synthetic session: ragged trials of 2.5-3 s with a 0.5 s gap, Poisson-like spikes."""
    rng = np.random.default_rng(seed)
    start = np.arange(n_trials) * 3.5
    stop = start + rng.uniform(2.5, 3.0, n_trials)
    fix_on = start + 0.2
    stim_on = fix_on + rng.uniform(0.3, 0.5, n_trials)
    go = stim_on + rng.uniform(0.8, 1.2, n_trials)
    trials = {
        "start": start,
        "stop": stop,
        "fix_on": fix_on,
        "stim_on": stim_on,
        "go": go,
        "coherence": rng.choice([0.0, 0.032, 0.128, 0.512], n_trials),
        "choice": rng.choice(["left", "right"], n_trials),
    }
    rates = rng.gamma(2.0, 1.0, N_UNITS)
    units = rng.choice(N_UNITS, size=n_spikes, p=rates / rates.sum())
    times = rng.uniform(0.0, stop[-1], n_spikes)
    spike_times = {f"u{u:03d}": np.sort(times[units == u]) for u in range(N_UNITS)}
    return spike_times, trials


def naive_counts(spike_times: dict, trials: dict, n_trials: int) -> np.ndarray:
    """Reference: one np.histogram per trial and unit (padded bins zeroed afterwards)."""
    n_bins = round((WINDOW[1] - WINDOW[0]) / BIN_SIZE)
    counts = np.zeros((n_trials, n_bins, len(spike_times)), dtype=np.int64)
    for i in range(n_trials):
        edges = trials[ALIGN][i] + WINDOW[0] + BIN_SIZE * np.arange(n_bins + 1)
        valid = (edges[:-1] >= trials["start"][i]) & (edges[1:] <= trials["stop"][i])
        for u, times in enumerate(spike_times.values()):
            # half-open bins: drop spikes on the window's right edge (np.histogram closes it)
            inside = times[times < edges[-1]]
            counts[i, :, u] = np.histogram(inside, bins=edges)[0] * valid
    return counts


def write_events_h5(path: Path, spike_times: dict, trials: dict) -> None:
    """Store the session in the plain ``events`` layout (flat spike list)."""
    with h5py.File(path, "w") as f:
        f.attrs.update(layout="events", bin_size=BIN_SIZE, align_event=ALIGN, window=WINDOW)
        f["spike_times"] = np.concatenate(list(spike_times.values()))
        f["spike_units"] = np.repeat(
            np.array(list(spike_times), dtype="S"), [v.size for v in spike_times.values()]
        )
        for name, values in trials.items():
            values = np.asarray(values)
            f[f"trials/{name}"] = values.astype("S") if values.dtype.kind == "U" else values


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    spike_times, trials = make_session()
    n_spikes = sum(v.size for v in spike_times.values())
    options = {"bin_size": BIN_SIZE, "align": ALIGN, "window": WINDOW, "epochs": EPOCHS}

    tiny_spikes, tiny_trials = make_session(seed=1, n_trials=5, n_spikes=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bin_spike_times(tiny_spikes, tiny_trials, **options)  # warm-up: one-time imports

    ours = time_call(lambda: bin_spike_times(spike_times, trials, **options))
    ours_cpu = time_call(
        lambda: bin_spike_times(spike_times, trials, **options), clock=time.process_time
    )
    smoothed = time_call(lambda: bin_spike_times(spike_times, trials, smooth_sigma=0.05, **options))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session_events.h5"
        write_events_h5(path, spike_times, trials)
        read = time_call(lambda: read_plain_h5(path))

    ds = bin_spike_times(spike_times, trials, **options)
    reference = time_call(lambda: naive_counts(spike_times, trials, N_REFERENCE_TRIALS), repeat=1)
    expected = naive_counts(spike_times, trials, N_REFERENCE_TRIALS)
    if not np.array_equal(ds["spikes"].values[:N_REFERENCE_TRIALS], expected):
        raise SystemExit("bench_io: counts differ from the np.histogram reference")
    reference *= N_TRIALS / N_REFERENCE_TRIALS

    figures = {
        "bin_events_1e6_spikes_seconds": ours,
        "bin_events_1e6_spikes_cpu_seconds": ours_cpu,
        "bin_events_smoothed_seconds": smoothed,
        "read_plain_h5_events_seconds": read,
        "reference_naive_histogram_seconds": reference,
        "speedup_vs_naive_histogram": reference / ours,
        "n_spikes": n_spikes,
        "n_spikes_in_valid_bins": int(ds["spikes"].values.sum()),
        "target_seconds": 2.0,
    }
    report(figures, args.json)
    print(
        f"reference: np.histogram per trial x unit on {N_REFERENCE_TRIALS} trials, extrapolated "
        f"x{N_TRIALS // N_REFERENCE_TRIALS}; binning {'meets' if ours < 2.0 else 'MISSES'} "
        "the 2 s target"
    )


if __name__ == "__main__":
    main()

"""The compiled gather of Poisson terms against numpy, alone and inside ``SplitScorer.score``."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.training import metrics, split_scorer
from alrnn_neuro.training.metric_kernels import RATE_FLOOR, gather_poisson_terms


def _entries(n_rates=6000, n_entries=5000, n_cells=300, seed=0, index=np.int32):
    """Rates (float32, some below the floor), scored positions, cells and counts."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(2.0, 1.5, n_rates).astype(np.float32)
    low = rng.choice(n_rates, 300, replace=False)
    rates[low] = rng.choice(np.array([0.0, -1.0, 1e-20, 1e-13, 9.9e-13, 2e-12], np.float32), 300)
    positions = rng.choice(n_rates, n_entries, replace=False).astype(index)
    cells = rng.integers(0, n_cells, n_entries).astype(index)
    counts = rng.poisson(2.0, n_entries).astype(np.float64)
    return rates, positions, cells, counts


def _reference(rates, positions, cells, counts, n_cells):
    lam = rates[positions].astype(np.float64)
    return np.bincount(cells, lam, n_cells), metrics.poisson_rate_terms(counts, lam)


def _terms_scale(rates, positions, counts):
    lam = np.maximum(rates[positions].astype(np.float64), 1e-12)
    return float(np.abs(counts * np.log(lam)).sum() + lam.sum())


@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_gather_matches_bincount_bitwise_and_rate_terms_to_1e_12(index):
    rates, positions, cells, counts = _entries(index=index)
    sums = np.zeros(300)
    total = gather_poisson_terms(rates, positions, cells, counts, sums)
    want_sums, want_total = _reference(rates, positions, cells, counts, 300)
    assert np.array_equal(sums, want_sums)  # same additions in the same order
    assert abs(total - want_total) <= 1e-12 * _terms_scale(rates, positions, counts)
    assert abs(total - want_total) <= 1e-12 * abs(want_total)


def test_gather_adds_to_the_cell_sums_it_is_given():
    rates, positions, cells, counts = _entries(seed=1)
    sums = np.zeros(300)
    half = 2500  # two calls (one not a whole number of blocks) add up like one bincount
    first = gather_poisson_terms(rates, positions[:half], cells[:half], counts[:half], sums)
    second = gather_poisson_terms(rates, positions[half:], cells[half:], counts[half:], sums)
    want_sums, want_total = _reference(rates, positions, cells, counts, 300)
    assert np.array_equal(sums, want_sums)
    assert first + second == pytest.approx(want_total, rel=1e-12)


def test_gather_rates_below_the_floor_count_as_the_floor():
    rates = np.array([0.0, -2.0, 1e-30, 1e-13, 1e-12, 3.0], np.float32)
    positions = np.arange(6, dtype=np.int32)
    counts = np.array([2.0, 1.0, 3.0, 0.0, 4.0, 5.0])
    sums = np.zeros(6)
    total = gather_poisson_terms(rates, positions, positions, counts, sums)
    floored = np.maximum(rates.astype(np.float64), RATE_FLOOR)
    assert RATE_FLOOR == 1e-12
    assert np.array_equal(sums, rates.astype(np.float64))  # the cell sums keep the raw rates
    assert total == pytest.approx(float(np.sum(counts * np.log(floored) - floored)), rel=1e-14)
    assert total == pytest.approx(
        metrics.poisson_rate_terms(counts, rates.astype(float)), rel=1e-14
    )


def test_gather_nan_rate_gives_nan_total_only_when_scored():
    rates, positions, cells, counts = _entries(seed=2)
    unscored = np.setdiff1d(np.arange(rates.size), positions)[0]
    rates[unscored] = np.nan
    assert np.isfinite(gather_poisson_terms(rates, positions, cells, counts, np.zeros(300)))
    rates[positions[3000]] = np.nan  # in the third block
    sums = np.zeros(300)
    assert np.isnan(gather_poisson_terms(rates, positions, cells, counts, sums))
    assert np.flatnonzero(np.isnan(sums)).tolist() == [cells[3000]]


def test_gather_of_no_entries_is_zero():
    sums = np.zeros(3)
    empty = np.zeros(0, np.int32)
    assert gather_poisson_terms(np.ones(4, np.float32), empty, empty, np.zeros(0), sums) == 0.0
    assert not sums.any()


N_TRIALS, N_TIME, N_UNITS, N_STEPS = 14, 11, 4, 8


def _scoring_problem(seed=0):
    """Ragged trials starting at different times, scored left-justified predictions (NaN at
    every entry that is not scored), and the same predictions on the dataset's time axis."""
    rng = np.random.default_rng(seed)
    offset = rng.integers(0, N_TIME - N_STEPS + 1, N_TRIALS)
    offset[0] = 0
    length = rng.integers(2, N_STEPS + 1, N_TRIALS)
    length[1] = N_STEPS
    time = np.arange(N_TIME)
    valid = (time >= offset[:, None]) & (time < (offset + length)[:, None])
    observed = rng.random((N_TRIALS, N_UNITS)) > 0.15
    mask = valid[..., None] & observed[:, None, :]
    counts = rng.poisson(1.5, (N_TRIALS, N_TIME, N_UNITS)).astype(np.float64) * mask
    keys = np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, N_TRIALS)]
    members = np.sort(rng.choice(N_TRIALS, 9, replace=False))
    train = np.setdiff1d(np.arange(N_TRIALS), members)
    baseline = metrics.PSTHBaseline.fit(counts, mask, keys, train)
    scored = mask & np.isin(np.arange(N_TRIALS), members)[:, None, None]
    rates = rng.gamma(2.0, 0.8, counts.shape).astype(np.float32).astype(np.float64)
    rates[0, offset[0], 0] = 0.0  # floored in the log-likelihood
    on_time_axis = np.where(scored, rates, np.nan)
    left = np.full((N_TRIALS, N_STEPS, N_UNITS), np.nan)
    for i in range(N_TRIALS):
        left[i] = on_time_axis[i, offset[i] : offset[i] + N_STEPS]
    data = {"obs": "poisson", "counts": counts, "mask": mask, "keys": keys, "members": members}
    return data, baseline, (offset, N_STEPS), left, on_time_axis


def _assert_same_metrics(got, want, rel=1e-9):
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert np.isfinite(value), key
        assert got[key] == pytest.approx(value, rel=rel, abs=1e-12), key


def _spy_gather(monkeypatch):
    calls = []
    real = split_scorer.gather_poisson_terms
    spy = lambda *a: calls.append(1) or real(*a)  # noqa: E731
    monkeypatch.setattr(split_scorer, "gather_poisson_terms", spy)
    return calls


@pytest.mark.parametrize("chunk", [256, 4])
def test_split_scorer_float32_layouts_and_float64_give_the_same_metrics(monkeypatch, chunk):
    monkeypatch.setattr(split_scorer, "CHUNK", chunk)  # 4: several chunks of trials
    data, baseline, steps, left, on_time_axis = _scoring_problem()
    assert steps[0].any()  # nonzero offsets
    reference = split_scorer.SplitScorer(**data, baseline=baseline).score(on_time_axis, 0.5)
    scorer = split_scorer.SplitScorer(**data, baseline=baseline, steps=steps)
    p32 = left.astype(np.float32)
    time_major = np.ascontiguousarray(p32.transpose(1, 0, 2)).transpose(1, 0, 2)
    stacked = np.stack([time_major.transpose(1, 0, 2) * 2, time_major.transpose(1, 0, 2)])
    member_view = stacked[1].transpose(1, 0, 2)  # a member of a stacked forward: offset start
    assert not time_major.flags.c_contiguous and not member_view.flags.c_contiguous
    calls = _spy_gather(monkeypatch)
    for prediction in (p32, time_major, member_view, p32):  # the last: cached layouts again
        before = len(calls)
        _assert_same_metrics(scorer.score(prediction, 0.5), reference)
        assert len(calls) > before
    before = len(calls)
    _assert_same_metrics(scorer.score(left, 0.5), reference)  # float64: the numpy path
    assert len(calls) == before
    got = scorer.score(p32, 0.5)
    mask, members = data["mask"][data["members"]], data["members"]
    ll = metrics.poisson_log_likelihood(data["counts"][members], on_time_axis[members], mask)
    assert got["ll_model"] == pytest.approx(ll, rel=1e-12)


def test_split_scorer_float32_nan_on_a_scored_entry_gives_nan_log_likelihood():
    data, baseline, steps, left, _ = _scoring_problem(seed=1)
    scorer = split_scorer.SplitScorer(**data, baseline=baseline, steps=steps)
    p32 = left.astype(np.float32)
    trial = int(data["members"][0])
    step, unit = np.argwhere(np.isfinite(p32[trial]))[0]
    p32[trial, step, unit] = np.nan
    got = scorer.score(p32, 0.5)
    assert np.isnan(got["ll_model"]) and np.isnan(got["bits_per_spike"])
    assert np.isfinite(got["ll_psth"])

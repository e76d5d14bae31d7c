"""log(y!) of counts: table lookup for integer counts, lgamma otherwise."""

from __future__ import annotations

import pytest
import torch

import alrnn_neuro.models.log_factorial as lf


def test_log_factorial_sum_is_exact_for_integer_counts_and_falls_back_otherwise():
    counts = torch.tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 170.0]], dtype=torch.float64)
    expected = float(torch.lgamma(counts + 1.0).sum())
    assert float(lf.log_factorial_sum(counts)) == pytest.approx(expected, rel=1e-14)
    assert float(lf.log_factorial_sum(counts.float())) == pytest.approx(expected, rel=1e-6)
    rates = torch.tensor([0.5, 2.25, 3.0], dtype=torch.float64)  # not integer: lgamma itself
    assert float(lf.log_factorial_sum(rates)) == float(torch.lgamma(rates + 1.0).sum())
    assert float(lf.log_factorial_sum(torch.zeros(0))) == 0.0


def test_log_factorial_steps_in_chunks_and_for_non_counts():
    counts = torch.poisson(torch.full((7, 5, 3), 2.0), generator=torch.Generator().manual_seed(1))
    whole = lf.log_factorial_steps(counts)
    assert torch.equal(lf.log_factorial_steps(counts, chunk=2), whole)
    assert torch.allclose(whole, torch.lgamma(counts.double() + 1).sum(-1))
    odd = torch.tensor([[[-1.0, 0.5]]])  # negative values count 0; non-integers use lgamma
    assert torch.allclose(lf.log_factorial_steps(odd), torch.lgamma(torch.tensor([[1.5]])).double())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
def test_log_factorial_steps_looks_integer_counts_up_with_the_very_values_of_lgamma(
    monkeypatch, dtype
):
    """Integer counts (negative = unobserved) give exactly what lgamma per entry gives, and
    lgamma runs once over 0 .. max count, not over every entry."""
    generator = torch.Generator().manual_seed(3)
    counts = torch.poisson(torch.full((40, 9, 6), 3.0), generator=generator)
    counts[0, 0, 0], counts[1, 2, 3] = -1.0, 250.0
    counts = counts.to(dtype)
    y = counts.double()
    expected = torch.where(y >= 0, torch.lgamma(y + 1.0), 0.0).sum(-1)
    sizes = []
    real = torch.lgamma
    monkeypatch.setattr(torch, "lgamma", lambda x: sizes.append(x.numel()) or real(x))
    got = lf.log_factorial_steps(counts, chunk=16)
    assert torch.equal(got, expected)
    assert sizes == [251]  # one table of 0..250


@pytest.mark.parametrize(
    "counts",
    [
        torch.tensor([0.5, 1.0]),  # fractional
        torch.tensor([float("nan"), 1.0]),
        torch.tensor([float(lf.MAX_TABLE_COUNT + 1)]),
    ],
)
def test_log_factorial_table_refuses_what_is_not_a_small_integer_count(counts):
    assert lf.log_factorial_table(counts) is None
    assert lf.log_factorial_table(torch.zeros(0)) is None


def test_log_factorial_steps_takes_lgamma_only_for_the_chunks_that_are_not_counts():
    counts = torch.poisson(torch.full((6, 4, 3), 2.0), generator=torch.Generator().manual_seed(5))
    counts[4, 1, 2] = 2.5  # the third chunk of two trials is not all integers
    y = counts.double()
    expected = torch.where(y >= 0, torch.lgamma(y + 1.0), 0.0).sum(-1)
    assert torch.allclose(lf.log_factorial_steps(counts, chunk=2), expected, rtol=1e-12, atol=0)

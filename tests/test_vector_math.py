"""Accuracy, special values and vectorisation of the compiled float32/float64 math functions."""

from __future__ import annotations

import platform
import re

import numba
import numpy as np
import pytest
import torch
from scipy.special import expit

from alrnn_neuro.models.vector_math import (
    EXP_FLOOR,
    FASTMATH,
    bits_double,
    bits_float,
    double_bits,
    exp_nonpositive,
    float_bits,
    log_double,
    log_normal,
    softplus_parts,
)

F32 = np.finfo(np.float32)
F64 = np.finfo(np.float64)
N = 10**6


def _elementwise(fn):
    """A compiled loop ``out[i] = fn(a[i])`` (with the kernels' fast-math flags)."""

    @numba.njit(fastmath=FASTMATH, error_model="numpy")
    def loop(a, out):
        for i in range(a.size):
            out[i] = fn(a[i])

    return loop


_exp, _log, _log64 = (_elementwise(f) for f in (exp_nonpositive, log_normal, log_double))
_float_bits, _bits_float = _elementwise(float_bits), _elementwise(bits_float)
_double_bits, _bits_double = _elementwise(double_bits), _elementwise(bits_double)


@numba.njit(fastmath=FASTMATH, error_model="numpy")
def _softplus(a, rate, sigmoid):
    for i in range(a.size):
        rate[i], sigmoid[i] = softplus_parts(a[i])


def _apply(fn, a, dtype=None):
    out = np.empty(a.shape, dtype=dtype or a.dtype)
    fn(a, out)
    return out


def _softplus_of(x):
    rate, sigmoid = np.empty_like(x), np.empty_like(x)
    _softplus(x, rate, sigmoid)
    return rate, sigmoid


def _ulp32(ref):
    """The float32 ulp at each float64 reference value (that of FLT_MIN below it)."""
    magnitude = np.maximum(np.abs(ref), float(F32.tiny))
    return np.ldexp(1.0, np.frexp(magnitude)[1] - 24)


def _ulp64(ref):
    magnitude = np.maximum(np.abs(ref), F64.tiny)
    return np.ldexp(1.0, np.frexp(magnitude)[1] - 53)


def _max_ulps(got, ref, ulp):
    return float(np.max(np.abs(got.astype(np.float64) - ref) / ulp(ref)))


def test_exp_nonpositive_within_2_ulp_over_the_normal_range():
    a = np.linspace(-87.0, 0, N, dtype=np.float32)  # results >= 1.6e-38, normal floats
    a = np.concatenate([a, [-87.3, -0.0, 0.0]]).astype(np.float32)
    got = _apply(_exp, a)
    ref = np.exp(a.astype(np.float64))
    assert _max_ulps(got, ref, _ulp32) <= 2.0
    assert got[-1] == 1.0 and got[-2] == 1.0


def test_exp_nonpositive_gives_subnormal_results_down_to_the_floor():
    a = np.linspace(np.nextafter(EXP_FLOOR, np.float32(0)), -87.3, 100_000, dtype=np.float32)
    got = _apply(_exp, a)
    ref = np.exp(a.astype(np.float64))
    assert _max_ulps(got, ref, _ulp32) <= 2.0  # ulps of the subnormal spacing 2^-149
    assert (got[a > -103] > 0).all()  # not flushed to zero


def test_exp_nonpositive_is_exactly_zero_below_the_floor_and_for_minus_inf():
    a = np.linspace(-1e4, EXP_FLOOR, 10_000, dtype=np.float32)
    a = np.concatenate([a, [EXP_FLOOR, -1e30, -F32.max, -np.inf]]).astype(np.float32)
    got = _apply(_exp, a)
    assert np.array_equal(got, np.zeros_like(a))
    assert not np.signbit(got).any()


def test_log_normal_within_2_ulp_over_all_normal_floats():
    v = np.geomspace(float(F32.tiny), float(F32.max), N).astype(np.float32)
    v = np.concatenate([v, [F32.tiny, F32.max, 1.0, 2.0, 0.5]]).astype(np.float32)
    got = _apply(_log, v)
    ref = np.log(v.astype(np.float64))
    assert _max_ulps(got, ref, _ulp32) <= 2.0
    assert got[-3] == 0.0  # log 1


def test_log_normal_stays_within_2_ulp_of_its_tiny_results_next_to_1():
    """Next to 1 the result is tiny; f = m - 1 is exact there, so the error stays relative
    (well inside the 2^-24 absolute bound the module doc allows)."""
    steps = np.arange(-(2**16), 2**16 + 1)
    below = (1.0 + steps[steps < 0] * 2.0**-24).astype(np.float32)  # every float in [1-2^-8, 1)
    above = (1.0 + steps[steps >= 0] * 2.0**-23).astype(np.float32)  # every float in [1, 1+2^-7]
    wide = np.linspace(0.5, 2.0, N, dtype=np.float32)
    for v in (below, above, wide):
        got = _apply(_log, v)
        ref = np.log(v.astype(np.float64))
        assert _max_ulps(got, ref, _ulp32) <= 2.0
        assert float(np.max(np.abs(got - ref))) <= 2.0**-24


def test_softplus_parts_within_4_ulp_of_float64_above_the_floor():
    x = np.linspace(-100, 100, N, dtype=np.float32)
    x = np.concatenate([x, [0.0, -0.0, 1e-30, -1e-30, np.nextafter(EXP_FLOOR, np.float32(0))]])
    x = x[x > EXP_FLOOR].astype(np.float32)
    rate, sigmoid = _softplus_of(x)
    xd = x.astype(np.float64)
    assert _max_ulps(rate, np.logaddexp(0.0, xd), _ulp32) <= 4.0
    assert _max_ulps(sigmoid, expit(xd), _ulp32) <= 4.0


def test_softplus_parts_special_values():
    x = np.array([np.nan, np.inf, -np.inf, -1e30, -110.0, 1e30, 0.0, -0.0], np.float32)
    rate, sigmoid = _softplus_of(x)
    assert np.isnan(rate[0]) and np.isnan(sigmoid[0])
    assert rate[1] == np.inf and sigmoid[1] == 1.0
    assert np.array_equal(rate[2:5], np.zeros(3)) and np.array_equal(sigmoid[2:5], np.zeros(3))
    assert rate[5] == np.float32(1e30) and sigmoid[5] == 1.0
    assert np.allclose(rate[6:], np.log(2.0), rtol=2**-23, atol=0) and np.all(sigmoid[6:] == 0.5)


def test_softplus_parts_is_exp_x_far_below_zero_like_torch():
    """Where exp(x) is subnormal, softplus(x) and sigmoid(x) are exp(x) (what torch gives),
    not 0: a Poisson rate there still has a gradient."""
    x = np.array([-87.5, -90.0, -100.0, -103.0], np.float32)
    rate, sigmoid = _softplus_of(x)
    want = torch.nn.functional.softplus(torch.from_numpy(x)).numpy()
    assert (rate > 0).all() and (sigmoid > 0).all()
    np.testing.assert_allclose(rate, want, rtol=1e-2)
    np.testing.assert_allclose(sigmoid, want, rtol=1e-2)


def test_logs_of_infinity_are_infinity():
    assert _apply(_log, np.array([np.inf], np.float32))[0] == np.inf
    assert _apply(_log64, np.array([np.inf]))[0] == np.inf


def test_log_double_within_1_ulp_of_numpy_over_the_whole_range():
    v = np.geomspace(1e-300, 1e300, N)
    v = np.concatenate([v, [F64.tiny, F64.max, 0.5, 2.0]])
    got = _apply(_log64, v)
    assert _max_ulps(got, np.log(v), _ulp64) <= 1.0


def test_log_double_within_1_ulp_of_numpy_around_1():
    steps = np.arange(-20_000, 20_001)
    for v in (1.0 + steps * 2.0**-53, 1.0 + steps * 2.0**-45, np.linspace(0.5, 2.0, N)):
        got = _apply(_log64, v)
        assert _max_ulps(got, np.log(v), _ulp64) <= 1.0
    assert _apply(_log64, np.array([1.0]))[0] == 0.0


def test_float_bitcasts_round_trip_bit_for_bit():
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, F32.tiny, F32.max, 1e-45, -3e-42]
    x = np.concatenate([np.array(special, np.float32), rng.normal(size=1000).astype(np.float32)])
    x = np.concatenate([x, np.array([0x7FC12345, 0xFFA00001], np.uint32).view(np.float32)])
    bits = _apply(_float_bits, x, np.int32)
    assert np.array_equal(bits, x.view(np.int32))
    back = _apply(_bits_float, bits, np.float32)
    assert np.array_equal(back.view(np.int32), bits)
    # a wider integer: its low 32 bits
    wide = bits.astype(np.int64) & 0xFFFFFFFF | (np.int64(0x5A) << 32)
    assert np.array_equal(_apply(_bits_float, wide, np.float32).view(np.int32), bits)


def test_double_bitcasts_round_trip_bit_for_bit():
    rng = np.random.default_rng(1)
    special = [0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, F64.tiny, F64.max, 5e-324]
    x = np.concatenate([np.array(special), rng.normal(size=1000) * 1e100])
    bits = _apply(_double_bits, x, np.int64)
    assert np.array_equal(bits, x.view(np.int64))
    back = _apply(_bits_double, bits, np.float64)
    assert np.array_equal(back.view(np.int64), bits)


def _packed_fma(asm: str, suffix: str) -> bool:
    """Whether some line of ``asm`` is a fused multiply-add on packed (ymm or zmm) floats."""
    pattern = rf"\bv?fn?m(?:add|sub)\d*{suffix}\b.*%[yz]mm"
    return any(re.search(pattern, line) for line in asm.splitlines())


def _needs_avx2():
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the assembly check reads x86 registers")
    if numba.config.CPU_NAME not in (None, "host"):
        pytest.skip(f"numba compiles for CPU_NAME={numba.config.CPU_NAME!r}, not this host")
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    if not (features.get("avx2") and features.get("fma")):
        pytest.skip("this CPU lacks AVX2/FMA: no packed ymm/zmm code to look for")


def test_loops_of_the_functions_compile_to_packed_simd_code():
    _needs_avx2()
    x32 = np.linspace(-3, 3, 64, dtype=np.float32)
    _softplus_of(x32)
    _apply(_log, np.abs(x32) + 1)
    _apply(_log64, np.abs(x32.astype(np.float64)) + 1)
    for fn, suffix in ((_softplus, "ps"), (_log, "ps"), (_log64, "pd")):
        asm = fn.inspect_asm(fn.signatures[0])
        assert _packed_fma(asm, suffix), f"{fn.__name__}: no packed {suffix} FMA on ymm/zmm"

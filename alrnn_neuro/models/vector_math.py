"""``exp``, ``log`` and ``softplus`` that numba can vectorise, for compiled kernels.

numba compiles ``math.exp`` and ``math.log`` to calls of the C library, one number at a
time: a pip-installed llvmlite has no vector math library (SVML), so a loop that calls them
runs scalar and is slower than torch's vectorised kernels. These functions are the
classic Cephes float32 polynomials (and fdlibm's float64 log) with the exponent handled by
bit operations (reading and writing the exponent field through the bitcasts
:func:`float_bits`, :func:`bits_float`, :func:`double_bits`, :func:`bits_double`), so a loop
of them contains only arithmetic, comparisons and selects, and LLVM turns it into SIMD code
(about 0.25 ns per exp or log on one core here, against 10-25 ns for the scalar C calls).

Accuracy (measured against float64 numpy over 10^6 points or more; tested in
``tests/test_vector_math.py``): :func:`exp_nonpositive` within 2 float32 ulp on [-87, 0]
(subnormal results below); :func:`log_normal` within 2 ulp for normal positive float32;
:func:`softplus_parts` within 4 ulp; :func:`log_double` within 1 float64 ulp. They are meant
for ``@numba.njit(inline="always")`` use inside kernels compiled with ``fastmath=FASTMATH``
(contraction into FMAs only: no flags that assume finite numbers, so NaN and infinities
compare honestly); a kernel's running sums use :func:`sum_add`, the one addition that may be
reordered, so that the loop still vectorises.

numba caches a compiled kernel by its own file's time stamp, not by the files it inlines from:
after editing this module, delete the kernels' caches (``__pycache__/*.nbi``, ``*.nbc``) or
touch their modules (:mod:`.poisson_kernels`, :mod:`~alrnn_neuro.training.metric_kernels`).
An installed release rewrites every file, so users are not affected.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: fast-math flags of elementwise code: fused multiply-adds only. Not ``reassoc``, which would
#: allow LLVM to regroup the split range reductions (``a - k ln2_hi - k ln2_lo``) and
#: compensated terms (``e - (u - 1)``) these functions depend on; nor anything that assumes
#: finite numbers. Running sums use :func:`sum_add` instead.
FASTMATH = {"contract"}
#: at and below this, exp underflows even the subnormal float32 range: :func:`exp_nonpositive`
#: gives 0 (exp(-104) = 6.8e-46 < 1.4e-45, the smallest subnormal)
EXP_FLOOR = np.float32(-104.0)

_F, _I = np.float32, np.int32
_LOG2E = _F(1.4426950408889634)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 split for exact range reduction
_LN2 = _F(0.6931471805599453)
_SQRT2 = _F(1.4142135623730951)
_MANTISSA, _ONE_BITS = _I(0x007FFFFF), _I(0x3F800000)
_F_INF = _F(np.inf)


def _bitcast_to(target: ir.Type, width: int):
    """Codegen of an LLVM bitcast to ``target`` of ``width`` bits; a wider integer is
    truncated first (its low bits kept). Bitcasts are free and vectorise."""

    def codegen(context, builder, signature, args):
        value = args[0]
        if isinstance(value.type, ir.IntType) and value.type.width > width:
            value = builder.trunc(value, ir.IntType(width))
        return builder.bitcast(value, target)

    return codegen


@intrinsic
def float_bits(typingctx, x):
    """The IEEE bits of a float32 as an int32."""
    if x != types.float32:
        return None
    return types.int32(x), _bitcast_to(ir.IntType(32), 32)


@intrinsic
def bits_float(typingctx, x):
    """The float32 whose IEEE bits are the low 32 bits of an integer."""
    if not isinstance(x, types.Integer):
        return None
    return types.float32(x), _bitcast_to(ir.FloatType(), 32)


@intrinsic
def double_bits(typingctx, x):
    """The IEEE bits of a float64 as an int64."""
    if x != types.float64:
        return None
    return types.int64(x), _bitcast_to(ir.IntType(64), 64)


@intrinsic
def bits_double(typingctx, x):
    """The float64 whose IEEE bits are an int64."""
    if not isinstance(x, types.Integer) or x.bitwidth != 64:
        return None
    return types.float64(x), _bitcast_to(ir.DoubleType(), 64)


@intrinsic
def sum_add(typingctx, total, value):
    """``total + value`` that LLVM may reassociate (``fadd reassoc``), for running sums.

    A loop whose sum uses it vectorises (partial sums per SIMD lane, added at the end) while
    every other operation keeps its order (see :data:`FASTMATH`). Both of one float type.
    """
    if total != value or not isinstance(total, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc", "contract"))

    return total(total, value), codegen


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def exp_nonpositive(a):
    """``exp(a)`` for float32 ``a <= 0``, subnormal results included; 0 for ``a <= EXP_FLOOR``
    (and for NaN: test for it first).

    ``a = k ln 2 + r`` with ``|r| <= ln 2 / 2``, ``exp(r)`` from Cephes' degree-6
    polynomial, ``2^k`` written straight into the exponent field (as two normal factors
    ``2^max(k, -126) 2^(k - max(k, -126))`` where the result is subnormal).
    """
    clamped = a if a > EXP_FLOOR else EXP_FLOOR
    k_int = _I(clamped * _LOG2E - _F(0.5))  # truncation of a negative number: round to nearest
    k = _F(k_int)
    r = clamped - k * _LN2_HI - k * _LN2_LO
    p = _F(1.9875691500e-4)
    p = p * r + _F(1.3981999507e-3)
    p = p * r + _F(8.3334519073e-3)
    p = p * r + _F(4.1665795894e-2)
    p = p * r + _F(1.6666665459e-1)
    p = p * r + _F(5.0000001201e-1)
    p = p * r * r + r + _F(1.0)
    high = k_int if k_int > _I(-126) else _I(-126)
    value = (
        p * bits_float((high + _I(127)) << _I(23)) * bits_float((k_int - high + _I(127)) << _I(23))
    )
    return value if a > EXP_FLOOR else _F(0.0)


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def log_normal(v):
    """``log(v)`` for a normal float32 ``v > 0`` or ``+inf``.

    ``v = m 2^e`` with ``m`` in [sqrt(1/2), sqrt(2)), ``log(m)`` from Cephes' degree-9
    polynomial in ``m - 1``.
    """
    bits = float_bits(v)
    e = _F((bits >> _I(23)) - _I(127))
    m = bits_float((bits & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = m * _F(0.5) if big else m
    e = e + _F(1.0) if big else e
    f = m - _F(1.0)
    q = _F(7.0376836292e-2)
    q = q * f - _F(1.1514610310e-1)
    q = q * f + _F(1.1676998740e-1)
    q = q * f - _F(1.2420140846e-1)
    q = q * f + _F(1.4249322787e-1)
    q = q * f - _F(1.6668057665e-1)
    q = q * f + _F(2.0000714765e-1)
    q = q * f - _F(2.4999993993e-1)
    q = q * f + _F(3.3333331174e-1)
    value = f + f * f * (f * q - _F(0.5)) + e * _LN2
    return value if v < _F_INF else v


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def softplus_parts(x):
    """``(softplus(x), sigmoid(x))`` of a float32, sharing one exp and one log.

    ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``; ``log1p(e)`` is ``log(u) + (e - (u -
    1)) / u`` with ``u = 1 + e`` rounded (the correction restores what the rounding of ``u``
    lost); ``sigmoid(x) = 1 / u`` for ``x >= 0``, else ``e / u``. NaN gives NaN; ``+inf``
    gives ``(inf, 1)``; subnormal values down to -103, then ``(0, 0)``.
    """
    return softplus_from_exp(x, exp_nonpositive(-abs(x)))


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def softplus_from_exp(x, e):
    """:func:`softplus_parts` of ``x`` given ``e = exp_nonpositive(-abs(x))``.

    A loop can then compute the exp of a block of entries in a pass of its own: one pass
    with the exp, the log and the division of every entry makes a dependency chain longer
    than the core can overlap across entries (see :mod:`.poisson_kernels`).
    """
    u = _F(1.0) + e
    inv_u = _F(1.0) / u
    log1p_e = log_normal(u) + (e - (u - _F(1.0))) * inv_u
    rate = (x + log1p_e) if x > _F(0.0) else log1p_e
    sigmoid = inv_u if x >= _F(0.0) else e * inv_u
    if x != x:  # NaN in, NaN out (a select once vectorised)
        return x, x
    return rate, sigmoid


_D = np.float64
_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_LN2_HI64, _LN2_LO64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_D_MANTISSA, _D_ONE_BITS = np.int64(0x000FFFFFFFFFFFFF), np.int64(0x3FF0000000000000)
_D_INF = np.float64(np.inf)


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def log_double(v):
    """``log(v)`` for a normal float64 ``v > 0`` or ``+inf``, within 1 ulp (fdlibm's ``log``).

    ``v = (1 + f) 2^k`` with ``1 + f`` in [sqrt(1/2), sqrt(2)); ``s = f / (2 + f)`` and
    ``log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2))`` with fdlibm's degree-14 polynomial R.
    """
    bits = double_bits(v)
    k = _D((bits >> np.int64(52)) - np.int64(1023))
    m = bits_double((bits & _D_MANTISSA) | _D_ONE_BITS)  # in [1, 2)
    big = m > _D(1.4142135623730951)
    m = m * _D(0.5) if big else m
    k = k + _D(1.0) if big else k
    f = m - _D(1.0)
    s = f / (_D(2.0) + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    half_f2 = _D(0.5) * f * f
    value = k * _LN2_HI64 - ((half_f2 - (s * (half_f2 + t1 + t2) + k * _LN2_LO64)) - f)
    return value if v < _D_INF else v

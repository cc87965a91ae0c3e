"""Branch-free sin(pi x), cos(pi x), exp and tanh for the compiled kernels.

libm calls cannot be vectorised by LLVM; these polynomial forms can, which makes
the lane loops of the kernels several times faster. Each polynomial is a Taylor
series economised on its interval (its Chebyshev expansion cut short: the same
accuracy with 3 fewer terms), evaluated by Horner's rule with fused multiply-adds
(half the instructions and a shorter dependency chain than a multiply and an add). ``fma`` is
``llvm.fma``: correctly rounded by definition, one instruction where the CPU has it
and libm's (equally exact) ``fma`` where it has not, so results do not depend on
the host. Accuracy is within a few ulps of libm (checked in tests).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

_PI = math.pi
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.0 / math.log(2.0)
_MIN_EXP = -708.0
_MAX_EXP = 709.0


def economized(taylor: list[Fraction], lo: Fraction, hi: Fraction, degree: int) -> list[float]:
    """Coefficients (highest first) of the degree-``degree`` polynomial that keeps the first
    ``degree + 1`` Chebyshev terms, on [lo, hi], of the polynomial ``taylor`` (lowest first).

    Dropping the higher Chebyshev terms errs by at most the sum of their coefficients, spread
    evenly over the interval instead of piled up at its ends as a truncated Taylor series does.
    """
    n = len(taylor) - 1
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    q = [Fraction(0)] * (n + 1)  # the same polynomial in u = (t - mid) / half, u in [-1, 1]
    for i, a in enumerate(taylor):
        for j in range(i + 1):
            q[j] += a * math.comb(i, j) * mid ** (i - j) * half**j
    cheb = [[Fraction(1)], [Fraction(0), Fraction(1)]]  # T_k as monomials, lowest first
    for k in range(2, n + 1):
        up = [Fraction(0)] + [2 * c for c in cheb[k - 1]]
        cheb.append([a - b for a, b in zip(up, cheb[k - 2] + [Fraction(0)] * 2, strict=True)])
    c = [Fraction(0)] * (n + 1)
    for k in range(n, -1, -1):  # monomials -> Chebyshev, highest term first
        c[k] = q[k] / cheb[k][k]
        for j in range(k + 1):
            q[j] -= c[k] * cheb[k][j]
    kept = [sum((c[k] * cheb[k][j] for k in range(j, degree + 1)), Fraction(0)) for j in range(degree + 1)]
    out = [Fraction(0)] * (degree + 1)  # back to t
    for j, a in enumerate(kept):
        for i in range(j + 1):
            out[i] += a * math.comb(j, i) * (-mid) ** (j - i) / half**j
    return [float(a) for a in reversed(out)]


# The polynomials: sin(y)/y and cos(y) in z = y^2 for y = pi r, |r| <= 1/2 (z in [0, pi^2/4]),
# and exp(r) for |r| <= ln2/2; highest power first. ``polynomial_coefficients()`` derives them
# (a test checks that it gives exactly these).
S0, S1, S2, S3, S4, S5, S6, S7, S8 = (
    2.7215821926997076e-15, -7.643027273612204e-13, 1.6058940907182887e-10, -2.5052106891168703e-08,
    2.755731921123654e-06, -0.0001984126984120872, 0.008333333333333186, -0.16666666666666666, 1.0)
C0, C1, C2, C3, C4, C5, C6, C7, C8 = (
    4.608992189914223e-14, -1.1462903400770852e-11, 2.087656190004232e-09, -2.755731639228085e-07,
    2.4801587277429444e-05, -0.0013888888888773081, 0.04166666666666388, -0.4999999999999997, 1.0)
E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11 = (
    2.5114870219497476e-08, 2.7632640675430235e-07, 2.755722495611072e-06, 2.480148547921643e-05,
    0.00019841269909219843, 0.0013888888952318045, 0.008333333333309526, 0.04166666666648808,
    0.16666666666666702, 0.5000000000000019, 1.0, 1.0)


def polynomial_coefficients() -> dict[str, list[float]]:
    """The kernels' coefficients, derived: Taylor series economised to degree 8 (sin, cos, in z)
    and 11 (exp). Exact rational arithmetic; takes tens of milliseconds, so not run at import."""
    z_max = Fraction(math.pi) ** 2 / 4
    half_ln2 = Fraction(math.log(2.0)) / 2
    sin_y = [Fraction((-1) ** k, math.factorial(2 * k + 1)) for k in range(16)]
    cos_y = [Fraction((-1) ** k, math.factorial(2 * k)) for k in range(16)]
    exp_r = [Fraction(1, math.factorial(k)) for k in range(24)]
    return {"S": economized(sin_y, Fraction(0), z_max, 8), "C": economized(cos_y, Fraction(0), z_max, 8),
            "E": economized(exp_r, -half_ln2, half_ln2, 11)}


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (``llvm.fma``)."""
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def _f2i(typingctx, src):
    """Reinterpret a float64's bits as an int64 (vectorisable, unlike ldexp)."""
    if src != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, src):
    """Reinterpret an int64's bits as a float64."""
    if src != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


_ROUND_MAGIC = 6755399441055744.0  # 2**52 + 2**51: adding it leaves an integer's value in the low bits
_ROUND_MAGIC_BITS = 0x4338000000000000


@numba.njit(inline="always", cache=True, error_model="numpy")
def _reduce(x):
    k = np.floor(x + 0.5)
    r = x - k
    sign = 1.0 - 2.0 * (k - 2.0 * np.floor(k * 0.5))
    return r, sign


@numba.njit(inline="always", cache=True, error_model="numpy")
def sinpi(x):
    """sin(pi * x)."""
    r, sign = _reduce(x)
    y = _PI * r
    z = y * y
    p = fma(S0, z, S1)
    p = fma(p, z, S2)
    p = fma(p, z, S3)
    p = fma(p, z, S4)
    p = fma(p, z, S5)
    p = fma(p, z, S6)
    p = fma(p, z, S7)
    p = fma(p, z, S8)
    return sign * (y * p)


@numba.njit(inline="always", cache=True, error_model="numpy")
def cospi(x):
    """cos(pi * x)."""
    r, sign = _reduce(x)
    y = _PI * r
    z = y * y
    p = fma(C0, z, C1)
    p = fma(p, z, C2)
    p = fma(p, z, C3)
    p = fma(p, z, C4)
    p = fma(p, z, C5)
    p = fma(p, z, C6)
    p = fma(p, z, C7)
    p = fma(p, z, C8)
    return sign * p


@numba.njit(inline="always", cache=True, error_model="numpy")
def exp(x):
    """exp(x); 0 below -708, inf above 709, NaN stays NaN."""
    res = _exp_core(min(max(x, _MIN_EXP), _MAX_EXP))
    if x < _MIN_EXP:
        res = 0.0
    if x > _MAX_EXP:
        res = np.inf
    return res


@numba.njit(inline="always", cache=True, error_model="numpy")
def _exp_core(xc):
    """exp for xc in [-708, 709]."""
    k = np.floor(xc * _INV_LN2 + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = fma(E0, r, E1)
    p = fma(p, r, E2)
    p = fma(p, r, E3)
    p = fma(p, r, E4)
    p = fma(p, r, E5)
    p = fma(p, r, E6)
    p = fma(p, r, E7)
    p = fma(p, r, E8)
    p = fma(p, r, E9)
    p = fma(p, r, E10)
    p = fma(p, r, E11)
    ki = _f2i(k + _ROUND_MAGIC) - _ROUND_MAGIC_BITS  # k is in [-1021, 1023]: 2**k is normal
    return p * _i2f((ki + 1023) << 52)


@numba.njit(inline="always", cache=True, error_model="numpy")
def tanh(x):
    """tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); absolute error ~1e-16."""
    e = _exp_core(max(-2.0 * abs(x), _MIN_EXP))
    return math.copysign((1.0 - e) / (1.0 + e), x)

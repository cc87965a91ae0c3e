"""Branch-free sin(pi x), cos(pi x), exp and tanh for the compiled kernels.

libm calls cannot be vectorised by LLVM; these polynomial forms can, which makes
the lane loops of the kernels several times faster. Accuracy is within a few
ulps of libm (checked in tests), far below anything the search can notice.
"""

from __future__ import annotations

import math

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

# Taylor coefficients of sin(y)/y and cos(y) in y^2, highest first, for |y| <= pi/2
_S = [(-1.0) ** k / math.factorial(2 * k + 1) for k in range(12)][::-1]
_C = [(-1.0) ** k / math.factorial(2 * k) for k in range(12)][::-1]
# Taylor coefficients of exp(r) for |r| <= ln2/2, highest first
_E = [1.0 / math.factorial(k) for k in range(15)][::-1]
S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11 = _S
C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11 = _C
E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14 = _E


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
    p = S0
    p = p * z + S1
    p = p * z + S2
    p = p * z + S3
    p = p * z + S4
    p = p * z + S5
    p = p * z + S6
    p = p * z + S7
    p = p * z + S8
    p = p * z + S9
    p = p * z + S10
    p = p * z + S11
    return sign * (y * p)


@numba.njit(inline="always", cache=True, error_model="numpy")
def cospi(x):
    """cos(pi * x)."""
    r, sign = _reduce(x)
    y = _PI * r
    z = y * y
    p = C0
    p = p * z + C1
    p = p * z + C2
    p = p * z + C3
    p = p * z + C4
    p = p * z + C5
    p = p * z + C6
    p = p * z + C7
    p = p * z + C8
    p = p * z + C9
    p = p * z + C10
    p = p * z + C11
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
    p = E0
    p = p * r + E1
    p = p * r + E2
    p = p * r + E3
    p = p * r + E4
    p = p * r + E5
    p = p * r + E6
    p = p * r + E7
    p = p * r + E8
    p = p * r + E9
    p = p * r + E10
    p = p * r + E11
    p = p * r + E12
    p = p * r + E13
    p = p * r + E14
    ki = _f2i(k + _ROUND_MAGIC) - _ROUND_MAGIC_BITS  # k is in [-1021, 1023]: 2**k is normal
    return p * _i2f((ki + 1023) << 52)


@numba.njit(inline="always", cache=True, error_model="numpy")
def tanh(x):
    """tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); absolute error ~1e-16."""
    e = _exp_core(max(-2.0 * abs(x), _MIN_EXP))
    return math.copysign((1.0 - e) / (1.0 + e), x)

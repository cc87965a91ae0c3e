"""Single-precision activations and the classification tasks' float32 population pass.

``mean_logp`` is the population pass of ``classify_kernels`` built with ``activate_lanes`` here: node
values, inputs and weights are float32 (twice the lanes per vector instruction, half the memory traffic
of float64); the log-softmax and the mean over the batch stay float64. The activations are the kernel
math of ``kmath`` at single precision: polynomials economised to float32 accuracy (sin/cos degree 5 in
y^2, exp degree 6; ``kmath.economized`` gives them, a test checks), evaluated with fused multiply-adds.
Absolute error below 2e-7 on [-40, 40].
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

from .classify_kernels import _population_pass

F0, F1, F2, FHALF = np.float32(0.0), np.float32(1.0), np.float32(2.0), np.float32(0.5)
PI = np.float32(np.pi)
S0, S1, S2, S3, S4, S5 = (np.float32(c) for c in (
    -2.3889498373196678e-08, 2.752528712504216e-06, -0.0001984086155320694, 0.00833333097750362,
    -0.1666666661691728, 0.9999999999829693))
C0, C1, C2, C3, C4, C5 = (np.float32(c) for c in (
    -2.605107635334977e-07, 2.476013551720071e-05, -0.0013888360842554963, 0.04166663620893015,
    -0.49999999356956465, 0.9999999997799042))
E0, E1, E2, E3, E4, E5, E6 = (np.float32(c) for c in (
    0.001394858081809386, 0.008375128890467473, 0.04166621827440191, 0.16666415477235322,
    0.5000000107749384, 1.0000000377274485, 0.9999999999595482))
SIN_Y, COS_Y, EXP_R = (S0, S1, S2, S3, S4, S5), (C0, C1, C2, C3, C4, C5), (E0, E1, E2, E3, E4, E5, E6)
LN2_HI = np.float32(0.693145751953125)  # few mantissa bits: k * LN2_HI is exact for |k| < 2**12
LN2_LO = np.float32(1.4286068203094173e-06)
INV_LN2 = np.float32(1.4426950408889634)
MIN_EXP = np.float32(-87.0)
MAX_EXP = np.float32(88.0)
ROUND_MAGIC = np.float32(12582912.0)  # 1.5 * 2**23
ROUND_MAGIC_BITS = 0x4B400000
INF = np.float32(np.inf)
NAN = np.float32(np.nan)


@intrinsic
def fma32(typingctx, a, b, c):
    """a * b + c rounded once, in float32 (``llvm.fma``)."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


@intrinsic
def _f2i(typingctx, src):
    if src != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


@intrinsic
def _i2f(typingctx, src):
    """The low 32 bits of an int64 as a float32's bits (numba widens int32 arithmetic to int64)."""
    if src != types.int64:
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], context.get_value_type(types.int32))
        return builder.bitcast(low, context.get_value_type(types.float32))

    return types.float32(types.int64), codegen


@numba.njit(inline="always", cache=True, error_model="numpy")
def _horner(c, x):
    """``c[0] x^n + c[1] x^(n-1) + ... + c[n]``: Horner's rule, one fused multiply-add per coefficient."""
    p = c[0]
    for k in range(1, len(c)):
        p = fma32(p, x, c[k])
    return p


@numba.njit(inline="always", cache=True, error_model="numpy")
def _reduce(x):
    """``(y, y * y, (-1)**k)`` for ``x = k + r``, k an integer, ``|r| <= 1/2``, ``y = pi r``."""
    k = np.floor(x + FHALF)
    y = PI * (x - k)
    return y, y * y, F1 - F2 * (k - F2 * np.floor(k * FHALF))


@numba.njit(inline="always", cache=True, error_model="numpy")
def sinpi(x):
    y, z, sign = _reduce(x)
    return sign * (y * _horner(SIN_Y, z))


@numba.njit(inline="always", cache=True, error_model="numpy")
def cospi(x):
    _, z, sign = _reduce(x)
    return sign * _horner(COS_Y, z)


@numba.njit(inline="always", cache=True, error_model="numpy")
def _exp_core(xc):
    """exp for xc in [MIN_EXP, MAX_EXP]."""
    k = np.floor(xc * INV_LN2 + FHALF)
    r = (xc - k * LN2_HI) - k * LN2_LO
    p = _horner(EXP_R, r)
    ki = _f2i(k + ROUND_MAGIC) - ROUND_MAGIC_BITS
    return p * _i2f((ki + 127) << 23)


@numba.njit(inline="always", cache=True, error_model="numpy")
def exp(x):
    res = _exp_core(min(max(x, MIN_EXP), MAX_EXP))
    if x < MIN_EXP:
        res = F0
    if x > MAX_EXP:
        res = INF
    if x != x:
        res = NAN
    return res


@numba.njit(inline="always", cache=True, error_model="numpy")
def tanh(x):
    e = _exp_core(max(-F2 * abs(x), MIN_EXP))
    t = (F1 - e) / (F1 + e)
    if x != x:
        t = NAN
    return t if x >= F0 else -t


@numba.njit(inline="always", cache=True, error_model="numpy")
def activate_lanes(a, acc, w, out, m):
    """``out[l] = act_a(acc[l] * w[l])`` in float32 (the activations of ``netpack.activate_lanes``)."""
    if a == 2:
        for i in range(m):
            out[i] = F1 if acc[i] * w[i] > F0 else F0
    elif a == 3:
        for i in range(m):
            out[i] = sinpi(acc[i] * w[i])
    elif a == 4:
        for i in range(m):
            v = acc[i] * w[i]
            out[i] = exp(-(v * v) * FHALF)
    elif a == 5:
        for i in range(m):
            out[i] = tanh(acc[i] * w[i])
    elif a == 6:
        for i in range(m):
            out[i] = (tanh((acc[i] * w[i]) * FHALF) + F1) * FHALF
    elif a == 7:
        for i in range(m):
            out[i] = -(acc[i] * w[i])
    elif a == 8:
        for i in range(m):
            out[i] = abs(acc[i] * w[i])
    elif a == 9:
        for i in range(m):
            v = acc[i] * w[i]
            out[i] = v if v > F0 else F0
    elif a == 10:
        for i in range(m):
            out[i] = cospi(acc[i] * w[i])
    elif a == 11:
        for i in range(m):
            v = acc[i] * w[i]
            out[i] = v * v
    else:
        for i in range(m):
            out[i] = acc[i] * w[i]


_forward, mean_logp = _population_pass(activate_lanes)

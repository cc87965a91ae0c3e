"""CartPoleSwingUp with the physics and reward of the original (WANN_SPEC 4.1).

Two implementations that agree step for step: ``SwingUpEnv`` (numpy, batched,
gymnasium-style reset/step, used for playback and checks) and a compiled kernel
that steps network and physics together for whole generations.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kmath import cospi, sinpi
from ..netpack import PackedNets, forward_lanes

G = 9.82
M_CART = 0.5
M_POLE = 0.5
M_TOTAL = M_CART + M_POLE
L_POLE = 0.6
M_P_L = M_POLE * L_POLE
FORCE_MAG = 10.0
DT = 0.01
FRICTION = 0.1
X_LIMIT = 2.4
T_LIMIT = 1000
INV_PI = 1.0 / math.pi

INPUT_NAMES = ("x", "x_dot", "cos(theta)", "sin(theta)", "theta_dot")
OUTPUT_NAMES = ("force",)


def initial_states(key: int | tuple[int, ...], reps: int) -> np.ndarray:
    """(reps, 4) start states (x, x_dot, theta, theta_dot) ~ N((0, 0, pi, 0), 0.2).

    Rep r depends only on (key, r): every network and every weight of a
    generation sees the same starts (common random numbers), whoever evaluates it.
    """
    key = (key,) if isinstance(key, int) else tuple(key)
    out = np.empty((reps, 4))
    for r in range(reps):
        rng = np.random.default_rng([*key, r])
        out[r] = rng.normal(0.0, 0.2, 4) + np.array([0.0, 0.0, math.pi, 0.0])
    return out


class SwingUpEnv:
    """Batched numpy CartPoleSwingUp: ``reset(states)`` then ``step(actions)``."""

    n_inputs = 5
    n_outputs = 1

    def reset(self, states: np.ndarray) -> np.ndarray:
        self.state = np.array(states, dtype=np.float64, ndmin=2)
        self.t = 0
        self.done = np.zeros(len(self.state), dtype=bool)
        return self.observe()

    def observe(self) -> np.ndarray:
        x, xd, th, thd = self.state.T
        return np.stack([x, xd, np.cos(th), np.sin(th), thd], 1)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance all episodes (finished ones too; callers mask them). Returns obs, reward, done."""
        f = np.clip(np.asarray(action, dtype=np.float64).reshape(len(self.state), -1)[:, 0], -1.0, 1.0) * FORCE_MAG
        x, xd, th, thd = self.state.T
        s, c = np.sin(th), np.cos(th)
        xdd = (-2 * M_P_L * (thd * thd) * s + 3 * M_POLE * G * s * c + 4 * f - 4 * FRICTION * xd) / (
            4 * M_TOTAL - 3 * M_POLE * c * c
        )
        thdd = (-3 * M_P_L * (thd * thd) * s * c + 6 * M_TOTAL * G * s + 6 * (f - FRICTION * xd) * c) / (
            4 * L_POLE * M_TOTAL - 3 * M_P_L * c * c
        )
        x = x + xd * DT
        th = th + thd * DT
        xd = xd + xdd * DT
        thd = thd + thdd * DT
        self.state = np.stack([x, xd, th, thd], 1)
        self.t += 1
        done = (x < -X_LIMIT) | (x > X_LIMIT) | (self.t >= T_LIMIT)
        reward = ((np.cos(th) + 1.0) / 2.0) * np.cos((x / X_LIMIT) * (math.pi / 2.0))
        self.done |= done
        return self.observe(), reward, done


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _rollouts_lanes(node_off, ptr, idx, act, n_in, weights, starts, max_steps, lo, hi, returns, steps):
    """Episodes of networks lo..hi-1 at every weight and start; writes returns[p, w, r], steps[p].

    All weight x start episodes of one network advance together as lanes (vectorised
    loops); finished lanes are swapped out of the live range, so only live episodes cost time.
    """
    n_w = weights.shape[0]
    n_r = starts.shape[0]
    n_l = n_w * n_r
    max_n = 0
    for p in range(lo, hi):
        max_n = max(max_n, node_off[p + 1] - node_off[p])
    vals = np.zeros((max_n, n_l))
    acc = np.empty(n_l)
    x = np.empty(n_l)
    xd = np.empty(n_l)
    th = np.empty(n_l)
    thd = np.empty(n_l)
    s = np.empty(n_l)
    c = np.empty(n_l)
    w = np.empty(n_l)
    total = np.empty(n_l)
    lane = np.empty(n_l, dtype=np.int64)
    for p in range(lo, hi):
        base = node_off[p]
        n = node_off[p + 1] - base
        for wi in range(n_w):
            for r in range(n_r):
                i = wi * n_r + r
                x[i] = starts[r, 0]
                xd[i] = starts[r, 1]
                th[i] = starts[r, 2]
                thd[i] = starts[r, 3]
                s[i] = sinpi(th[i] * INV_PI)
                c[i] = cospi(th[i] * INV_PI)
                w[i] = weights[wi]
                total[i] = 0.0
                lane[i] = i
        m = n_l
        t = 0
        live = 0
        while m > 0 and t < max_steps:
            vals[0, :m] = 1.0
            vals[1, :m] = x[:m]
            vals[2, :m] = xd[:m]
            vals[3, :m] = c[:m]
            vals[4, :m] = s[:m]
            vals[5, :m] = thd[:m]
            forward_lanes(vals, acc, base, n, n_in, ptr, idx, act, w, m)
            out = vals[n - 1]
            for i in range(m):
                a = out[i]
                if a > 1.0:
                    a = 1.0
                elif a < -1.0:
                    a = -1.0
                f = a * FORCE_MAG
                si = s[i]
                ci = c[i]
                xdi = xd[i]
                thdi = thd[i]
                xdd = (-2 * M_P_L * (thdi * thdi) * si + 3 * M_POLE * G * si * ci + 4 * f - 4 * FRICTION * xdi) / (
                    4 * M_TOTAL - 3 * M_POLE * ci * ci
                )
                thdd = (-3 * M_P_L * (thdi * thdi) * si * ci + 6 * M_TOTAL * G * si + 6 * (f - FRICTION * xdi) * ci) / (
                    4 * L_POLE * M_TOTAL - 3 * M_P_L * ci * ci
                )
                x[i] = x[i] + xdi * DT
                th[i] = th[i] + thdi * DT
                xd[i] = xdi + xdd * DT
                thd[i] = thdi + thdd * DT
                s[i] = sinpi(th[i] * INV_PI)
                c[i] = cospi(th[i] * INV_PI)
                total[i] += ((c[i] + 1.0) / 2.0) * cospi((x[i] / X_LIMIT) * 0.5)
            t += 1
            live += m
            i = 0
            while i < m:
                if x[i] < -X_LIMIT or x[i] > X_LIMIT:
                    returns[p, lane[i] // n_r, lane[i] % n_r] = total[i]
                    m -= 1
                    x[i] = x[m]
                    xd[i] = xd[m]
                    th[i] = th[m]
                    thd[i] = thd[m]
                    s[i] = s[m]
                    c[i] = c[m]
                    w[i] = w[m]
                    total[i] = total[m]
                    lane[i] = lane[m]
                else:
                    i += 1
        for i in range(m):
            returns[p, lane[i] // n_r, lane[i] % n_r] = total[i]
        steps[p] = live


def rollouts(
    packed: PackedNets, weights: np.ndarray, starts: np.ndarray, max_steps: int, lo: int = 0, hi: int | None = None,
    returns: np.ndarray | None = None, steps: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (P, W, R) and live steps per network; releases the GIL, so threads can share the work."""
    hi = packed.count if hi is None else hi
    if returns is None:
        returns = np.zeros((packed.count, len(weights), len(starts)))
    if steps is None:
        steps = np.zeros(packed.count, dtype=np.int64)
    _rollouts_lanes(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in,
              np.asarray(weights, dtype=np.float64), np.ascontiguousarray(starts, dtype=np.float64),
              int(max_steps), lo, hi, returns, steps)
    return returns, steps

"""CartPoleSwingUp with the physics and reward of the original release.

Two implementations that agree step for step: ``SwingUpEnv`` (numpy, batched,
gymnasium-style reset/step, used for playback and checks) and a compiled kernel
that steps network and physics together for whole generations.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kmath import cospi, sinpi
from ..netpack import PackedNets, forward_lanes, forward_lanes_weighted

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


@numba.njit(inline="always", cache=True, error_model="numpy")
def _whole_vectors(m):
    """``m`` lanes rounded up to a multiple of 8 (whole 512-bit vectors, two 256-bit ones): the network
    pass has no scalar tail. 18 lanes padded to 24 run 1.2x faster than padded to 20 or 32 where LLVM
    vectorises 8 wide (AVX-512)."""
    return (m + 7) // 8 * 8


@numba.njit(inline="always", cache=True, error_model="numpy")
def _lane_arrays(n):
    """Per-lane work arrays (zeroed): accumulator, state, sin/cos, weight, return, episode index."""
    z = np.zeros
    return z(n), z(n), z(n), z(n), z(n), z(n), z(n), z(n), z(n), np.zeros(n, dtype=np.int64)


@numba.njit(inline="always", cache=True, error_model="numpy")
def _reset_lane(start, i, x, xd, th, thd, s, c, total):
    """Lane ``i`` begins an episode at ``start`` = (x, x_dot, theta, theta_dot)."""
    x[i] = start[0]
    xd[i] = start[1]
    th[i] = start[2]
    thd[i] = start[3]
    s[i] = sinpi(th[i] * INV_PI)
    c[i] = cospi(th[i] * INV_PI)
    total[i] = 0.0


@numba.njit(inline="always", cache=True, error_model="numpy")
def _move_lane(src, dst, x, xd, th, thd, s, c, total):
    """Copy the episode state of lane ``src`` into lane ``dst`` (a finished lane is overwritten)."""
    x[dst] = x[src]
    xd[dst] = xd[src]
    th[dst] = th[src]
    thd[dst] = thd[src]
    s[dst] = s[src]
    c[dst] = c[src]
    total[dst] = total[src]


@numba.njit(inline="always", cache=True, error_model="numpy")
def _observe_lanes(vals, x, xd, c, s, thd, m):
    """Bias and observation (x, x_dot, cos, sin, theta_dot) of the first ``m`` lanes into rows 0..5."""
    vals[0, :m] = 1.0
    vals[1, :m] = x[:m]
    vals[2, :m] = xd[:m]
    vals[3, :m] = c[:m]
    vals[4, :m] = s[:m]
    vals[5, :m] = thd[:m]


@numba.njit(inline="always", cache=True, error_model="numpy")
def _physics_lanes(out, x, xd, th, thd, s, c, total, m):
    """One physics step of the first ``m`` lanes for actions ``out``; adds the reward to ``total``."""
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
    n_pad = _whole_vectors(n_l)
    vals = np.zeros((max_n, n_pad))
    acc, x, xd, th, thd, s, c, w, total, lane = _lane_arrays(n_pad)
    for p in range(lo, hi):
        base = node_off[p]
        n = node_off[p + 1] - base
        for wi in range(n_w):
            for r in range(n_r):
                i = wi * n_r + r
                _reset_lane(starts[r], i, x, xd, th, thd, s, c, total)
                w[i] = weights[wi]
                lane[i] = i
        m = n_l
        t = 0
        live = 0
        while m > 0 and t < max_steps:
            _observe_lanes(vals, x, xd, c, s, thd, m)
            # lanes m.. hold finished episodes: computed but never read (each lane is independent)
            forward_lanes(vals, acc, base, n, n_in, ptr, idx, act, w, _whole_vectors(m))
            _physics_lanes(vals[n - 1], x, xd, th, thd, s, c, total, m)
            t += 1
            live += m
            i = 0
            while i < m:
                if x[i] < -X_LIMIT or x[i] > X_LIMIT:
                    returns[p, lane[i] // n_r, lane[i] % n_r] = total[i]
                    m -= 1
                    _move_lane(m, i, x, xd, th, thd, s, c, total)
                    w[i] = w[m]
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


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _rollouts_weighted(node_off, ptr, idx, act, n_in, p, edge_w, scale, starts, max_steps, returns):
    """Episodes of network ``p`` with a weight per connection; lane ``l`` starts at ``starts[l]``
    with connection weights ``edge_w[l]`` (aligned with the network's edges in ``idx``) and
    multiplier ``scale[l]``. Writes ``returns[l]``; returns the number of live steps.

    Same lanes, physics and swapping as ``_rollouts_lanes``.
    """
    n_l = starts.shape[0]
    base = node_off[p]
    n = node_off[p + 1] - base
    e0 = ptr[base]
    n_e = ptr[base + n] - e0
    vals = np.zeros((n, n_l))
    ew = np.empty((n_e, n_l))  # lanes last: the inner loops run over contiguous lanes
    for i in range(n_l):
        for k in range(n_e):
            ew[k, i] = edge_w[i, k]
    acc, x, xd, th, thd, s, c, w, total, lane = _lane_arrays(n_l)
    for i in range(n_l):
        _reset_lane(starts[i], i, x, xd, th, thd, s, c, total)
        w[i] = scale[i]
        lane[i] = i
    m = n_l
    t = 0
    live = 0
    while m > 0 and t < max_steps:
        _observe_lanes(vals, x, xd, c, s, thd, m)
        forward_lanes_weighted(vals, acc, base, n, n_in, ptr, idx, act, ew, e0, w, m)
        _physics_lanes(vals[n - 1], x, xd, th, thd, s, c, total, m)
        t += 1
        live += m
        i = 0
        while i < m:
            if x[i] < -X_LIMIT or x[i] > X_LIMIT:
                returns[lane[i]] = total[i]
                m -= 1
                _move_lane(m, i, x, xd, th, thd, s, c, total)
                w[i] = w[m]
                lane[i] = lane[m]
                for k in range(n_e):
                    ew[k, i] = ew[k, m]
            else:
                i += 1
    for i in range(m):
        returns[lane[i]] = total[i]
    return live


def rollouts_weighted(
    packed: PackedNets, edge_w: np.ndarray, starts: np.ndarray, max_steps: int = T_LIMIT, net: int = 0,
    scale: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, int]:
    """Episodes of network ``net`` of ``packed`` with individual connection weights.

    ``edge_w`` is (E,) — one weight per connection, shared by every episode — or (L, E),
    one row per episode; E = the network's connections in ``PackedNets.idx`` order (for a
    one-network pack: ``Network.edges()`` order). ``starts`` is (L, 4). A node's
    pre-activation is ``scale * sum_k edge_w[k] * source_k``. Returns the L episode returns
    and the live steps taken. Releases the GIL.
    """
    if not 0 <= net < packed.count:
        raise ValueError(f"network {net} is not in the pack")
    base = int(packed.node_off[net])
    n_e = int(packed.ptr[int(packed.node_off[net + 1])] - packed.ptr[base])
    # fresh writable C arrays: one compiled signature whatever the caller passes (views, read-only)
    starts = np.array(np.atleast_2d(starts), dtype=np.float64, order="C")
    if starts.ndim != 2 or starts.shape[1] != 4:
        raise ValueError(f"starts must be (L, 4), got {starts.shape}")
    n_l = len(starts)
    edge_w = np.asarray(edge_w, dtype=np.float64)
    if edge_w.ndim == 1 and edge_w.shape == (n_e,):
        edge_w = np.broadcast_to(edge_w, (n_l, n_e))
    if edge_w.shape != (n_l, n_e):
        raise ValueError(f"edge_w must be ({n_e},) or ({n_l}, {n_e}), got {edge_w.shape}")
    edge_w = np.array(edge_w, order="C")
    scale = np.array(np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_l,)), order="C")
    returns = np.zeros(n_l)
    live = _rollouts_weighted(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, net,
                              edge_w, scale, starts, int(max_steps), returns)
    return returns, int(live)


@numba.njit(cache=True, error_model="numpy")
def _trace(node_off, ptr, idx, act, n_in, edge_w, scale, start, max_steps, rec):
    """One lane of ``_rollouts_weighted``, recorded per step: rec[t] = (x, x_dot, theta, theta_dot,
    raw output, total). Returns the number of steps."""
    n = node_off[1] - node_off[0]
    e0 = ptr[0]
    n_e = ptr[n] - e0
    vals = np.zeros((n, 1))
    ew = np.empty((n_e, 1))
    for k in range(n_e):
        ew[k, 0] = edge_w[k]
    acc, x, xd, th, thd, s, c, w, total, _ = _lane_arrays(1)
    _reset_lane(start, 0, x, xd, th, thd, s, c, total)
    w[0] = scale
    t = 0
    while t < max_steps:
        _observe_lanes(vals, x, xd, c, s, thd, 1)
        forward_lanes_weighted(vals, acc, 0, n, n_in, ptr, idx, act, ew, e0, w, 1)
        out = vals[n - 1, 0]
        _physics_lanes(vals[n - 1], x, xd, th, thd, s, c, total, 1)
        rec[t, 0] = x[0]
        rec[t, 1] = xd[0]
        rec[t, 2] = th[0]
        rec[t, 3] = thd[0]
        rec[t, 4] = out
        rec[t, 5] = total[0]
        t += 1
        if x[0] < -X_LIMIT or x[0] > X_LIMIT:
            break
    return t


def trace(packed: PackedNets, edge_w: np.ndarray, scale: float, start: np.ndarray, max_steps: int) -> np.ndarray:
    """One episode of the one-network pack ``packed`` as ``rollouts_weighted`` runs it, step by step:
    (steps, 6) rows of x, x_dot, theta, theta_dot, raw output, running return."""
    rec = np.zeros((max(int(max_steps), 0), 6))
    steps = _trace(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in,
                   np.ascontiguousarray(edge_w, dtype=np.float64), float(scale),
                   np.ascontiguousarray(start, dtype=np.float64), int(max_steps), rec)
    return rec[:steps]

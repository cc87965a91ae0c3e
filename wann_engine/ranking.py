"""Pareto ranking (NSGA-II fronts and crowding distance), vectorised; all objectives maximised.

Two objectives (always the case in WANN) use an O(n log n + n F) sweep compiled
with numba; more objectives fall back to the O(n^2) dominance matrix.
"""

from __future__ import annotations

import numba
import numpy as np


def dominance(obj: np.ndarray) -> np.ndarray:
    """``d[i, j]`` is True when i dominates j (>= in every objective, > in one)."""
    a, b = obj[:, None, :], obj[None, :, :]
    return (a >= b).all(-1) & (a > b).any(-1)


@numba.njit(cache=True)
def _sweep_2d(order, f0, f1):
    """Front of each point, visiting points by descending (f0, f1): a point joins the first front
    whose latest member does not dominate it (that member has the front's largest f1)."""
    n = len(order)
    front = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    n_fronts = 0
    for p in order:
        k = 0
        while k < n_fronts:
            q = last[k]
            if not (f1[q] > f1[p] or (f1[q] == f1[p] and f0[q] > f0[p])):
                break
            k += 1
        front[p] = k
        last[k] = p
        if k == n_fronts:
            n_fronts += 1
    return front


def _clean(obj: np.ndarray) -> np.ndarray:
    obj = np.asarray(obj, dtype=np.float64)
    return np.where(np.isnan(obj), -np.inf, obj)


def fronts(obj: np.ndarray) -> np.ndarray:
    """Front number of each row (0 = non-dominated). NaN objectives count as -inf."""
    obj = _clean(obj)
    if len(obj) == 0:
        return np.zeros(0, dtype=np.int64)
    if obj.shape[1] == 2:
        order = np.lexsort((-obj[:, 1], -obj[:, 0]))
        return _sweep_2d(order, obj[:, 0].copy(), obj[:, 1].copy())
    dom = dominance(obj)
    count = dom.sum(0)
    front = np.full(len(obj), -1, dtype=np.int64)
    f = 0
    current = count == 0
    while current.any():
        front[current] = f
        count = count - dom[current].sum(0)
        count[front >= 0] = -1
        current = count == 0
        f += 1
    return front


def crowding(obj: np.ndarray, front: np.ndarray | None = None, original: bool = False) -> np.ndarray:
    """Crowding distance of each row within its front (all rows one front if ``front`` is None).

    End points of a front get +inf. ``original`` reproduces the original code's
    normalisation (multiplying by ``|1/max - min|`` instead of dividing by ``max - min``).
    """
    obj = _clean(obj)
    n, k = obj.shape
    front = np.zeros(n, dtype=np.int64) if front is None else np.asarray(front)
    dist = np.zeros(n)
    if n == 0:
        return dist
    for m in range(k):
        order = np.lexsort((obj[:, m], front))
        v = obj[order, m]
        f = front[order]
        starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
        ends = np.r_[starts[1:], n] - 1
        lo = np.repeat(v[starts], ends - starts + 1)
        hi = np.repeat(v[ends], ends - starts + 1)
        gap = np.zeros(n)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            gap[1:-1] = v[2:] - v[:-2]
            span = hi - lo
            if original:
                gap = np.where(span > 0, gap * np.abs(1.0 / hi - lo), gap)
            else:
                gap = np.where(span > 0, gap / np.where(span > 0, span, 1.0), 0.0)
        gap[starts] = np.inf
        gap[ends] = np.inf
        dist[order] += gap
    return dist


def rank(obj: np.ndarray, original_crowding: bool = False) -> np.ndarray:
    """Unique rank of each row (0 = best): by front, then descending crowding distance.

    Ties keep population order, so ranking is deterministic.
    """
    obj = _clean(obj)
    front = fronts(obj)
    crowd = np.nan_to_num(crowding(obj, front, original_crowding), nan=-np.inf)
    order = np.lexsort((np.arange(len(obj)), -crowd, front))
    ranks = np.empty(len(obj), dtype=np.int64)
    ranks[order] = np.arange(len(obj))
    return ranks


def objectives(mean: np.ndarray, peak: np.ndarray, conns: np.ndarray, use_peak: bool) -> np.ndarray:
    """The two objectives of one generation: (mean, peak) or (mean, 1/connections)."""
    if use_peak:
        return np.stack([mean, peak], 1)
    return np.stack([mean, 1.0 / np.maximum(conns, 1)], 1)

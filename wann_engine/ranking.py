"""Pareto ranking (NSGA-II fronts and crowding distance), vectorised; all objectives maximised."""

from __future__ import annotations

import numpy as np


def dominance(obj: np.ndarray) -> np.ndarray:
    """``d[i, j]`` is True when i dominates j (>= in every objective, > in one)."""
    a, b = obj[:, None, :], obj[None, :, :]
    return (a >= b).all(-1) & (a > b).any(-1)


def fronts(obj: np.ndarray) -> np.ndarray:
    """Front number of each row (0 = non-dominated). NaN objectives count as -inf."""
    obj = np.where(np.isnan(obj), -np.inf, np.asarray(obj, dtype=np.float64))
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


def crowding(obj: np.ndarray, original: bool = False) -> np.ndarray:
    """Crowding distance of each row within one front: end points +inf.

    ``original`` reproduces the original code's normalisation (multiplying by
    ``|1/max - min|`` instead of dividing by ``max - min``).
    """
    n, k = obj.shape
    dist = np.zeros(n)
    if n == 0:
        return dist
    for m in range(k):
        order = np.argsort(obj[:, m], kind="stable")
        v = obj[order, m]
        gap = np.zeros(n)
        gap[1:-1] = v[2:] - v[:-2]
        lo, hi = v[0], v[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            if original:
                if hi - lo > 0:
                    gap = gap * abs(1.0 / hi - lo)
            else:
                gap = gap / (hi - lo) if hi - lo > 0 else np.zeros(n)
        gap[0] = gap[-1] = np.inf
        dist[order] += gap
    return dist


def rank(obj: np.ndarray, original_crowding: bool = False) -> np.ndarray:
    """Unique rank of each row (0 = best): by front, then descending crowding distance.

    Ties keep population order, so ranking is deterministic.
    """
    obj = np.where(np.isnan(obj), -np.inf, np.asarray(obj, dtype=np.float64))
    front = fronts(obj)
    crowd = np.zeros(len(obj))
    for f in range(front.max() + 1 if len(obj) else 0):
        members = np.flatnonzero(front == f)
        crowd[members] = crowding(obj[members], original_crowding)
    crowd = np.nan_to_num(crowd, nan=-np.inf)
    order = np.lexsort((np.arange(len(obj)), -crowd, front))
    ranks = np.empty(len(obj), dtype=np.int64)
    ranks[order] = np.arange(len(obj))
    return ranks


def objectives(mean: np.ndarray, peak: np.ndarray, conns: np.ndarray, use_peak: bool) -> np.ndarray:
    """The two objectives of one generation: (mean, peak) or (mean, 1/connections)."""
    if use_peak:
        return np.stack([mean, peak], 1)
    return np.stack([mean, 1.0 / np.maximum(conns, 1)], 1)

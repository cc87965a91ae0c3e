"""Packing many expressed networks into flat arrays for the compiled kernels, and the kernel activations."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .genome import Network
from .kmath import cospi, exp, sinpi, tanh


@dataclass(frozen=True)
class PackedNets:
    """Networks back to back. Node g of the whole pack has sources ``idx[ptr[g]:ptr[g+1]]``,
    given as positions local to its own network; network p owns nodes ``node_off[p]:node_off[p+1]``."""

    node_off: np.ndarray
    ptr: np.ndarray
    idx: np.ndarray
    act: np.ndarray
    n_in: int
    n_out: int

    @property
    def count(self) -> int:
        return len(self.node_off) - 1

    @property
    def max_nodes(self) -> int:
        return int(np.diff(self.node_off).max()) if self.count else 0


def pack(nets: list[Network]) -> PackedNets:
    sizes = np.array([n.n_nodes for n in nets], dtype=np.int64)
    node_off = np.zeros(len(nets) + 1, dtype=np.int64)
    np.cumsum(sizes, out=node_off[1:])
    edge_counts = np.concatenate([np.diff(n.src_ptr) for n in nets]) if nets else np.zeros(0, np.int64)
    ptr = np.zeros(len(edge_counts) + 1, dtype=np.int64)
    np.cumsum(edge_counts, out=ptr[1:])
    idx = np.concatenate([n.src_idx for n in nets]) if nets else np.zeros(0, np.int64)
    act = np.concatenate([n.act for n in nets]).astype(np.int64) if nets else np.zeros(0, np.int64)
    n_in = nets[0].n_in if nets else 0
    n_out = nets[0].n_out if nets else 0
    return PackedNets(node_off, ptr, idx.astype(np.int64), act, n_in, n_out)


@numba.njit(inline="always", cache=True, error_model="numpy")
def activate_lanes(a, acc, w, out, m):
    """``out[l] = act_a(acc[l] * w[l])`` for the first ``m`` lanes; one branch per node, not per lane."""
    if a == 2:
        for i in range(m):
            out[i] = 1.0 if acc[i] * w[i] > 0.0 else 0.0
    elif a == 3:
        for i in range(m):
            out[i] = sinpi(acc[i] * w[i])
    elif a == 4:
        for i in range(m):
            v = acc[i] * w[i]
            out[i] = exp(-(v * v) / 2.0)
    elif a == 5:
        for i in range(m):
            out[i] = tanh(acc[i] * w[i])
    elif a == 6:
        for i in range(m):
            out[i] = (tanh((acc[i] * w[i]) / 2.0) + 1.0) / 2.0
    elif a == 7:
        for i in range(m):
            out[i] = -(acc[i] * w[i])
    elif a == 8:
        for i in range(m):
            out[i] = abs(acc[i] * w[i])
    elif a == 9:
        for i in range(m):
            v = acc[i] * w[i]
            out[i] = v if v > 0.0 else 0.0
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


@numba.njit(inline="always", cache=True, error_model="numpy")
def forward_lanes(vals, acc, base, n, n_in, ptr, idx, act, w, m):
    """One pass of nodes ``n_in+1 .. n-1`` for ``m`` lanes; ``vals`` is (nodes, lanes).

    Sources are summed in gene order; the result does not depend on the lane count.
    """
    for j in range(n_in + 1, n):
        g = base + j
        k0 = ptr[g]
        k1 = ptr[g + 1]
        if k0 == k1:
            for i in range(m):
                acc[i] = 0.0
        else:
            src = vals[idx[k0]]
            for i in range(m):
                acc[i] = src[i]
            for k in range(k0 + 1, k1):
                src = vals[idx[k]]
                for i in range(m):
                    acc[i] += src[i]
        activate_lanes(act[g], acc, w, vals[j], m)

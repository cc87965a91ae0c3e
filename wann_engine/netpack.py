"""Packing many expressed networks into flat arrays for the compiled kernels, and the kernel activations."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

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


@intrinsic
def _row_start(typingctx, arr, r):
    """Pointer to the first element of row ``r`` of a C-contiguous 2-D array."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C" and isinstance(r, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        stride = builder.extract_value(ary.shape, 1)
        off = builder.mul(context.cast(builder, args[1], signature.args[1], types.intp), stride)
        return builder.gep(ary.data, [off])

    return types.CPointer(arr.dtype)(arr, r), codegen


@numba.njit(inline="always", cache=True, error_model="numpy")
def _row(vals, r):
    """Row ``r`` of the C-contiguous ``vals`` as a view without a reference count: a sliced view costs an
    increment and a decrement of the array's count per node, about as much as a short node's own work."""
    return numba.carray(_row_start(vals, r), vals.shape[1])


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

    Sources are summed in gene order; the result does not depend on the lane count. ``vals`` must be
    C-contiguous (rows are taken as unreferenced views, ``_row``).
    """
    for j in range(n_in + 1, n):
        g = base + j
        k0 = ptr[g]
        k1 = ptr[g + 1]
        if k1 - k0 == 1:  # most evolved nodes have one source: activate it in place of a copy
            activate_lanes(act[g], _row(vals, idx[k0]), w, _row(vals, j), m)
            continue
        if k0 == k1:
            for i in range(m):
                acc[i] = 0.0
        else:  # ((s0 + s1) + s2) + ...: the same sums as one source at a time
            src = _row(vals, idx[k0])
            src1 = _row(vals, idx[k0 + 1])
            for i in range(m):
                acc[i] = src[i] + src1[i]
            for k in range(k0 + 2, k1):
                src = _row(vals, idx[k])
                for i in range(m):
                    acc[i] += src[i]
        activate_lanes(act[g], acc, w, _row(vals, j), m)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _forward_batch(node_off, ptr, idx, act, n_in, n_out, obs, lane_net, lane_w, out):
    """Outputs ``out[l]`` of network ``lane_net[l]`` at weight ``lane_w[l]`` for observation ``obs[l]``.

    Lanes of the same network are gathered and run together (one activation branch
    per node, vectorised over those lanes); each lane's result is independent of the others.
    """
    n_l = obs.shape[0]
    if n_l == 0:
        return
    order = np.argsort(lane_net, kind="mergesort")
    max_n = 0
    max_m = 0
    i = 0
    while i < n_l:
        p = lane_net[order[i]]
        j = i + 1
        while j < n_l and lane_net[order[j]] == p:
            j += 1
        max_m = max(max_m, j - i)
        max_n = max(max_n, node_off[p + 1] - node_off[p])
        i = j
    vals = np.empty((max_n, max_m))
    acc = np.empty(max_m)
    w = np.empty(max_m)
    i = 0
    while i < n_l:
        p = lane_net[order[i]]
        j = i + 1
        while j < n_l and lane_net[order[j]] == p:
            j += 1
        m = j - i
        base = node_off[p]
        n = node_off[p + 1] - base
        for k in range(m):
            lane = order[i + k]
            vals[0, k] = 1.0
            for c in range(n_in):
                vals[1 + c, k] = obs[lane, c]
            w[k] = lane_w[lane]
        forward_lanes(vals, acc, base, n, n_in, ptr, idx, act, w, m)
        for k in range(m):
            lane = order[i + k]
            for o in range(n_out):
                out[lane, o] = vals[n - n_out + o, k]
        i = j


def forward_batch(packed: PackedNets, obs: np.ndarray, lane_net: np.ndarray, lane_w: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
    """One compiled policy pass for ``L`` live episodes: (L, n_in) observations -> (L, n_out) outputs.

    Lane ``l`` runs network ``lane_net[l]`` of ``packed`` with shared weight ``lane_w[l]``;
    equals ``Network.forward`` (to rounding). Releases the GIL.
    """
    obs = np.ascontiguousarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != packed.n_in:
        raise ValueError(f"observations must be (L, {packed.n_in}), got {obs.shape}")
    n_l = obs.shape[0]
    lane_net = np.ascontiguousarray(lane_net, dtype=np.int64)
    lane_w = np.ascontiguousarray(lane_w, dtype=np.float64)
    if lane_net.shape != (n_l,) or lane_w.shape != (n_l,):
        raise ValueError("lane_net and lane_w need one entry per observation row")
    if n_l and (lane_net.min() < 0 or lane_net.max() >= packed.count):
        raise ValueError("lane_net refers to a network that is not in the pack")
    if out is None:
        out = np.empty((n_l, packed.n_out))
    _forward_batch(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, packed.n_out, obs,
                   lane_net, lane_w, out)
    return out


@numba.njit(inline="always", cache=True, error_model="numpy")
def forward_lanes_weighted(vals, acc, base, n, n_in, ptr, idx, act, ew, e0, w, m):
    """``forward_lanes`` with a weight per connection: node pre-activation ``w[l] * sum_k ew[k-e0, l] * src_k``.

    ``ew`` is (edges, lanes): row ``k - e0`` holds, for every lane, the weight of the edge
    ``idx[k]`` (``e0`` = the network's first edge in the pack, so rows align with
    ``PackedNets.idx``). ``w`` is a per-lane multiplier applied after the sum (1.0 leaves
    the weighted sum exact; with all ``ew`` = 1 it reproduces ``forward_lanes`` bit for bit).
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
            ek = ew[k0 - e0]
            for i in range(m):
                acc[i] = ek[i] * src[i]
            for k in range(k0 + 1, k1):
                src = vals[idx[k]]
                ek = ew[k - e0]
                for i in range(m):
                    acc[i] += ek[i] * src[i]
        activate_lanes(act[g], acc, w, vals[j], m)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _weighted_outputs(node_off, ptr, idx, act, n_in, n_out, X, rows, edge_w, chunk, out):
    """``out[i] = outputs of input row X[rows[i]]`` with connection weights ``edge_w`` (network 0 of the pack)."""
    n = node_off[1] - node_off[0]
    n_e = ptr[n] - ptr[0]
    vals = np.zeros((n, chunk))
    acc = np.empty(chunk)
    ones = np.ones(chunk)
    ew = np.empty((n_e, chunk))
    for k in range(n_e):
        ew[k, :] = edge_w[k]
    n_b = rows.shape[0]
    for c0 in range(0, n_b, chunk):
        m = min(chunk, n_b - c0)
        for i in range(m):
            vals[0, i] = 1.0
            r = rows[c0 + i]
            for j in range(n_in):
                vals[1 + j, i] = X[r, j]
        forward_lanes_weighted(vals, acc, 0, n, n_in, ptr, idx, act, ew, ptr[0], ones, m)
        for i in range(m):
            for o in range(n_out):
                out[c0 + i, o] = vals[n - n_out + o, i]


def weighted_outputs(net: Network | PackedNets, X: np.ndarray, edge_w: np.ndarray,
                     rows: np.ndarray | None = None) -> np.ndarray:
    """(N, n_out) outputs of one network with individual connection weights (``Network.edges()`` order) on
    input rows ``X[rows]`` (all by default); ``net`` may be a one-network pack (saves packing per call)."""
    p = net if isinstance(net, PackedNets) else pack([net])
    X = np.ascontiguousarray(X, dtype=np.float64)
    rows = np.arange(len(X), dtype=np.int64) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty((len(rows), p.n_out))
    _weighted_outputs(p.node_off, p.ptr, p.idx, p.act, p.n_in, p.n_out, X, rows,
                      np.array(edge_w, dtype=np.float64, order="C"), 128, out)
    return out

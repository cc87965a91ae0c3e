"""Genomes (node and connection genes) and their expression into feed-forward networks.

A genome keeps every gene it ever had: connections are disabled, never deleted.
Expression orders the nodes as the original does (bias, inputs, hidden nodes in
topological order, outputs) and lists, for each computed node, the positions of
its enabled sources. Since all connections share one weight ``w``, a node's
pre-activation is ``w * sum(sources)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

INPUT, OUTPUT, HIDDEN, BIAS = 1, 2, 3, 4


@dataclass
class Genome:
    """Node genes (id, type, activation) and connection genes (innovation, src, dst, enabled)."""

    node_id: np.ndarray  # int64, order: bias, inputs, outputs, hidden by creation
    node_type: np.ndarray  # int8
    node_act: np.ndarray  # int8
    conn_innov: np.ndarray  # int64
    conn_src: np.ndarray  # int64 node ids
    conn_dst: np.ndarray  # int64 node ids
    conn_on: np.ndarray  # bool
    _net: Network | None = field(default=None, repr=False, compare=False)

    @property
    def n_in(self) -> int:
        return int(np.count_nonzero(self.node_type == INPUT))

    @property
    def n_out(self) -> int:
        return int(np.count_nonzero(self.node_type == OUTPUT))

    def copy(self) -> Genome:
        return Genome(
            self.node_id.copy(),
            self.node_type.copy(),
            self.node_act.copy(),
            self.conn_innov.copy(),
            self.conn_src.copy(),
            self.conn_dst.copy(),
            self.conn_on.copy(),
        )

    def expressed(self, keep_disabled_hidden: bool) -> Genome:
        """This genome with every connection the given expression keeps live switched on: with
        ``keep_disabled_hidden`` the disabled hidden->hidden connections (the original's expression) are
        enabled, so the copy expresses to the same network under the default semantics. Network files are
        written from it: every reader scores the network the run scored, whatever semantics it assumes."""
        if not keep_disabled_hidden:
            return self
        hidden_ids = self.node_id[self.node_type == HIDDEN]
        kept = ~self.conn_on & np.isin(self.conn_src, hidden_ids) & np.isin(self.conn_dst, hidden_ids)
        if not kept.any():
            return self
        g = self.copy()
        g.conn_on = self.conn_on | kept
        return g

    def network(self, keep_disabled_hidden: bool = False) -> Network:
        """The expressed network (cached: genomes are not mutated after expression)."""
        if self._net is None or self._net.keep_disabled_hidden != keep_disabled_hidden:
            self._net = express(self, keep_disabled_hidden)
        return self._net

    def to_dict(self) -> dict:
        """Compact JSON-ready form: node rows [id, type, act], connection rows [innov, src, dst, on]."""
        return {
            "nodes": np.stack([self.node_id, self.node_type, self.node_act], 1).tolist(),
            "conns": np.stack(
                [self.conn_innov, self.conn_src, self.conn_dst, self.conn_on.astype(np.int64)], 1
            ).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Genome:
        nodes = np.asarray(d["nodes"], dtype=np.int64).reshape(-1, 3)
        conns = np.asarray(d["conns"], dtype=np.int64).reshape(-1, 4)
        g = cls(
            nodes[:, 0].copy(),
            nodes[:, 1].astype(np.int8),
            nodes[:, 2].astype(np.int8),
            conns[:, 0].copy(),
            conns[:, 1].copy(),
            conns[:, 2].copy(),
            conns[:, 3].astype(bool),
        )
        g.validate()
        return g

    def validate(self) -> None:
        """Raise ValueError if the genes do not describe a well-formed feed-forward genome."""
        if len(np.unique(self.node_id)) != len(self.node_id):
            raise ValueError("duplicate node ids")
        if self.node_type.size == 0 or self.node_type[0] != BIAS:
            raise ValueError("the first node gene must be the bias")
        if not np.isin(self.node_type, (INPUT, OUTPUT, HIDDEN, BIAS)).all():
            raise ValueError("unknown node type")
        known = np.isin(self.conn_src, self.node_id) & np.isin(self.conn_dst, self.node_id)
        if not known.all():
            raise ValueError("a connection refers to a node that does not exist")
        express(self, False)  # raises on cycles


@dataclass(frozen=True)
class Network:
    """A genome in evaluation order.

    Positions: 0 bias, 1..n_in inputs, then hidden nodes (topological), then outputs.
    ``src_ptr``/``src_idx`` list the enabled sources of each position (CSR);
    ``depth`` is the longest enabled path from an input, used for layered passes
    and drawing; ``layer`` is the original's layer number used by add-connection.
    """

    n_in: int
    n_out: int
    node_ids: np.ndarray
    act: np.ndarray
    src_ptr: np.ndarray
    src_idx: np.ndarray
    depth: np.ndarray
    layer: np.ndarray
    keep_disabled_hidden: bool

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_conns(self) -> int:
        return len(self.src_idx)

    def edges(self) -> np.ndarray:
        """(n_conns, 2) array of (source position, destination position)."""
        dst = np.repeat(np.arange(self.n_nodes), np.diff(self.src_ptr))
        return np.stack([self.src_idx, dst], 1)

    def forward(self, inputs: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
        """Outputs for a batch of inputs (B, n_in); ``weight`` is a scalar or one per row.

        Reference numpy pass, one vectorised operation per node; the task kernels
        are faster, this one is for checks, classification and gym tasks.
        """
        from .activations import apply

        x = np.asarray(inputs, dtype=np.float64)
        b = x.shape[0]
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), (b,))
        vals = np.zeros((self.n_nodes, b))
        vals[0] = 1.0
        vals[1 : self.n_in + 1] = x.T
        for j in range(self.n_in + 1, self.n_nodes):
            lo, hi = self.src_ptr[j], self.src_ptr[j + 1]
            pre = vals[self.src_idx[lo:hi]].sum(0) * w
            vals[j] = apply(int(self.act[j]), pre)
        return vals[self.n_nodes - self.n_out :].T


@numba.njit(cache=True)
def _csr_by_dst(n, s, d):
    """Sources of each destination (CSR), sources ascending within a destination."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(d)):
        ptr[d[e] + 1] += 1
    for j in range(n):
        ptr[j + 1] += ptr[j]
    idx = np.empty(len(d), dtype=np.int64)
    cur = ptr[:-1].copy()
    for e in range(len(d)):
        idx[cur[d[e]]] = s[e]
        cur[d[e]] += 1
    for j in range(n):  # segments are short: insertion sort
        for a in range(ptr[j] + 1, ptr[j + 1]):
            v = idx[a]
            b = a - 1
            while b >= ptr[j] and idx[b] > v:
                idx[b + 1] = idx[b]
                b -= 1
            idx[b + 1] = v
    return ptr, idx


@numba.njit(cache=True)
def _express_core(types, src, dst, on, keep_disabled_hidden):
    """Order node genes (bias, inputs, hidden by Kahn, outputs); CSR of live sources; depth; layer.

    Works on gene indices. Returns ok=False when the genes hold a cycle.
    """
    n = len(types)
    hidden = types == HIDDEN
    indeg = np.zeros(n, dtype=np.int64)
    adj_ptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(src)):
        if hidden[src[e]] and hidden[dst[e]]:
            adj_ptr[src[e] + 1] += 1
            indeg[dst[e]] += 1
    for i in range(n):
        adj_ptr[i + 1] += adj_ptr[i]
    adj = np.empty(adj_ptr[n], dtype=np.int64)
    cur = adj_ptr[:-1].copy()
    for e in range(len(src)):
        if hidden[src[e]] and hidden[dst[e]]:
            adj[cur[src[e]]] = dst[e]
            cur[src[e]] += 1
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    n_hidden = 0
    for i in range(n):
        if hidden[i]:
            n_hidden += 1
            if indeg[i] == 0:
                queue[tail] = i
                tail += 1
    while head < tail:
        i = queue[head]
        head += 1
        for k in range(adj_ptr[i], adj_ptr[i + 1]):
            j = adj[k]
            indeg[j] -= 1
            if indeg[j] == 0:
                queue[tail] = j
                tail += 1
    order = np.empty(n, dtype=np.int64)
    ok = tail == n_hidden
    p = 0
    for want in (BIAS, INPUT):
        for i in range(n):
            if types[i] == want:
                order[p] = i
                p += 1
    n_in = p - 1
    for q in range(tail):
        order[p] = queue[q]
        p += 1
    for i in range(n):
        if types[i] == OUTPUT:
            order[p] = i
            p += 1
    pos = np.empty(n, dtype=np.int64)
    for q in range(p):
        pos[order[q]] = q
    h_lo = n_in + 1
    h_hi = n_in + 1 + n_hidden
    m = 0
    for e in range(len(src)):
        if on[e] or (keep_disabled_hidden and hidden[src[e]] and hidden[dst[e]]):
            m += 1
    ls = np.empty(m, dtype=np.int64)
    ld = np.empty(m, dtype=np.int64)
    hs = np.empty(adj_ptr[n], dtype=np.int64)
    hd = np.empty(adj_ptr[n], dtype=np.int64)
    a = 0
    b = 0
    for e in range(len(src)):
        ps = pos[src[e]]
        pd = pos[dst[e]]
        if on[e] or (keep_disabled_hidden and hidden[src[e]] and hidden[dst[e]]):
            ls[a] = ps
            ld[a] = pd
            a += 1
        if hidden[src[e]] and hidden[dst[e]]:
            hs[b] = ps
            hd[b] = pd
            b += 1
    src_ptr, src_idx = _csr_by_dst(n, ls, ld)
    depth = np.zeros(n, dtype=np.int64)
    for j in range(n_in + 1, n):
        best = 0
        for k in range(src_ptr[j], src_ptr[j + 1]):
            best = max(best, depth[src_idx[k]])
        depth[j] = best + 1
    # the original's layers over all genes: hidden = 1 + longest hidden-only path, outputs after
    h_ptr, h_idx = _csr_by_dst(n, hs, hd)
    layer = np.zeros(n, dtype=np.int64)
    top = 0
    for j in range(h_lo, h_hi):
        best = 0
        for k in range(h_ptr[j], h_ptr[j + 1]):
            best = max(best, layer[h_idx[k]])
        layer[j] = best + 1
        top = max(top, layer[j])
    for j in range(h_hi, n):
        layer[j] = top + 1
    return ok, order, n_in, src_ptr, src_idx, depth, layer


def express(g: Genome, keep_disabled_hidden: bool = False) -> Network:
    """Order the nodes and collect each node's enabled sources.

    The order and the layers consider every gene, enabled or not, so that
    re-enabling a connection can never close a cycle. ``keep_disabled_hidden``
    reproduces the original's bug where disabled hidden->hidden genes stay active.
    """
    sorter = np.argsort(g.node_id, kind="stable")
    to_gene = lambda ids: sorter[np.searchsorted(g.node_id, ids, sorter=sorter)]  # noqa: E731
    src = to_gene(g.conn_src).astype(np.int64) if g.conn_src.size else np.zeros(0, np.int64)
    dst = to_gene(g.conn_dst).astype(np.int64) if g.conn_dst.size else np.zeros(0, np.int64)
    ok, order, n_in, src_ptr, src_idx, depth, layer = _express_core(
        g.node_type.astype(np.int64), src, dst, g.conn_on.astype(np.bool_), keep_disabled_hidden)
    if not ok:
        raise ValueError("the connection genes contain a cycle")
    return Network(
        n_in=int(n_in),
        n_out=int(np.count_nonzero(g.node_type == OUTPUT)),
        node_ids=g.node_id[order],
        act=g.node_act[order].astype(np.int8),
        src_ptr=src_ptr,
        src_idx=src_idx,
        depth=depth,
        layer=layer,
        keep_disabled_hidden=keep_disabled_hidden,
    )


def initial_genome(n_in: int, n_out: int, rng: np.random.Generator, p_enable: float, out_act: int = 1) -> Genome:
    """The sparse start of the search: every bias/input -> output gene, each enabled with ``p_enable``.

    Innovation ids are output-major, as in the original (for output o: bias, in1..inN).
    """
    node_id = np.arange(1 + n_in + n_out, dtype=np.int64)
    node_type = np.array([BIAS] + [INPUT] * n_in + [OUTPUT] * n_out, dtype=np.int8)
    node_act = np.ones(len(node_id), dtype=np.int8)
    node_act[1 + n_in :] = out_act
    src = np.tile(np.arange(n_in + 1, dtype=np.int64), n_out)
    dst = np.repeat(np.arange(n_in + 1, n_in + 1 + n_out, dtype=np.int64), n_in + 1)
    innov = np.arange(len(src), dtype=np.int64)
    on = rng.random(len(src)) < p_enable
    return Genome(node_id, node_type, node_act, innov, src, dst, on)

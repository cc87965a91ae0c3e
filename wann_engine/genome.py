"""Genomes (node and connection genes) and their expression into feed-forward networks.

A genome keeps every gene it ever had: connections are disabled, never deleted.
Expression orders the nodes as the original does (bias, inputs, hidden nodes in
topological order, outputs) and lists, for each computed node, the positions of
its enabled sources. Since all connections share one weight ``w``, a node's
pre-activation is ``w * sum(sources)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def _topological_hidden(hidden_ids: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Kahn's order of hidden nodes over hidden->hidden edges; ValueError on a cycle."""
    if hidden_ids.size == 0:
        return hidden_ids
    pos = {int(h): i for i, h in enumerate(hidden_ids)}
    n = len(hidden_ids)
    indeg = np.zeros(n, dtype=np.int64)
    out: list[list[int]] = [[] for _ in range(n)]
    for s, d in zip(src.tolist(), dst.tolist()):
        if s in pos and d in pos:
            out[pos[s]].append(pos[d])
            indeg[pos[d]] += 1
    queue = [i for i in range(n) if indeg[i] == 0]
    order: list[int] = []
    while queue:
        i = queue.pop(0)
        order.append(i)
        for j in out[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                queue.append(j)
    if len(order) != n:
        raise ValueError("the connection genes contain a cycle")
    return hidden_ids[np.asarray(order, dtype=np.int64)]


def express(g: Genome, keep_disabled_hidden: bool = False) -> Network:
    """Order the nodes and collect each node's enabled sources.

    The order and the layers consider every gene, enabled or not, so that
    re-enabling a connection can never close a cycle. ``keep_disabled_hidden``
    reproduces the original's bug where disabled hidden->hidden genes stay active.
    """
    types = g.node_type
    bias_in = g.node_id[(types == BIAS) | (types == INPUT)]
    outs = g.node_id[types == OUTPUT]
    hidden = _topological_hidden(g.node_id[types == HIDDEN], g.conn_src, g.conn_dst)
    order = np.concatenate([bias_in, hidden, outs])
    n = len(order)
    n_in = len(bias_in) - 1
    sorter = np.argsort(order, kind="stable")
    pos_of = lambda ids: sorter[np.searchsorted(order, ids, sorter=sorter)]  # noqa: E731
    act_by_id = dict(zip(g.node_id.tolist(), g.node_act.tolist()))
    act = np.asarray([act_by_id[i] for i in order.tolist()], dtype=np.int8)

    s_all = pos_of(g.conn_src) if g.conn_src.size else np.zeros(0, np.int64)
    d_all = pos_of(g.conn_dst) if g.conn_dst.size else np.zeros(0, np.int64)
    live = g.conn_on.copy()
    if keep_disabled_hidden:
        h_lo, h_hi = n_in + 1, n_in + 1 + len(hidden)
        live |= (s_all >= h_lo) & (s_all < h_hi) & (d_all >= h_lo) & (d_all < h_hi)
    s, d = s_all[live], d_all[live]
    key = np.lexsort((s, d))
    s, d = s[key], d[key]
    src_ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(src_ptr, d + 1, 1)
    src_ptr = np.cumsum(src_ptr)

    # depth over enabled edges (positions are topological, so one sweep suffices)
    depth = np.zeros(n, dtype=np.int64)
    for j in range(n_in + 1, n):
        srcs = s[src_ptr[j] : src_ptr[j + 1]]
        depth[j] = depth[srcs].max() + 1 if srcs.size else 1
    # the original's layers over all genes: hidden = 1 + longest hidden-only path, outputs last
    n_hidden = len(hidden)
    layer = np.zeros(n, dtype=np.int64)
    if n_hidden:
        hh = (s_all > n_in) & (s_all < n_in + 1 + n_hidden) & (d_all > n_in) & (d_all < n_in + 1 + n_hidden)
        hs, hd = s_all[hh], d_all[hh]
        by_dst = np.argsort(hd, kind="stable")
        hs, hd = hs[by_dst], hd[by_dst]
        starts = np.searchsorted(hd, np.arange(n + 1))
        for j in range(n_in + 1, n_in + 1 + n_hidden):
            srcs = hs[starts[j] : starts[j + 1]]
            layer[j] = layer[srcs].max() + 1 if srcs.size else 1
    layer[n - len(outs) :] = (layer.max() + 1) if n_hidden else 1
    return Network(
        n_in=n_in,
        n_out=len(outs),
        node_ids=order,
        act=act,
        src_ptr=src_ptr,
        src_idx=s.astype(np.int64),
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

"""Topological mutations: add connection, insert node, re-enable connection, change activation.

Each child gets exactly one attempt, chosen by roulette; an impossible attempt
leaves the child an unchanged copy of its parent, as in the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .genome import HIDDEN, Genome

ADD_CONN, ADD_NODE, ENABLE, MUT_ACT = range(4)
OPERATOR_NAMES = ("add_conn", "add_node", "enable", "mut_act")


@dataclass
class Innovations:
    """Global counters for new connection innovation ids and new node ids."""

    next_innov: int
    next_node: int


def choose_operator(rng: np.random.Generator, probs: tuple[float, float, float, float]) -> int:
    u = rng.random() * sum(probs)
    acc = 0.0
    for op, p in enumerate(probs):
        acc += p
        if u < acc:
            return op
    return max(i for i, p in enumerate(probs) if p > 0)


def mutate(
    parent: Genome,
    rng: np.random.Generator,
    inn: Innovations,
    probs: tuple[float, float, float, float],
    h_act: tuple[int, ...],
    keep_disabled_hidden: bool = False,
) -> tuple[Genome, int]:
    """A child of ``parent`` after one mutation attempt; returns (child, operator id)."""
    op = choose_operator(rng, probs)
    child = parent.copy()
    if op == ADD_CONN:
        _add_conn(child, parent.network(keep_disabled_hidden), rng, inn)
    elif op == ADD_NODE:
        _add_node(child, rng, inn, h_act)
    elif op == ENABLE:
        off = np.flatnonzero(~child.conn_on)
        if off.size:
            child.conn_on[off[rng.integers(off.size)]] = True
    else:
        hidden = np.flatnonzero(child.node_type == HIDDEN)
        if hidden.size and len(h_act) > 1:
            i = hidden[rng.integers(hidden.size)]
            choices = [a for a in h_act if a != child.node_act[i]]
            child.node_act[i] = choices[rng.integers(len(choices))]
    return child, op


def _add_conn(g: Genome, net, rng: np.random.Generator, inn: Innovations) -> None:
    n = net.n_nodes
    layer = net.layer
    sorter = np.argsort(net.node_ids)
    pos = lambda ids: sorter[np.searchsorted(net.node_ids, ids, sorter=sorter)]  # noqa: E731
    taken = np.zeros((n, n), dtype=bool)  # genes that exist already, enabled or not
    taken[pos(g.conn_src), pos(g.conn_dst)] = True
    free = (layer[None, :] > layer[:, None]) & ~taken
    for src in rng.permutation(n).tolist():
        later = np.flatnonzero(free[src])
        if later.size == 0:
            continue
        dst = int(later[rng.integers(later.size)])
        _append_conns(g, [int(net.node_ids[src])], [int(net.node_ids[dst])], inn)
        return


def _add_node(g: Genome, rng: np.random.Generator, inn: Innovations, h_act: tuple[int, ...]) -> None:
    on = np.flatnonzero(g.conn_on)
    if on.size == 0:
        return
    k = on[rng.integers(on.size)]
    new_id = inn.next_node
    inn.next_node += 1
    g.node_id = np.append(g.node_id, new_id)
    g.node_type = np.append(g.node_type, np.int8(HIDDEN))
    g.node_act = np.append(g.node_act, np.int8(h_act[rng.integers(len(h_act))]))
    src, dst = int(g.conn_src[k]), int(g.conn_dst[k])
    g.conn_on[k] = False
    _append_conns(g, [src, new_id], [new_id, dst], inn)


def _append_conns(g: Genome, src: list[int], dst: list[int], inn: Innovations) -> None:
    k = len(src)
    g.conn_innov = np.concatenate([g.conn_innov, np.arange(inn.next_innov, inn.next_innov + k)])
    inn.next_innov += k
    g.conn_src = np.concatenate([g.conn_src, src])
    g.conn_dst = np.concatenate([g.conn_dst, dst])
    g.conn_on = np.concatenate([g.conn_on, np.ones(k, dtype=bool)])

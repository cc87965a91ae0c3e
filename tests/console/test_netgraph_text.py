"""The text layout of networks: small exact drawings, unused inputs, ASCII, and a 100-node network."""

from __future__ import annotations

import time

import numpy as np

from wann_engine.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome
from wanntui.netgraph_text import layout_network, list_network

NAMES = ["x", "x_dot", "cos", "sin", "w"]


def genome(n_in: int, n_out: int, hidden_acts: list[int], conns: list[tuple[int, int]]) -> Genome:
    """Nodes: bias 0, inputs 1..n_in, outputs next, hidden after (ids in that order)."""
    ids = np.arange(1 + n_in + n_out + len(hidden_acts))
    types = np.array([BIAS] + [INPUT] * n_in + [OUTPUT] * n_out + [HIDDEN] * len(hidden_acts), dtype=np.int8)
    acts = np.array([1] * (1 + n_in + n_out) + hidden_acts, dtype=np.int8)
    src = np.array([c[0] for c in conns], dtype=np.int64)
    dst = np.array([c[1] for c in conns], dtype=np.int64)
    g = Genome(ids, types, acts, np.arange(len(conns)), src, dst, np.ones(len(conns), bool))
    g.validate()
    return g


def big_genome(n_in: int = 5, n_hidden: int = 94, n_conns: int = 250, seed: int = 0) -> Genome:
    rng = np.random.default_rng(seed)
    out = 1 + n_in
    hidden = list(range(out + 1, out + 1 + n_hidden))
    rank = {i: 0 for i in range(out)} | {h: k + 1 for k, h in enumerate(hidden)} | {out: n_hidden + 1}
    pairs: set[tuple[int, int]] = set()
    for h in hidden:
        pairs.add((int(rng.choice([i for i in rank if rank[i] < rank[h] and i != out])), h))
    nodes = list(rank)
    while len(pairs) < n_conns:
        a, b = (int(x) for x in rng.choice(nodes, 2, replace=False))
        if rank[a] < rank[b] and b > n_in and a != out:
            pairs.add((a, b))
    return genome(n_in, 1, [int(a) for a in rng.integers(1, 11, n_hidden)], sorted(pairs))


def test_small_network_exact_drawing():
    # x -> tanh -> out, bias -> out, x_dot unused
    g = genome(2, 1, [5], [(1, 4), (4, 3), (0, 3)])
    text = layout_network(g.network(), ["x", "x_dot"], ["force"]).text()
    assert text == (
        "5 nodes  3 connections  3 layers\n"
        "unused: x_dot\n"
        "bias───────────┐\n"
        "               │\n"
        "x───────┐      └┬─force:lin\n"
        "        └─tnh───┘\n"
        "x_dot"
    )


def test_long_edges_run_straight_and_unused_inputs_are_bare():
    # w -> out skips two layers; x -> h1 -> h2 -> out
    g = genome(3, 1, [5, 9], [(1, 5), (5, 6), (6, 4), (3, 4)])
    gt = layout_network(g.network(), ["x", "y", "w"], ["o"])
    lines = gt.lines
    assert gt.unused_inputs == ["y"]
    y_line = next(line for line in lines if line.startswith("y"))
    assert y_line[1:10].strip() == ""  # nothing leaves an unused input
    w_line = next(line for line in lines if line.startswith("w"))
    assert w_line.startswith("w" + "─" * 20)  # one straight lane past both hidden layers
    assert any("o:lin" in line for line in lines)
    spans = {kind for _, _, _, kind in gt.spans}
    assert {"input", "unused", "hidden", "output", "legend"} <= spans


def test_ascii_mode_uses_ascii_only():
    gt = layout_network(big_genome(n_hidden=12, n_conns=30).network(), NAMES, ["f"], ascii=True)
    assert all(ord(ch) < 128 for line in gt.lines for ch in line)
    assert any("+" in line for line in gt.lines) and any("|" in line for line in gt.lines)


def test_hundred_node_network_is_laid_out_quickly_and_completely():
    g = big_genome()
    net = g.network()
    assert net.n_nodes == 101 and net.n_conns == 250
    t0 = time.perf_counter()
    gt = layout_network(net, NAMES, ["force"])
    assert time.perf_counter() - t0 < 2.0
    body = "\n".join(gt.lines)
    assert gt.n_layers == int(net.depth.max()) + 1 or gt.n_layers >= 3
    for name in NAMES:
        assert name in body
    assert "force:" in body
    hidden_labels = sum(line.count(sym) for line in gt.lines for sym in
                        ("lin", "stp", "sin", "gau", "tnh", "sig", "inv", "abs", "rlu", "cos"))
    assert hidden_labels >= 94  # every hidden node is drawn (input names may add a few)
    listed = list_network(net, NAMES, ["force"])
    assert len(listed.lines) == 3 + (net.n_nodes - 1 - net.n_in)
    assert all("<-" in line for line in listed.lines[3:])


def test_many_inputs_hide_the_unused_ones():
    g = genome(40, 1, [], [(1, 41), (2, 41)])
    gt = layout_network(g.network())
    assert "38 of 40 inputs unused (not drawn)" in gt.lines[1]
    assert len(gt.lines) < 12

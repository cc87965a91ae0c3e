"""Mutation operators keep genomes valid, feed-forward and faithful to the original rules."""

from __future__ import annotations

import numpy as np

from wann_engine.genome import HIDDEN, initial_genome
from wann_engine.variation import ADD_CONN, ADD_NODE, ENABLE, MUT_ACT, Innovations, choose_operator, mutate

ALL = (0.25, 0.25, 0.25, 0.25)


def test_long_mutation_chains_stay_valid_feed_forward():
    rng = np.random.default_rng(1)
    inn = Innovations(6, 7)
    g = initial_genome(5, 1, rng, 0.5)
    for _ in range(400):
        g, _ = mutate(g, rng, inn, ALL, tuple(range(1, 11)))
        g.validate()
    net = g.network()
    edges = net.edges()
    assert (edges[:, 0] < edges[:, 1]).all()  # positions are a topological order
    assert len(np.unique(g.conn_innov)) == len(g.conn_innov)
    # no connection ends at the bias or an input, none starts at an output
    dst_types = g.node_type[np.searchsorted(g.node_id, g.conn_dst, sorter=np.argsort(g.node_id))
                            .clip(0, len(g.node_id) - 1)]
    assert (dst_types != 1).all() and (dst_types != 4).all()


def test_add_node_splits_an_enabled_connection():
    rng = np.random.default_rng(2)
    inn = Innovations(6, 7)
    g = initial_genome(5, 1, rng, 1.0)
    child, op = mutate(g, rng, inn, (0, 1, 0, 0), (5,))
    assert op == ADD_NODE
    assert (child.node_type == HIDDEN).sum() == 1 and child.node_act[-1] == 5
    assert (~child.conn_on).sum() == 1 and len(child.conn_on) == 8
    assert inn.next_node == 8 and inn.next_innov == 8


def test_add_conn_and_enable_and_mut_act():
    rng = np.random.default_rng(3)
    inn = Innovations(6, 7)
    g = initial_genome(5, 1, rng, 0.0)
    child, op = mutate(g, rng, inn, (0, 0, 1, 0), (1,))
    assert op == ENABLE and child.conn_on.sum() == 1
    g = initial_genome(5, 1, rng, 1.0)
    g, _ = mutate(g, rng, inn, (0, 1, 0, 0), (1,))
    before = len(g.conn_innov)
    child, op = mutate(g, rng, inn, (1, 0, 0, 0), (1,))
    assert op == ADD_CONN and len(child.conn_innov) == before + 1
    child2, op = mutate(child, rng, inn, (0, 0, 0, 1), (1, 2))
    assert op == MUT_ACT and child2.node_act[-1] == 2


def test_roulette_follows_probabilities():
    rng = np.random.default_rng(4)
    ops = np.bincount([choose_operator(rng, (0.2, 0.25, 0.05, 0.5)) for _ in range(20000)], minlength=4) / 20000
    np.testing.assert_allclose(ops, [0.2, 0.25, 0.05, 0.5], atol=0.015)

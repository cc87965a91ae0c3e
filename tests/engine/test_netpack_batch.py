"""The batched compiled policy pass equals the numpy reference pass."""

from __future__ import annotations

import numpy as np
import pytest

from wann_engine.activations import RL_HIDDEN
from wann_engine.genome import initial_genome
from wann_engine.netpack import forward_batch, pack
from wann_engine.variation import Innovations, mutate


def random_nets(n_in: int, n_out: int, count: int, mutations: int, seed: int):
    rng = np.random.default_rng(seed)
    inn = Innovations((n_in + 1) * n_out, 1 + n_in + n_out)
    nets = []
    for _ in range(count):
        g = initial_genome(n_in, n_out, rng, 0.5)
        for _ in range(int(rng.integers(0, mutations + 1))):
            g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), RL_HIDDEN + (11,))
        nets.append(g.network())
    return nets


@pytest.mark.parametrize("n_in,n_out", [(5, 1), (24, 4), (3, 2)])
def test_batch_pass_equals_reference(n_in, n_out):
    nets = random_nets(n_in, n_out, 12, 40, seed=n_in)
    packed = pack(nets)
    rng = np.random.default_rng(1)
    lanes = 300
    lane_net = rng.integers(0, len(nets), lanes)
    lane_w = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], lanes)
    obs = rng.normal(0.0, 1.0, (lanes, n_in))
    out = forward_batch(packed, obs, lane_net, lane_w)
    assert out.shape == (lanes, n_out)
    for p, net in enumerate(nets):
        sel = lane_net == p
        if sel.any():
            ref = net.forward(obs[sel], lane_w[sel])
            np.testing.assert_allclose(out[sel], ref, rtol=1e-12, atol=1e-12)


def test_lane_result_does_not_depend_on_the_other_lanes():
    nets = random_nets(6, 3, 5, 30, seed=7)
    packed = pack(nets)
    rng = np.random.default_rng(2)
    obs = rng.normal(size=(50, 6))
    lane_net = rng.integers(0, 5, 50)
    lane_w = rng.uniform(-2, 2, 50)
    full = forward_batch(packed, obs, lane_net, lane_w)
    for lane in (0, 17, 49):
        one = forward_batch(packed, obs[lane : lane + 1], lane_net[lane : lane + 1], lane_w[lane : lane + 1])
        assert np.array_equal(one[0], full[lane])
    assert forward_batch(packed, obs[:0], lane_net[:0], lane_w[:0]).shape == (0, 3)


def test_batch_pass_rejects_bad_shapes():
    packed = pack(random_nets(4, 2, 2, 3, seed=1))
    with pytest.raises(ValueError):
        forward_batch(packed, np.zeros((3, 5)), np.zeros(3, int), np.ones(3))
    with pytest.raises(ValueError):
        forward_batch(packed, np.zeros((3, 4)), np.full(3, 2), np.ones(3))

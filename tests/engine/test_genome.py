"""Genomes, expression and the network file formats."""

from __future__ import annotations

import numpy as np
import pytest

from wann_engine import activations
from wann_engine.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome, initial_genome
from wann_engine.netfile import NetworkFileError, read_any, read_json, read_out, to_matrix, write_json, write_out
from wann_engine.tasks import get


def test_activation_ids_and_formulas():
    x = np.array([-1.5, -0.25, 0.0, 0.3, 2.0])
    expect = {
        1: x, 2: (x > 0).astype(float), 3: np.sin(np.pi * x), 4: np.exp(-x * x / 2), 5: np.tanh(x),
        6: 1 / (1 + np.exp(-x)), 7: -x, 8: np.abs(x), 9: np.maximum(0, x), 10: np.cos(np.pi * x), 11: x * x,
    }
    for i, want in expect.items():
        np.testing.assert_allclose(activations.apply(i, x), want, atol=1e-12)
    assert activations.NAMES[5] == "tanh" and activations.NAMES[10] == "cos"


def test_initial_genome_is_sparse_bipartite():
    rng = np.random.default_rng(0)
    g = initial_genome(5, 1, rng, 0.5)
    assert list(g.node_type) == [BIAS] + [INPUT] * 5 + [OUTPUT]
    assert len(g.conn_innov) == 6 and (g.conn_dst == 6).all()
    on = np.mean([initial_genome(5, 1, rng, 0.5).conn_on.mean() for _ in range(400)])
    assert 0.45 < on < 0.55


def test_cycle_is_rejected():
    g = Genome(np.array([0, 1, 2, 3, 4]), np.array([BIAS, INPUT, OUTPUT, HIDDEN, HIDDEN], np.int8),
               np.ones(5, np.int8), np.arange(3), np.array([3, 4, 1]), np.array([4, 3, 3]), np.ones(3, bool))
    with pytest.raises(ValueError, match="cycle"):
        g.validate()


def test_disabled_means_disabled_unless_original_bug_asked_for():
    # bias -> h1 -> h2 -> out, plus a disabled h1 -> h2 duplicate path via h1->out
    g = Genome(np.array([0, 1, 2, 3, 4]), np.array([BIAS, INPUT, OUTPUT, HIDDEN, HIDDEN], np.int8),
               np.ones(5, np.int8), np.arange(4), np.array([0, 3, 4, 3]), np.array([3, 4, 2, 2]),
               np.array([True, False, True, True]))
    assert g.network().n_conns == 3
    assert g.network(keep_disabled_hidden=True).n_conns == 4


def test_swing_out_reads_as_the_paper_champion(swing_out):
    g = read_out(swing_out, 5, 1)
    net = g.network()
    assert (net.n_nodes, net.n_conns) == (29, 52)
    assert int((~g.conn_on).sum()) == 10
    assert set(np.unique(net.act)) == {1, 3, 4, 5, 7, 9}


def test_forward_matches_hand_computation():
    # out = tanh(w * (bias + x1)) through one hidden tanh node; out is linear
    g = Genome(np.array([0, 1, 2, 3]), np.array([BIAS, INPUT, OUTPUT, HIDDEN], np.int8),
               np.array([1, 1, 1, 5], np.int8), np.arange(3), np.array([0, 1, 3]), np.array([3, 3, 2]),
               np.ones(3, bool))
    x = np.array([[0.5], [-2.0]])
    out = g.network().forward(x, 1.5)
    np.testing.assert_allclose(out[:, 0], 1.5 * np.tanh(1.5 * (1 + x[:, 0])))


def test_formats_round_trip(tmp_path, swing_out):
    task = get("swingup")
    g = read_out(swing_out, 5, 1)
    write_json(g, tmp_path / "c.json", task, fitness=1.0)
    g2, doc = read_json(tmp_path / "c.json")
    assert doc["input_names"][0] == "x" and doc["n_inputs"] == 5
    write_out(g2, tmp_path / "c.out")
    g3 = read_any(tmp_path / "c.out", 5, 1)
    a, b = to_matrix(g), to_matrix(g3)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.nan_to_num(a) != 0, np.nan_to_num(b) != 0)
    np.testing.assert_array_equal(a[:, -1], b[:, -1])


@pytest.mark.parametrize("text, why", [
    ("hello", "not a readable"),
    ("0,1\n0,1\n", "N rows of N\\+1"),
    ('{"format": "other"}', "not a wann-network"),
])
def test_bad_network_files_say_why(tmp_path, text, why):
    f = tmp_path / "bad.out"
    f.write_text(text)
    with pytest.raises(NetworkFileError, match=why):
        read_any(f, 5, 1)

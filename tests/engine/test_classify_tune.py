"""Tuned individual weights of a classifier, by gradient descent: the gradient is the true one for every
activation a classifier may hold, tuning lifts test accuracy above the best shared weight, and the
protocol writes tuned weights that score, when opened again, what the protocol reported."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from wann_engine.activations import CLASSIFY_HIDDEN, LINEAR
from wann_engine.genome import BIAS, HIDDEN, INPUT, OUTPUT
from wann_engine.netfile import genome_from_rows, open_network
from wann_engine.tasks import get
from wann_engine.tasks.classify import weighted_accuracy
from wann_engine.tasks.classify_tune import Backprop, gradient_tune


def hidden_rows(n_in: int = 64, n_out: int = 10):
    """Node and connection rows of a digits network: every classification activation on a hidden node;
    each hidden node reads three inputs and feeds two outputs; the bias and a few inputs also reach
    outputs directly."""
    nodes = [[0, BIAS, LINEAR]] + [[i, INPUT, LINEAR] for i in range(1, n_in + 1)]
    nodes += [[n_in + 1 + k, OUTPUT, LINEAR] for k in range(n_out)]
    conns, h0 = [], n_in + n_out + 1
    for j, act in enumerate(CLASSIFY_HIDDEN):
        h = h0 + j
        nodes.append([h, HIDDEN, act])
        for s in (1 + (7 * j) % n_in, 1 + (7 * j + 20) % n_in, 1 + (7 * j + 41) % n_in):
            conns.append([len(conns), s, h, 1])
        for o in (j % n_out, (j + 3) % n_out):
            conns.append([len(conns), h, n_in + 1 + o, 1])
    for k in range(n_out):
        conns.append([len(conns), 0, n_in + 1 + k, 1])
        conns.append([len(conns), 1 + (13 * k + 5) % n_in, n_in + 1 + k, 1])
    return nodes, conns


def hidden_net():
    return genome_from_rows(*hidden_rows()).network()


def test_the_gradient_is_the_finite_difference_for_every_activation():
    X, y = get("digits").data("train")
    net = hidden_net()
    bp = Backprop(net)
    w = np.random.default_rng(0).uniform(-1.0, 1.0, net.n_conns)
    _, g = bp.loss_grad(X[:64], y[:64], w)
    h = 1e-6
    for e in range(net.n_conns):
        up, down = w.copy(), w.copy()
        up[e] += h
        down[e] -= h
        num = (bp.loss_grad(X[:64], y[:64], up)[0] - bp.loss_grad(X[:64], y[:64], down)[0]) / (2 * h)
        assert g[e] == pytest.approx(num, rel=1e-4, abs=1e-7), f"connection {e}"


def test_the_log_likelihood_is_what_the_task_scores():
    """The pass trains what the search scores: the kernels' mean log-probability of the true labels."""
    from wann_engine.netpack import weighted_outputs
    from wann_engine.tasks.classify import true_logp

    X, y = get("digits").data("train")
    net = hidden_net()
    w = np.full(net.n_conns, -1.5)
    ll = Backprop(net).log_likelihood(X, y, w)
    assert ll == pytest.approx(true_logp(weighted_outputs(net, X, w), y).mean(), rel=1e-9)


def test_tuning_beats_the_best_shared_weight_on_the_test_images():
    task = get("digits")
    X, y = task.data("train")
    Xs, ys = task.data("test")
    net = hidden_net()
    shared = max(weighted_accuracy(net, Xs, ys, np.full(net.n_conns, w))[0] for w in (-2, -1, -0.5, 0.5, 1, 2))
    g = gradient_tune(net, X, y, 1.0, 0, epochs=30, valid=len(X) // 6)
    assert g.kept == "tuned" and g.valid_tuned > g.valid_start
    tuned = weighted_accuracy(net, Xs, ys, g.weights)[0]
    assert tuned > shared + 0.05, (tuned, shared)
    again = gradient_tune(net, X, y, 1.0, 0, epochs=30, valid=len(X) // 6)
    assert np.array_equal(again.weights, g.weights)  # a seed gives the same tuning


def test_protocol_saves_tuned_weights_that_score_what_it_reported(tmp_path, capsys):
    from wann_engine.cli import main
    from wann_engine.netfile import write_json

    task = get("digits")
    net_file = tmp_path / "net.json"
    write_json(genome_from_rows(*hidden_rows()), net_file, task)
    with pytest.raises(SystemExit) as e:
        main(["protocol", str(net_file), "--trials", "3", "--sweep", "5", "--finetune-gens", "5",
              "--out", str(tmp_path / "p"), "--json"])
    out = capsys.readouterr().out
    assert int(e.value.code or 0) == 0
    res = orjson.loads(out.strip().splitlines()[-1])
    assert res["finetune"]["method"] == "gradient" and res["finetune"]["epochs"] == 5
    reported = res["conditions"]["tuned_individual"]["mean"]
    got = open_network(tmp_path / "p" / "net.tuned.json", None)
    Xs, ys = task.data("test")
    assert weighted_accuracy(got.network(), Xs, ys, got.weights)[0] == pytest.approx(reported)


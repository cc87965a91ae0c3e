"""The classification protocol's per-digit accuracy and inputs used, on a hand-made network and 14 images.

Output k is |weight * input k| and image i is one-hot at input p_i, so the network predicts p_i at any
non-zero weight, shared or per connection: every condition has the same, known per-digit accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest

from wann_engine import protocol as P
from wann_engine.activations import ABS, LINEAR
from wann_engine.genome import BIAS, HIDDEN, INPUT, OUTPUT
from wann_engine.netfile import genome_from_rows
from wann_engine.tasks import classify as cl

LABELS = [0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
PREDICTED = [0, 0, 1, 1, 3, 2, 3, 4, 5, 6, 7, 8, 9, 0]
# per true digit: 0 -> 2 of 3 right, 1 -> 1 of 2, 9 -> 1 of 2, the others all right
EXPECTED = [2 / 3, 1 / 2, 1, 1, 1, 1, 1, 1, 1, 1 / 2]


@pytest.fixture
def tiny(monkeypatch):
    x = np.zeros((len(LABELS), 64))
    x[np.arange(len(LABELS)), PREDICTED] = 1.0
    y = np.asarray(LABELS, dtype=np.int64)
    monkeypatch.setattr(cl, "dataset", lambda name, split="train", data_dir=None: (x, y))
    return cl.ClassifyTask("digits", batch=8)


def network(dead_end: bool):
    """Input k+1 -> output k (abs); with ``dead_end``, input 21 also feeds a hidden node that reaches nothing,
    and input 31 feeds output 0 through a hidden node."""
    nodes = [[0, BIAS, 0]] + [[i, INPUT, LINEAR] for i in range(1, 65)] + [[65 + k, OUTPUT, ABS] for k in range(10)]
    conns = [[k, k + 1, 65 + k, 1] for k in range(10)]
    if dead_end:
        nodes += [[80, HIDDEN, LINEAR], [81, HIDDEN, LINEAR]]
        conns += [[20, 21, 80, 1], [21, 31, 81, 1], [22, 81, 65, 1]]
    return genome_from_rows(nodes, conns).network()


def test_per_digit_accuracy_of_every_condition_is_right(tiny):
    net = network(False)
    res = P.classification_protocol(tiny, net, trials=3, sweep=5, finetune_gens=2, saved=np.full(net.n_conns, 0.7))
    digits = res.to_dict()["per_digit"]
    assert list(digits) == ["random_individual", "random_shared", "tuned_shared", "ensemble", "tuned_individual",
                            "saved_weights"]
    for name, row in digits.items():
        np.testing.assert_allclose(row, EXPECTED, atol=1e-12, err_msg=name)
    for name in digits:
        assert res.conditions[name].mean == pytest.approx(11 / 14)
    table = P.format_table(res, profile_rows=False)
    assert "test accuracy per digit" in table
    row = next(line for line in table.splitlines() if line.startswith("ensemble of weights") and "%" in line
               and "vote" not in line)
    assert row.split()[3:] == ["66.7%", "50.0%"] + ["100.0%"] * 7 + ["50.0%"]


def test_inputs_used_counts_inputs_with_a_path_to_an_output(tiny):
    assert P.inputs_used(network(False)) == 10
    net = network(True)
    assert net.n_conns == 13 and P.inputs_used(net) == 11  # input 21 reaches no output
    res = P.classification_protocol(tiny, net, trials=2, sweep=3)
    assert (res.to_dict()["inputs"], res.to_dict()["inputs_used"]) == (64, 11)
    assert "13 connections  11 of 64 inputs used" in P.format_table(res)

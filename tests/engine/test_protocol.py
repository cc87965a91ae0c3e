"""The evaluation protocol: the per-connection-weight kernel, seeded conditions, the CLI and tuned-weights files."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from conftest import engine

from wann_engine import protocol as P
from wann_engine.activations import apply
from wann_engine.netfile import NetworkFileError, read_out
from wann_engine.netpack import pack
from wann_engine.tasks import get
from wann_engine.tasks import swingup as su


def _numpy_weighted_rollout(net, edge_w, starts, steps):
    """Reference: numpy physics and a node-by-node pass with one weight per connection."""
    env = su.SwingUpEnv()
    obs = env.reset(starts)
    total = np.zeros(len(starts))
    alive = np.ones(len(starts), bool)
    for _ in range(steps):
        vals = np.zeros((net.n_nodes, len(starts)))
        vals[0] = 1.0
        vals[1 : net.n_in + 1] = obs.T
        for j in range(net.n_in + 1, net.n_nodes):
            lo, hi = net.src_ptr[j], net.src_ptr[j + 1]
            vals[j] = apply(int(net.act[j]), (edge_w[lo:hi, None] * vals[net.src_idx[lo:hi]]).sum(0))
        obs, r, d = env.step(vals[-1:].T)
        total += r * alive
        alive &= ~d
    return total


@pytest.fixture(scope="module")
def swing_net(swing_out):
    return read_out(swing_out, 5, 1).network()


def test_weighted_kernel_with_equal_weights_is_the_shared_kernel(swing_net):
    packed = pack([swing_net])
    weights = np.array([-2.0, -1.0, -0.5, 0.5, 0.8, 1.0, 2.0])
    starts = su.initial_states((3,), 6)
    shared, _ = su.rollouts(packed, weights, starts, 1000)
    lanes = np.tile(starts, (len(weights), 1))
    scale = np.repeat(weights, len(starts))
    # all connection weights 1 and a per-lane multiplier w: the very same arithmetic, whole episodes
    ones, live = su.rollouts_weighted(packed, np.ones(swing_net.n_conns), lanes, 1000, scale=scale)
    assert np.array_equal(ones.reshape(len(weights), -1), shared[0])
    assert live > 0
    # every connection weight = w: sum(w * s) instead of w * sum(s) -- equal to rounding before chaos sets in
    short, _ = su.rollouts(packed, weights, starts, 20)
    ew = scale[:, None] * np.ones((1, swing_net.n_conns))
    each, _ = su.rollouts_weighted(packed, ew, lanes, 20)
    np.testing.assert_allclose(each.reshape(len(weights), -1), short[0], rtol=1e-9, atol=1e-9)


def test_weighted_kernel_matches_numpy_reference_with_distinct_weights(swing_net):
    rng = np.random.default_rng(5)
    ew = rng.uniform(-2, 2, swing_net.n_conns)
    starts = su.initial_states((9,), 4)
    got, _ = su.rollouts_weighted(pack([swing_net]), ew, starts, 40)
    np.testing.assert_allclose(got, _numpy_weighted_rollout(swing_net, ew, starts, 40), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="edge_w must be"):
        su.rollouts_weighted(pack([swing_net]), ew[:-1], starts, 10)


def test_random_conditions_are_seeded_and_in_range():
    for draw in (P.random_shared_weights(7, 2000), P.random_individual_weights(7, 50, 40)):
        assert (draw > -2).all() and (draw < 2).all()
        assert draw.std() > 0.9  # spread over the interval, not one value
    assert np.array_equal(P.random_shared_weights(7, 10), P.random_shared_weights(7, 30)[:10])
    assert np.array_equal(P.random_individual_weights(7, 3, 40), P.random_individual_weights(7, 9, 40)[:3])
    assert not np.array_equal(P.random_shared_weights(7, 10), P.random_shared_weights(8, 10))
    w = P.sweep_weights(81)
    assert w[0] == -2 and w[-1] == 2 and len(w) == 81 and w[56] == 0.8


def test_protocol_on_the_swing_champion(swing_out, tmp_path):
    out = tmp_path / "out"
    p = engine("protocol", str(swing_out), "--trials", "10", "--seed", "0", "--sweep", "21", "--finetune-gens", "6",
               "--finetune-pop", "8", "--finetune-episodes", "4", "--out", str(out), "--json", check=True)
    j = orjson.loads(p.stdout)
    c = j["conditions"]
    assert set(P.CONDITIONS) <= set(c) and all(c[k]["available"] and len(c[k]["scores"]) == 10 for k in P.CONDITIONS)
    assert c["tuned_shared"]["mean"] >= c["random_shared"]["mean"] > c["random_individual"]["mean"]
    assert c["tuned_individual"]["mean"] >= c["tuned_shared"]["mean"] - 30
    assert c["tuned_shared"]["weight"] == j["profile"]["best_weight"] == 0.8
    assert len(j["profile"]["mean"]) == 21 and max(j["profile"]["mean"]) == c["tuned_shared"]["mean"]
    assert j["finetune"]["gens"] == 6 and j["finetune"]["popsize"] == 8 and len(j["finetune"]["weights"]) == 52
    # the saved weights reload (no pickle) and score the same trials identically
    tuned = out / "swing.tuned.json"
    assert j["tuned_file"] == str(tuned) and (out / "swing.protocol.json").exists()
    t = P.load_tuned(tuned)
    net = t.genome.network()
    assert net.n_conns == 52 and np.array_equal(t.weights, j["finetune"]["weights"])
    again = get("swingup").scorer(net).weighted(np.broadcast_to(t.weights, (10, 52)), (0,), np.arange(10))
    assert again.tolist() == c["tuned_individual"]["scores"]
    # ... and through the command: the saved weights are one more row
    p = engine("protocol", str(tuned), "--trials", "10", "--sweep", "3", "--finetune-gens", "0", "--out",
               str(tmp_path / "again"), check=True)
    row = next(line for line in p.stdout.splitlines() if line.startswith("saved tuned weights"))
    assert f"{c['tuned_individual']['mean']:.2f}" in row
    assert "skipped" in next(line for line in p.stdout.splitlines() if line.startswith("tuned individual"))


def test_tuned_file_must_match_its_network(swing_out, tmp_path):
    g = read_out(swing_out, 5, 1)
    task = type("T", (), {"name": "swingup", "n_inputs": 5, "n_outputs": 1, "input_names": su.INPUT_NAMES,
                          "output_names": su.OUTPUT_NAMES})()
    path = P.save_tuned(tmp_path / "a.tuned.json", g, task, np.linspace(-1, 1, 52), 0.5)
    doc = orjson.loads(path.read_bytes())
    doc["connections"] = doc["connections"][::-1]  # any order is fine
    path.write_bytes(orjson.dumps(doc))
    assert np.array_equal(P.load_tuned(path).weights, np.linspace(-1, 1, 52))
    doc["connections"][0][0] = 3  # a connection the network does not have
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(NetworkFileError, match="do not match"):
        P.load_tuned(path)


@pytest.mark.parametrize("args, message", [
    (["/nonexistent.out"], "/nonexistent.out: no such file"),
    (["SWING", "--trials", "0"], "--trials must be at least 1"),
    (["SWING", "--task", "nosuch"], "unknown task 'nosuch'"),
    (["SWING", "--task", "digits"], "swing.out: 29 nodes cannot hold a bias, 64 inputs"),
    (["GARBAGE"], "not a readable .out matrix"),
    (["SWING", "--trials", "x"], "--trials"),
])
def test_bad_input_gives_one_line_and_exit_2(swing_out, tmp_path, args, message):
    garbage = tmp_path / "garbage.out"
    garbage.write_text("this is not a network\n")
    args = [str(swing_out) if a == "SWING" else str(garbage) if a == "GARBAGE" else a for a in args]
    p = engine("protocol", *args, "--out", str(tmp_path / "o"))
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wann-engine: error:") and message in err[0], p.stderr
    assert not (tmp_path / "o").exists()


def test_classification_weighted_outputs_match_the_task_kernel():
    from wann_engine.genome import initial_genome
    from wann_engine.netpack import weighted_outputs
    from wann_engine.tasks import get
    from wann_engine.tasks.classify import outputs, weighted_accuracy

    task = get("digits")
    net = initial_genome(64, 10, np.random.default_rng(0), 0.3).network()
    X, y = task.data("test")
    for w in (-1.5, 0.5):
        mine = weighted_outputs(net, X, np.full(net.n_conns, w))
        np.testing.assert_allclose(mine, outputs(net, np.array([w]), X)[0], rtol=1e-12, atol=1e-12)
        acc, _ = weighted_accuracy(net, X, y, np.full(net.n_conns, w))
        assert acc == pytest.approx(task.accuracy(net, [w], "test").accuracy[0])
    res = P.classification_protocol(task, net, trials=3, sweep=5, finetune_gens=2)
    assert set(P.CONDITIONS) <= set(res.conditions) and res.metric == "test accuracy"
    assert all(0 <= res.conditions[k].mean <= 1 for k in P.CONDITIONS)
    assert len(res.extra["profile_per_digit"]) == 5 and 0 <= res.extra["ensemble"]["ensemble"] <= 1

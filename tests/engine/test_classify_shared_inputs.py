"""The population scoring pass of the classification tasks: inputs laid out once per batch, input-only
nodes summed once for all weights; float64 (the reference) equals the reference forward passes, and the
search's float32 pass stays within its stated tolerance of it, at any thread count, NaN rows included."""

from __future__ import annotations

import numpy as np
import pytest

from wann_engine.activations import CLASSIFY_HIDDEN
from wann_engine.config import STANDARD_WEIGHTS
from wann_engine.genome import initial_genome
from wann_engine.netpack import forward_batch, pack
from wann_engine.tasks import classify as cl
from wann_engine.tasks import classify_f32 as f32
from wann_engine.tasks import get
from wann_engine.tasks.classify_kernels import _mean_logp_shared, batch_inputs
from wann_engine.variation import Innovations, mutate

W = np.asarray(STANDARD_WEIGHTS)
F32_REL = 5e-3  # the search's float32 fitness against float64, relative to max(1, |fitness|)


def grown_nets(n_in: int, count: int, seed: int, p: float, mutations: int, acts=CLASSIFY_HIDDEN + (2, 11)):
    """Networks with hidden nodes that read inputs only, hidden nodes only, or both (and all activations)."""
    rng = np.random.default_rng(seed)
    inn = Innovations((n_in + 1) * 10, 1 + n_in + 10)
    out = []
    for _ in range(count):
        g = initial_genome(n_in, 10, rng, p)
        for _ in range(int(rng.integers(0, mutations + 1))):
            g, _ = mutate(g, rng, inn, (0.45, 0.35, 0.05, 0.15), acts)
        out.append(g.network())
    return out


def float64_pass(nets, X, y, batches, weights):
    packed = pack(nets)
    xs, yb = batch_inputs(X, y, batches)
    out = np.zeros((len(nets), len(weights), len(batches)))
    _mean_logp_shared(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, packed.n_out, xs, yb,
                      np.ascontiguousarray(weights, dtype=np.float64), cl.CHUNK, 0, len(nets), out)
    return out


def assert_f32_close(got, ref):
    assert np.all(np.abs(got - ref) <= F32_REL * np.maximum(1.0, np.abs(ref))), np.abs(got - ref).max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_population_pass_equals_reference_forward(seed):
    task = get("digits")
    X, y = task.data()
    nets = grown_nets(64, 10, seed, p=0.15, mutations=40)
    assert any(n.n_nodes > 75 for n in nets)
    batches = cl.batch_rows((seed, 9), 2, len(X))
    ref64 = float64_pass(nets, X, y, batches, W)
    for p, net in enumerate(nets):
        for r in range(2):
            rows = batches[r]
            for wi, w in enumerate(W):
                ref = cl.true_logp(net.forward(X[rows], w), y[rows]).mean()
                assert ref64[p, wi, r] == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert_f32_close(task.score(nets, W, (seed, 9), 2, 0, 1).returns, ref64)
    # the policy pass of netpack, on the same images, gives the same outputs
    packed = pack(nets)
    rows = batches[0][:50]
    lane_net = np.repeat(np.arange(len(nets)), len(rows))
    for wi in (0, 5):
        out = forward_batch(packed, np.tile(X[rows], (len(nets), 1)), lane_net, np.full(len(lane_net), W[wi]))
        for p, net in enumerate(nets):
            np.testing.assert_allclose(out[lane_net == p], net.forward(X[rows], W[wi]), rtol=1e-12, atol=1e-12)


def test_mnist256_float32_pass_is_close_and_the_same_at_any_thread_count():
    task = get("mnist256")
    nets = grown_nets(256, 24, 5, p=0.05, mutations=60)
    one = task.score(nets, W, (4, 2), 1, 0, 1).returns
    two = task.score(nets, W, (4, 2), 1, 0, 2).returns
    assert np.array_equal(one, two)
    assert np.array_equal(one, task.score(nets[::-1], W, (4, 2), 1, 0, 2).returns[::-1])  # no lane depends on others
    X, y = task.data()
    ref = float64_pass(nets, X, y, cl.batch_rows((4, 2), 1, len(X)), W)
    assert_f32_close(one, ref)
    fit = ref > -5  # where selection decides, float32 is much closer than the overall bound
    assert fit.any() and np.abs(one - ref)[fit].max() < 1e-4
    assert np.array_equal(np.argsort(-one.mean((1, 2)), kind="stable"), np.argsort(-ref.mean((1, 2)), kind="stable"))


def test_nan_rows_are_scored_as_before():
    """A NaN output row gets LOGP_NAN (the search's reward cannot hide a NaN), in both precisions."""
    task = get("digits")
    X, y = task.data()
    g = initial_genome(64, 10, np.random.default_rng(0), 1.0)
    g.node_act[-10:] = 3  # sin(pi * inf) is NaN
    sc = task.score([g.network()], np.array([np.inf, 1.0]), (0,), 1, 0, 1).returns
    assert sc[0, 0, 0] == pytest.approx(cl.LOGP_NAN)
    assert np.isfinite(sc[0, 1, 0]) and sc[0, 1, 0] > -10
    # some rows NaN and some not (0 * inf is NaN on blank pixels): the same rows in both precisions
    nets = grown_nets(64, 6, 3, p=0.3, mutations=20)
    w = np.array([np.inf, -np.inf])
    batches = cl.batch_rows((1,), 1, len(X))
    got = task.score(nets, w, (1,), 1, 0, 1).returns
    ref = float64_pass(nets, X, y, batches, w)
    assert (got < -1e6).any()
    assert_f32_close(got, ref)
    for p, net in enumerate(nets):
        with np.errstate(all="ignore"):
            want = [cl.true_logp(net.forward(X[batches[0]], wv), y[batches[0]]).mean() for wv in w]
        np.testing.assert_allclose(ref[p, :, 0], want, rtol=1e-9)


def test_float32_activations_are_within_a_few_float32_ulps():
    x = np.linspace(-40, 40, 200_001).astype(np.float32)
    one = np.ones_like(x)
    refs = {3: lambda v: np.sin(np.pi * v), 10: lambda v: np.cos(np.pi * v), 4: lambda v: np.exp(-v * v / 2),
            5: np.tanh, 6: lambda v: (np.tanh(v / 2) + 1) / 2, 9: lambda v: np.maximum(v, 0), 11: np.square}
    for act, ref in refs.items():
        out = np.empty_like(x)
        f32.activate_lanes(act, x, one, out, len(x))
        want = ref(x.astype(np.float64))
        assert np.all(np.abs(out - want) <= 4e-7 * np.maximum(1.0, np.abs(want))), act
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 100.0, -100.0], dtype=np.float32)
    for act in (3, 4, 5, 6, 10):
        out = np.empty_like(special)
        f32.activate_lanes(act, special, np.ones_like(special), out, len(special))
        with np.errstate(all="ignore"):
            want = refs[act](special.astype(np.float64))
        np.testing.assert_allclose(out, want, atol=1e-6, equal_nan=True)


def test_batch_inputs_layout():
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([3, 1, 4, 1])
    xs, yb = batch_inputs(X, y, np.array([[2, 0], [1, 3]]), np.float32)
    assert xs.shape == (2, 4, 2) and xs.dtype == np.float32 and yb.tolist() == [[4, 3], [1, 1]]
    assert xs[:, 0].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert xs[0, 1:, 0].tolist() == X[2].tolist() and xs[1, 1:, 1].tolist() == X[3].tolist()


def test_float32_coefficients_are_the_economised_series():
    import math
    from fractions import Fraction

    from wann_engine.kmath import economized

    z_max, half_ln2 = Fraction(math.pi) ** 2 / 4, Fraction(math.log(2.0)) / 2
    sin_y = [Fraction((-1) ** k, math.factorial(2 * k + 1)) for k in range(12)]
    cos_y = [Fraction((-1) ** k, math.factorial(2 * k)) for k in range(12)]
    exp_r = [Fraction(1, math.factorial(k)) for k in range(16)]
    for series, lo, hi, deg, got in ((sin_y, 0, z_max, 5, (f32.S0, f32.S1, f32.S2, f32.S3, f32.S4, f32.S5)),
                                     (cos_y, 0, z_max, 5, (f32.C0, f32.C1, f32.C2, f32.C3, f32.C4, f32.C5)),
                                     (exp_r, -half_ln2, half_ln2, 6,
                                      (f32.E0, f32.E1, f32.E2, f32.E3, f32.E4, f32.E5, f32.E6))):
        want = np.asarray(economized(series, Fraction(lo), hi, deg), dtype=np.float32)
        assert np.array_equal(np.asarray(got, dtype=np.float32), want)

"""Pareto fronts and crowding distance against a brute-force definition."""

from __future__ import annotations

import numpy as np

from wann_engine.ranking import crowding, fronts, rank


def brute_fronts(obj):
    n = len(obj)
    left, out, f = set(range(n)), np.full(n, -1), 0
    while left:
        cur = {i for i in left if not any((obj[j] >= obj[i]).all() and (obj[j] > obj[i]).any() for j in left)}
        for i in cur:
            out[i] = f
        left -= cur
        f += 1
    return out


def test_fronts_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        obj = rng.integers(0, 6, size=(40, 2)).astype(float)
        np.testing.assert_array_equal(fronts(obj), brute_fronts(obj))


def test_crowding_is_normalised_with_infinite_ends():
    obj = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    d = crowding(obj)
    assert np.isinf(d[0]) and np.isinf(d[3])
    np.testing.assert_allclose(d[1:3], [3 / 4 + 3 / 4, 3 / 4 + 3 / 4])


def test_rank_is_a_permutation_and_best_mean_is_first():
    rng = np.random.default_rng(1)
    obj = rng.normal(size=(960, 2))
    r = rank(obj)
    assert sorted(r) == list(range(960))
    assert r[np.argmax(obj[:, 0])] <= len(np.flatnonzero(fronts(obj) == 0))
    assert (fronts(obj)[np.argsort(r)] == np.sort(fronts(obj))).all()


def test_nan_objectives_rank_last():
    obj = np.array([[1.0, 1.0], [np.nan, 0.2], [0.5, 0.5]])
    assert rank(obj)[1] == 2


def test_two_objective_sweep_equals_dominance_matrix_with_ties():
    rng = np.random.default_rng(7)
    for _ in range(30):
        obj = rng.integers(0, 4, size=(60, 2)).astype(float)
        obj[rng.random(60) < 0.1, 0] = np.nan
        three = np.c_[obj, np.zeros(60)]  # a third, constant objective takes the matrix path
        np.testing.assert_array_equal(fronts(obj), fronts(three))


def test_crowding_per_front_equals_crowding_of_each_front_alone():
    rng = np.random.default_rng(8)
    obj = rng.normal(size=(200, 2))
    f = fronts(obj)
    together = crowding(obj, f)
    for k in range(f.max() + 1):
        members = np.flatnonzero(f == k)
        np.testing.assert_allclose(together[members], crowding(obj[members]))

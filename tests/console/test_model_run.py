"""RunModel and History: bounded memory, downsampling, the resume rule, malformed lines."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from wanntui.model import C, History, RunModel, bucket_rows, merge_rows, num, synthetic_generation


def _row(g: int, fit_max: float = 1.0) -> tuple:
    return (g, g, 1000.0 + g, 1.0, fit_max, float(g), float(g) + 5, 10.0, 100.0, 0.1, g * 0.1, g * 10.0)


def test_history_is_bounded_and_keeps_the_whole_span():
    h = History(recent=64, old=64)
    for g in range(20_000):
        h.append(_row(g))
    rows = h.rows()
    assert len(rows) <= 128 and h.level >= 5
    assert rows[0, C["gen_lo"]] == 0 and rows[-1, C["gen"]] == 19_999
    assert np.all(np.diff(rows[:, C["gen"]]) > 0)
    assert rows[-1, C["best_mean"]] == 19_999  # max-merged columns keep their maximum
    assert h.nbytes == (64 + 64) * len(C) * 8


def test_merging_keeps_peaks_and_averages_medians():
    rows = np.array([_row(0, fit_max=5.0), _row(1, fit_max=9.0), _row(2, fit_max=1.0)])
    rows[1, C["fit_median"]] = 3.0
    m = merge_rows(rows)
    assert len(m) == 2
    assert m[0, C["fit_max"]] == 9.0 and m[0, C["fit_median"]] == 2.0
    assert m[0, C["gen_lo"]] == 0 and m[0, C["gen"]] == 1
    b = bucket_rows(np.array([_row(g, fit_max=float(g % 7)) for g in range(100)]), 10)
    assert len(b) == 10 and b[:, C["fit_max"]].max() == 6.0 and b[-1, C["gen"]] == 99


def test_model_follows_events_and_the_resume_rule():
    m = RunModel("/tmp/x")
    m.apply({"type": "run_start", "t": 1.0, "name": "x", "weights": [-1.0, 1.0], "total_generations": 20,
             "input_names": ["a"], "output_names": ["b"], "config": {"workers": 2, "popSize": 64},
             "resumed_from": None})
    for g in range(10):
        m.apply(synthetic_generation(g, pop=8, n_weights=2, t=2.0 + g, champion=g in (3, 8)))
    snap = m.snapshot()
    assert snap.gen_done == 10 and snap.meta.workers == 2 and snap.champion_gen == 8
    m.apply({"type": "run_start", "t": 50.0, "resumed_from": 7, "config": {}, "total_generations": 20})
    snap = m.snapshot()
    assert snap.history[-1, C["gen"]] == 6
    assert snap.last is None and snap.champion_gen == 3
    m.apply(synthetic_generation(7, pop=8, n_weights=2, t=51.0))
    assert m.snapshot().gen_done == 8


def test_malformed_lines_are_skipped_with_a_warning():
    m = RunModel("/tmp/run1")
    good = orjson.dumps(synthetic_generation(0, pop=4))
    applied = m.feed([good, b"{not json", b'{"no_type": 1}', b'{"type": "generation", "gen": "x"}', good], 10)
    assert applied == 2
    snap = m.snapshot()
    assert snap.n_malformed == 3 and snap.n_events == 2
    assert "line 11" in snap.warnings[0] and "line 13" in snap.warnings[2]


def test_non_finite_numbers_are_decoded():
    assert math.isnan(num("NaN")) and num("Infinity") == math.inf and num("-Infinity") == -math.inf
    assert math.isnan(num(None)) and num(3) == 3.0
    ev = synthetic_generation(0, pop=4)
    ev["fit_median"] = "-Infinity"
    m = RunModel("/tmp/x")
    m.feed([orjson.dumps(ev)])
    assert m.snapshot().history[0, C["fit_median"]] == -math.inf


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_merge_small(n):
    rows = np.array([_row(g) for g in range(n)])
    assert len(merge_rows(rows)) == (n + 1) // 2 if n > 1 else 1

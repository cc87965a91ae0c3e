"""Statistics across seeds (``wann_engine.sweep_stats``) on event streams written by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from wann_engine import sweep_stats as st
from wann_engine.events import encode


def line(ev: dict) -> bytes:
    return encode(ev) + b"\n"


def write_run(folder: Path, bests: list[float], elapsed_step: float = 1.0, pop: int = 10, extra=None) -> Path:
    folder.mkdir(parents=True)
    lines = [line({"v": 1, "type": "run_start", "t": 1.0, "weights": [-1.0, 1.0], "resumed_from": None})]
    for g, b in enumerate(bests):
        ev = {"v": 1, "type": "generation", "t": 2.0 + g, "gen": g, "evaluations": (g + 1) * pop,
              "elapsed": (g + 1) * elapsed_step, "best_mean": b, "fit_max": b, "fit_median": b / 2,
              "best_conns": 3 + g, "best_per_weight": [b - 1, b + 1]}
        ev.update((extra or {}).get(g, {}))
        lines.append(line(ev))
    (folder / "events.jsonl").write_bytes(b"".join(lines))
    return folder


def curves(tmp_path: Path) -> list[st.RunCurve]:
    a = write_run(tmp_path / "a", [1, 2, 3, 4])
    b = write_run(tmp_path / "b", [2, 2, 5, 6, 7], elapsed_step=2.0)
    c = write_run(tmp_path / "c", [0, 1])
    return [st.read_curve(p) for p in (a, b, c)]


def test_band_by_generation_counts_only_runs_that_got_there(tmp_path):
    b = st.band(curves(tmp_path), "gen")
    assert b.x.tolist() == [0, 1, 2, 3, 4]
    assert b.n.tolist() == [3, 3, 2, 2, 1]
    assert b.median.tolist() == [1, 2, 4, 5, 7]
    assert b.lo[0] == pytest.approx(0.5) and b.hi[0] == pytest.approx(1.5)


def test_band_by_wall_time_is_a_step_function(tmp_path):
    b = st.band(curves(tmp_path), "elapsed", points=10)  # x = 1, 2, ..., 10 s
    assert b.x[0] == 1.0 and b.x[-1] == 10.0
    at = dict(zip(b.x.tolist(), zip(b.median.tolist(), b.n.tolist(), strict=True), strict=True))
    assert at[1.0] == (0.5, 2)  # a=1, c=0; b has no generation before 2 s
    assert at[4.0] == (3.0, 2)  # a=4 (gen 3), b=2 (gen 1); c ended at 2 s
    assert at[10.0] == (7.0, 1)


def test_reader_applies_the_resume_rule_and_reads_only_complete_lines(tmp_path):
    run = write_run(tmp_path / "r", [1, 2, 3, 4, 5])
    reader = st.CurveReader(run)
    assert reader.refresh().rows["gen"] == [0, 1, 2, 3, 4]
    with open(run / "events.jsonl", "ab") as f:
        f.write(line({"v": 1, "type": "run_start", "t": 9.0, "resumed_from": 3}))
        f.write(line({"v": 1, "type": "generation", "t": 10.0, "gen": 3, "best_mean": 40.0, "elapsed": 1.0}))
        f.write(b'{"v":1,"type":"generation","t":11.0,"gen":4,"best_')  # still being written
    c = reader.refresh()
    assert c.rows["gen"] == [0, 1, 2, 3] and c.rows["best_mean"][-1] == 40.0
    with open(run / "events.jsonl", "ab") as f:
        f.write(b'mean":50.0}\n')
    assert reader.refresh().rows["best_mean"] == [1, 2, 3, 40, 50]
    assert st.read_curve(run).rows["gen"] == [0, 1, 2, 3, 4]


def test_summary_threshold_and_retest(tmp_path):
    a = write_run(tmp_path / "a", [1, 5, 6], extra={2: {"retest_mean": 5.5, "retest_episodes": 100}})
    b = write_run(tmp_path / "b", [1, 2, 3])
    c = write_run(tmp_path / "c", [5, 6, 9], elapsed_step=3.0)
    g = st.Group("x=1", {"x": "1"}, [st.read_curve(p) for p in (a, b, c)], [0, 1, 2])
    s = st.summarize(g, threshold=5.0)
    assert s.finals.tolist() == [6, 3, 9] and s.conns.tolist() == [5, 5, 5]
    assert s.reached == 2 and s.gen_to[0] == 1 and math.isnan(s.gen_to[1]) and s.gen_to[2] == 0
    assert s.median_time_to() == 3.0  # median of 2 s, 3 s and never
    row = s.row()
    assert row["final_median"] == 6 and row["reached"] == 2 and row["retest_median"] == 5.5
    assert row["retest_episodes"] == 100


def test_mann_whitney_is_scipys_two_sided_test():
    rng = np.random.default_rng(1)
    va, vb = rng.normal(0, 1, 8), rng.normal(1, 1, 8)
    mk = lambda v: st.Summary("s", {}, list(range(len(v))), [1] * len(v), v, np.full(len(v), np.nan), None,  # noqa: E731
                              v, None, v, v, v)
    t = st.mann_whitney(mk(va), mk(vb))
    ref = mannwhitneyu(va, vb, alternative="two-sided")
    assert t.p == pytest.approx(ref.pvalue) and t.u == ref.statistic and (t.n_a, t.n_b) == (8, 8)
    assert "p = " in t.line()
    assert math.isnan(st.mann_whitney(mk(va), mk(vb), "retest").p)  # no re-tested scores: no test

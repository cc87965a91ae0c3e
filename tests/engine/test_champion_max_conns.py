"""``champion_max_conns``: the champion is the best re-tested network of at most that many connections,
every file and event says so, and the search itself is the run it would have been without the option."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import TIMING, engine

from wann_engine.events import read_events
from wann_engine.netfile import read_any

CAP = 6


def _run(runs: Path, name: str, *sets: str) -> list[dict]:
    args = ["run", "--pop", "32", "--gens", "12", "--seed", "5", "--runs-dir", str(runs), "--name", name,
            "--quiet", "--set", "prob_initEnable=1.0"]
    for s in sets:
        args += ["--set", s]
    engine(*args, check=True)
    return [e for e in read_events(runs / name / "events.jsonl") if e["type"] == "generation"]


def test_the_champion_stays_within_the_size_and_the_search_is_unchanged(runs):
    free = _run(runs, "free")
    capped = _run(runs, "capped", f"champion_max_conns={CAP}")
    # without the cap this search's champion outgrows it, so the cap has something to do
    assert max(e["retest_conns"] for e in free) > CAP
    assert all(0 < e["retest_conns"] <= CAP for e in capped if e["retest_mean"] is not None)
    champ = read_any(runs / "capped" / "champion.json", 5, 1)
    assert champ.network().n_conns <= CAP
    meta = json.loads((runs / "capped" / "champion.json").read_text())
    assert meta["retest"]["mean"] == capped[-1]["retest_mean"]
    # the search (population, scores, raw best) is the same generation for generation; only re-tests differ
    search_keys = {"gen", "fit_median", "fit_mean", "fit_max", "best_mean", "best_conns", "conns_median",
                   "nodes_median", "episodes", "evaluations"}
    for a, b in zip(free, capped, strict=True):
        assert {k: a[k] for k in search_keys} == {k: b[k] for k in search_keys}
        assert TIMING.isdisjoint(search_keys)


def test_a_negative_cap_is_refused_in_one_line(runs):
    p = engine("run", "--pop", "32", "--gens", "2", "--runs-dir", str(runs), "--quiet",
               "--set", "champion_max_conns=-1")
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1, p.stderr
    assert "champion_max_conns=-1: must be >= 0" in err[0]
    assert not any(runs.iterdir())

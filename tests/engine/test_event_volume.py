"""The population-sized fields (objectives, fronts) are written every ~10 s and at every boundary, not in every
generation event: the file stays small, the history complete, and the Pareto pane still shows a population."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
from tui_support import ROOT, engine_env

from wann_engine import events
from wanntui.model import RunModel, synthetic_generation

FAST = ("--pop", "16", "--set", "max_steps=50", "--set", "checkpoint_seconds=3600", "--quiet")


def _events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def _engine(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "wann_engine", *args], check=True, env=engine_env(), cwd=ROOT,
                   timeout=300, capture_output=True)


def test_a_fast_run_writes_the_population_only_at_its_ends(tmp_path: Path):
    runs = tmp_path / "runs"
    _engine("run", "--gens", "40", "--runs-dir", str(runs), "--name", "f", *FAST)
    gens = [e for e in _events(runs / "f") if e["type"] == "generation"]
    assert [e["gen"] for e in gens] == list(range(40))  # the history is complete
    with_pop = [e["gen"] for e in gens if "objectives" in e]
    assert with_pop[0] == 0 and with_pop[-1] == 39  # the first generation, and the last before finishing
    assert len(with_pop) < 10, with_pop  # (40 fast generations take a few seconds)
    for e in gens:
        assert ("objectives" in e) == ("front" in e) == ("front_peak" in e)
        assert {"fit_median", "best_mean", "best_per_weight", "evals_per_s", "pop_best_per_weight"} <= set(e)
    small = [len(orjson.dumps(e)) for e in gens if "objectives" not in e]
    full = [len(orjson.dumps(e)) for e in gens if "objectives" in e]
    assert max(small) < min(full)


def test_every_generation_before_a_checkpoint_carries_the_population(tmp_path: Path):
    runs = tmp_path / "runs"
    _engine("run", "--gens", "30", "--runs-dir", str(runs), "--name", "c", *FAST, "--set", "checkpoint_every=7")
    evs = _events(runs / "c")
    for prev, ev in zip(evs, evs[1:], strict=False):
        if ev["type"] == "checkpoint" and prev["type"] == "generation":
            assert "objectives" in prev and len(prev["objectives"]) == 16, prev["gen"]
    assert [e["gen"] for e in evs if e["type"] == "generation" and "objectives" in e] == [0, 6, 13, 20, 27, 29]


def test_a_stopped_run_shows_a_recent_population(tmp_path: Path):
    """After a stop, the console's Pareto pane has a population at most POPULATION_SECONDS older than the
    last generation (the generation before the stop carries it unless the stop abandoned one in progress)."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--gens", "100000", "--runs-dir", str(runs),
                             "--name", "s", *FAST], env=engine_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            ev = runs / "s" / "events.jsonl"
            if ev.exists() and ev.read_bytes().count(b'"type":"generation"') >= 20:
                break
            time.sleep(0.1)
        _engine("control", str(runs / "s"), "stop")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    evs = _events(runs / "s")
    assert evs[-1]["type"] == "stopped"
    gens = [e for e in evs if e["type"] == "generation"]
    shown = [e for e in gens if "objectives" in e][-1]
    assert len(shown["objectives"]) == 16 and gens[-1]["t"] - shown["t"] <= events.POPULATION_SECONDS + 1


def test_the_model_shows_the_latest_population_and_applies_the_resume_rule():
    m = RunModel(Path("r"))
    m.apply({"v": 1, "type": "run_start", "t": 1.0, "name": "r", "resumed_from": None})
    m.apply(synthetic_generation(0, pop=8, t=2.0))
    thin = {k: v for k, v in synthetic_generation(1, pop=8, t=3.0).items() if k not in events.POPULATION}
    m.apply(thin)
    snap = m.snapshot()
    assert snap.last is not None and snap.last.gen == 1 and not snap.last.has_population
    assert snap.population is not None and snap.population.gen == 0 and len(snap.population.objectives) == 8
    assert snap.n_generations == 2 and len(snap.history) == 2
    m.apply({"v": 1, "type": "run_start", "t": 4.0, "name": "r", "resumed_from": 0})  # re-runs generation 0
    assert m.snapshot().population is None


def test_damaged_population_of_an_earlier_generation_is_warned_once():
    m = RunModel(Path("r"))
    bad = {**synthetic_generation(0, pop=8, t=2.0), "objectives": [[1, 2]]}
    thin = {k: v for k, v in synthetic_generation(1, pop=8, t=3.0).items() if k not in events.POPULATION}
    m.feed([orjson.dumps(bad), orjson.dumps(thin)])
    snap = m.snapshot()
    assert snap.population is not None and snap.population.gen == 0 and len(snap.population.objectives) == 0
    assert sum("damaged" in w for w in snap.warnings) == 1

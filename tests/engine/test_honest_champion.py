"""The champion a run reports is the network it scored, with a score that holds on fresh episodes.

- ``keep_disabled_hidden=true``: ``champion.json`` and ``champion.out`` (also copied out of the run, also
  through ``export``) score, under ``wann-engine eval``, exactly what the run reported for its champion,
  with the run's live connection count.
- ``tourn_original=true`` draws exactly ``select_tournSize`` per parent (two tournaments of half), not twice.
- The champion is re-tested on episodes disjoint from the search's; ``eval --seed S --episodes R`` replays
  the re-test; a resumed run re-tests exactly as an uninterrupted one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import engine

from wann_engine import events as ev_mod
from wann_engine.config import ConfigError, for_run
from wann_engine.runner import Session
from wann_engine.search import Search, retest_seed

KEEP = ["keep_disabled_hidden=true", "prob_addNode=1", "prob_addConn=1", "prob_enable=0", "prob_mutAct=0.2"]


def _generations(run: Path) -> list[dict]:
    return [e for e in (orjson.loads(x) for x in (run / "events.jsonl").read_bytes().splitlines())
            if e["type"] == "generation"]


def _eval(path: Path, seed: int, episodes: int) -> dict:
    p = engine("eval", str(path), "--seed", str(seed), "--episodes", str(episodes), "--threads", "1", "--json",
               check=True)
    return orjson.loads(p.stdout)


@pytest.fixture(scope="module")
def keep_run(tmp_path_factory) -> Path:
    """20 generations with keep_disabled_hidden whose champion has disabled hidden->hidden connections."""
    runs = tmp_path_factory.mktemp("keep")
    cfg = for_run("swingup", pop=32, gens=20, seed=2, threads=1, overrides=KEEP)
    with Session.create(runs, "k", cfg) as s:
        assert s.run() == 0
        ch = s.search.champ
        assert ch is not None and ch.network(True).n_conns > ch.network(False).n_conns  # the case under test
    return runs / "k"


def test_keep_disabled_hidden_champion_files_score_what_the_run_scored(keep_run: Path, tmp_path: Path) -> None:
    last = _generations(keep_run)[-1]
    doc = orjson.loads((keep_run / "champion.json").read_bytes())
    rt = doc["retest"]
    assert rt["mean"] == last["retest_mean"] and doc["keep_disabled_hidden"] is True
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    copies = [shutil.copy(keep_run / n, outside / n) for n in ("champion.json", "champion.out")]
    exported = tmp_path / "exported.out"
    engine("export", str(keep_run), "--to", "out", "-o", str(exported), check=True)
    for f in [keep_run / "champion.json", keep_run / "champion.out", *map(Path, copies), exported]:
        got = _eval(f, rt["seed"], rt["episodes_per_weight"])
        assert got["connections"] == last["retest_conns"], f
        assert got["overall_mean"] == pytest.approx(rt["mean"], rel=1e-12, abs=1e-9), f


def test_tourn_original_draws_select_tournsize_per_parent_not_twice() -> None:
    cfg = for_run("swingup", pop=40, gens=3, seed=0, threads=1, overrides=["tourn_original=true"])
    assert cfg.select_tournSize == 16
    s = Search(cfg, 5, 1)
    s.ask()
    s.tell(np.random.default_rng(0).normal(size=(40, 6, 3)))
    drawn: list[int] = []

    class Counting:  # the run's generator, counting the integers drawn (the tournaments' draws)
        def __init__(self, rng: np.random.Generator) -> None:
            self.rng = rng

        def __getattr__(self, name: str):
            return getattr(self.rng, name)

        def integers(self, *a, **k):
            out = self.rng.integers(*a, **k)
            drawn.append(int(np.size(out)))
            return out

    s.rng = Counting(s.rng)  # type: ignore[assignment]
    s.ask()
    children = 40 - int(np.floor(32 * cfg.select_eliteRatio))
    assert drawn[0] + drawn[1] == children * 16
    with pytest.raises(ConfigError, match="select_tournSize"):
        for_run("laptop_swing", overrides=["tourn_original=true", "select_tournSize=7"])


def test_retest_seeds_are_disjoint_from_search_episodes_and_replayable(runs: Path) -> None:
    for seed in (0, 1, 2**40, 2**63 - 1):
        for gen in (0, 1, 5000):
            s = retest_seed(seed, gen)
            assert 2**62 <= s < 2**63 and s != seed
    p = engine("run", "--pop", "24", "--gens", "4", "--seed", "3", "--name", "r", "--runs-dir", str(runs),
               "--threads", "1", "--set", "max_steps=0", check=True)
    assert "retested" in p.stdout and "raw best" in p.stdout
    gens = _generations(runs / "r")
    assert all(g["retest_episodes"] == 120 and g["gen_retested"] == 2 for g in gens)
    assert all(g["retest_mean"] >= g0["retest_mean"] for g0, g in zip(gens, gens[1:], strict=False))
    doc = orjson.loads((runs / "r" / "champion.json").read_bytes())
    got = _eval(runs / "r", doc["retest"]["seed"], 20)
    assert got["overall_mean"] == pytest.approx(gens[-1]["retest_mean"], rel=1e-12, abs=1e-9)
    fin = [e for e in map(orjson.loads, (runs / "r" / "events.jsonl").read_bytes().splitlines())
           if e["type"] == "finished"][0]
    assert fin["retest_mean"] == gens[-1]["retest_mean"]
    status = engine("status", str(runs), check=True).stdout
    assert "retested" in status and f"{gens[-1]['retest_mean']:9.2f} (120 ep)" in status
    from wanntui import fmt

    last = ev_mod.from_dict(gens[-1])
    assert fmt.best_text(last) == f"{fmt.number(gens[-1]['retest_mean'])} (120 ep)"  # the console's status bar


def test_retest_off_keeps_the_raw_champion(runs: Path) -> None:
    cfg = for_run("swingup", pop=16, gens=3, seed=1, threads=1, overrides=["retest_top=0", "max_steps=100"])
    with Session.create(runs, "off", cfg) as s:
        assert s.run() == 0
        best = s.search.best_mean
    doc = orjson.loads((runs / "off" / "champion.json").read_bytes())
    assert doc["fitness"] == best and "retest" not in doc
    assert "retest_mean" not in _generations(runs / "off")[-1]


def test_the_search_is_the_same_with_or_without_retests(runs: Path) -> None:
    """Re-tests pick the champion; they draw no random numbers, so the populations are identical."""
    pops = []
    for top in (0, 3):
        cfg = for_run("swingup", pop=16, gens=4, seed=5, threads=1,
                      overrides=[f"retest_top={top}", "max_steps=100"])
        with Session.create(runs, f"t{top}", cfg) as s:
            s.run()
            pops.append([g.to_dict() for g in s.search.pop])
    assert pops[0] == pops[1]


def test_generation_events_read_with_retest_fields(runs: Path) -> None:
    cfg = for_run("swingup", pop=16, gens=2, seed=1, threads=1, overrides=["max_steps=100"])
    with Session.create(runs, "ev", cfg) as s:
        s.run()
    lines = (runs / "ev" / "events.jsonl").read_bytes().splitlines()
    assert any(orjson.loads(x).get("retest_mean") is not None for x in lines)
    assert ev_mod is not None  # the stream stays readable by the event module (imported, not rewritten)

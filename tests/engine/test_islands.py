"""Island populations with migration and restarts of stalled islands (config ``islands``, ``migrate_every``,
``migrate_n``, ``restart_stall``): migration moves networks, a stalled island restarts and the run says so,
both resume exactly, bad values are refused in one line, and the default search is what it always was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import ROOT, engine
from test_resume import _wait_for_generations, champion, history

from wann_engine import control, rundir
from wann_engine.config import Config, ConfigError, for_run
from wann_engine.events import EventError, Generation, decode, encode, read, read_events
from wann_engine.genome import HIDDEN
from wann_engine.search import Search
from wann_engine.tasks import get
from wann_engine.variation import mutate

N_IN, N_OUT, W, REPS = 5, 1, 6, 3  # swing-up's sizes, the standard weights, alg_nReps


def _returns(means: np.ndarray) -> np.ndarray:
    """Episode returns whose per-network mean is ``means`` (peak = mean)."""
    return np.repeat(np.asarray(means, dtype=float)[:, None, None], W, 1).repeat(REPS, 2)


def _ids(genomes) -> list[bytes]:
    return [orjson.dumps(g.to_dict()) for g in genomes]


def _marked(s: Search, i: int) -> None:
    """Give individual ``i`` a hidden node of its own (a new node id), so it can be recognised anywhere."""
    cfg = s.cfg
    s.pop[i], _ = mutate(s.pop[i], s.rng, s.inn, (0.0, 1.0, 0.0, 0.0), cfg.h_act)


# --- migration ----------------------------------------------------------------------------------------------
def test_migration_copies_each_islands_best_over_the_next_islands_worst():
    cfg = Config(popSize=40, islands=4, migrate_every=1, migrate_n=1, prob_initEnable=1.0, seed=3).validate()
    s = Search(cfg, N_IN, N_OUT)
    s.ask()
    for i in (2, 15, 27, 31):  # a leader in each island (islands are 0-9, 10-19, 20-29, 30-39)
        _marked(s, i)
    before = _ids(s.pop)
    means = np.arange(40, dtype=float) % 10  # in each island its first member is the worst...
    means[[2, 15, 27, 31]] = 100.0  # ...and these are the best
    pop, obj = list(s.pop), np.stack([means, means], 1)
    ranks = [np.argsort(np.argsort(-means[sl], kind="stable"), kind="stable") for sl in s.island_spans()]
    s._migrate(pop, obj, ranks, s.island_spans())
    after = _ids(pop)
    # island k's leader is copied over island k+1's worst (a ring: island 3's goes to island 0), with its scores
    for src, dst in ((2, 10), (15, 20), (27, 30), (31, 0)):
        assert after[dst] == before[src] and after[src] == before[src], (src, dst)
        assert obj[dst, 0] == 100.0
    assert [i for i in range(40) if after[i] != before[i]] == [0, 10, 20, 30]  # nothing else changed
    assert all(r[0] <= 1 for r in ranks)  # re-ranked: each island's first place holds a migrant, tied for best


def test_migration_through_ask_makes_the_migrant_an_elite_of_the_next_island():
    """End to end: with (mean, peak) ranking the migrant dominates its new island, so it is carried over
    unchanged into the next generation of that island; in a generation without migration it is not."""
    for every, expect in ((1, True), (2, False)):
        cfg = Config(popSize=40, islands=4, migrate_every=every, migrate_n=1, alg_probMoo=0.0,
                     prob_initEnable=1.0, seed=4).validate()
        s = Search(cfg, N_IN, N_OUT)
        s.ask()
        _marked(s, 3)
        star = _ids([s.pop[3]])[0]
        means = np.linspace(1, 10, 40)
        means[3] = 1000.0
        s.tell(_returns(means))  # generation 0; the next ask breeds generation 1 (migrates if 1 % every == 0)
        s.ask()
        island1 = _ids(s.pop[10:20])
        assert (star in island1) is expect
        assert star in _ids(s.pop[0:10])  # its own island keeps it as an elite either way


def test_one_island_never_migrates_and_has_no_island_state():
    cfg = Config(popSize=24, migrate_every=1, seed=1).validate()
    s = Search(cfg, N_IN, N_OUT)
    assert s.island_spans() == [slice(0, 24)] and (s.island_of() == 0).all()
    s.ask()
    s.tell(_returns(np.arange(24.0)))
    assert "islands" not in s.to_state()
    assert (Search(Config(popSize=24, islands=4).validate(), N_IN, N_OUT).island_of()
            == np.repeat(np.arange(4), 6)).all()


# --- restarts -----------------------------------------------------------------------------------------------
def _stalling(cfg: Config) -> tuple[Search, list, list]:
    """A search whose island 0 improves every generation and whose other islands never do; its Stats
    and its population of each generation."""
    s = Search(cfg, N_IN, N_OUT)
    s.ask()
    for i in range(cfg.popSize):
        _marked(s, i)  # every network has a hidden node, so a fresh (initial) network is recognisable
    size = cfg.popSize // cfg.islands
    out, pops = [], []
    for g in range(6):
        means = np.full(cfg.popSize, 5.0) + np.arange(cfg.popSize) % size * 0.01
        means[:size] += g  # island 0 keeps improving
        pops.append(list(s.pop))
        out.append(s.tell(_returns(means)))
        if g < 5:
            s.ask()
    return s, out, pops


def test_a_stalled_island_restarts_keeping_its_leaders():
    cfg = Config(popSize=20, islands=2, migrate_every=1000, migrate_n=2, restart_stall=3, prob_initEnable=1.0,
                 seed=2).validate()
    s, stats, pops = _stalling(cfg)
    # island 1: best set at generation 0, no better at 1, 2, 3 (stall 3): re-seeded when generation 4 is bred
    assert [st.restarted for st in stats] == [(), (), (), (), (1,), ()]
    island1 = pops[4][10:20]
    hidden = [bool((g.node_type == HIDDEN).any()) for g in island1]
    assert hidden == [True, True] + [False] * 8  # 2 kept leaders, 8 fresh initial networks
    assert all(len(g.node_id) == 1 + N_IN + N_OUT for g in island1[2:])
    # kept: its best raw mean of generation 3 first, then the ranking's next
    assert _ids(island1[:1]) == _ids(pops[3][19:20]) and _ids(island1[1:2])[0] in _ids(pops[3][10:20])
    assert all(bool((g.node_type == HIDDEN).any()) for g in pops[4][:10])  # island 0 bred as usual
    assert s.island_stall.tolist() == [0, 1]  # reset at the restart, one generation told since


def test_one_island_restart_is_the_whole_population_keeping_its_best():
    cfg = Config(popSize=16, restart_stall=2, prob_initEnable=1.0, seed=5).validate()
    s = Search(cfg, N_IN, N_OUT)
    s.ask()
    for i in range(16):
        _marked(s, i)
    means = np.arange(16.0)
    restarted = []
    for _ in range(3):
        restarted.append(s.tell(_returns(means)).restarted)
        best = _ids([s.pop[15]])[0]  # the best raw mean of the generation just told
        s.ask()
    st = s.tell(_returns(means))
    assert restarted == [(), (), ()] and st.restarted == (0,)
    assert _ids(s.pop[:1]) == [best]  # the best raw mean kept
    assert not any(bool((g.node_type == HIDDEN).any()) for g in s.pop[1:])


def test_a_fresh_restart_keeps_none_of_the_population():
    cfg = Config(popSize=16, restart_stall=2, restart_fresh=True, prob_initEnable=1.0, seed=5).validate()
    s = Search(cfg, N_IN, N_OUT)
    s.ask()
    for i in range(16):
        _marked(s, i)
    means = np.arange(16.0)
    for _ in range(3):
        s.tell(_returns(means))
        s.ask()
    st = s.tell(_returns(means))
    assert st.restarted == (0,) and len(s.pop) == 16
    assert not any(bool((g.node_type == HIDDEN).any()) for g in s.pop)  # every member a fresh initial network


def test_undo_of_an_ask_that_restarted_restores_the_stall_counters():
    cfg = Config(popSize=20, islands=2, migrate_n=2, restart_stall=3, prob_initEnable=1.0, seed=2).validate()
    s = Search(cfg, N_IN, N_OUT)
    s.ask()
    for g in range(4):
        s.tell(_returns(np.full(20, 1.0)))
        if g < 3:
            s.ask()
    stall = s.island_stall.copy()
    s.ask()
    first = (_ids(s.pop), list(s.restarted))
    s.undo_ask()
    assert (s.island_stall == stall).all() and s.restarted == []
    s.ask()
    assert (_ids(s.pop), list(s.restarted)) == first and first[1] == [0, 1]


def test_restarts_are_reported_in_the_generation_event_and_decoded_strictly():
    line = orjson.dumps({"v": 1, "type": "generation", "t": 1.0, "gen": 7, "restarts": [0, 3]})
    ev = decode(line)
    assert isinstance(ev, Generation) and ev.restarts == (0, 3)
    assert decode(orjson.dumps({"v": 1, "type": "generation", "t": 1.0, "gen": 7})).restarts == ()
    for bad in ("1", [-1], [1.5], [True], {"0": 1}):
        with pytest.raises(EventError, match="restarts"):
            decode(orjson.dumps({"v": 1, "type": "generation", "t": 1.0, "gen": 7, "restarts": bad}))


# --- exact continuation -------------------------------------------------------------------------------------
def _scored_run(cfg: Config, gens: int, roundtrip: bool) -> list:
    """A swing-up search; with ``roundtrip`` its state goes through a checkpoint's JSON every generation."""
    task = get("swingup")
    s = Search(cfg, N_IN, N_OUT)
    out = []
    while s.gen < gens:
        if roundtrip:
            s = Search.from_state(cfg, N_IN, N_OUT, orjson.loads(encode(s.to_state())))
        nets = s.ask()
        sc = task.score(nets, np.asarray(cfg.weights), s.eval_key(), cfg.alg_nReps, cfg.max_steps, 1)
        st = s.tell(sc.returns)
        out.append((st.mean.tolist(), st.restarted, s.best_mean, s.island_stall.tolist()))
    return out


def test_islands_and_restarts_continue_identically_from_every_generations_state():
    cfg = Config(popSize=24, islands=3, migrate_every=2, migrate_n=2, restart_stall=2, max_steps=60,
                 seed=8).validate()
    full = _scored_run(cfg, 14, roundtrip=False)
    assert any(r for _, r, _, _ in full), "no island restarted: the test would show nothing"
    assert _scored_run(cfg, 14, roundtrip=True) == full


def test_a_damaged_island_state_is_refused_naming_the_field():
    cfg = Config(popSize=24, islands=3, restart_stall=2, max_steps=20).validate()
    s = Search(cfg, N_IN, N_OUT)
    state = orjson.loads(encode(s.to_state()))
    for change, field in ((lambda st: st.pop("islands"), "islands: missing"),
                          (lambda st: st["islands"].update(count=2), "islands.count"),
                          (lambda st: st["islands"].update(stall=[0, 0]), "islands.stall"),
                          (lambda st: st["islands"].update(stall=[0, 0, 5]), "islands.stall"),
                          (lambda st: st["islands"].update(best=[1, "x", 2]), "islands.best"),
                          (lambda st: st["islands"].update(best=[1, "NaN", 2]), "islands.best")):
        bad = orjson.loads(orjson.dumps(state))
        change(bad)
        with pytest.raises(ValueError, match=field.replace(".", r"\.")):
            Search.from_state(cfg, N_IN, N_OUT, bad)
    default = Config(popSize=24).validate()
    with pytest.raises(ValueError, match="islands: present"):
        Search.from_state(default, N_IN, N_OUT, {**orjson.loads(encode(Search(default, N_IN, N_OUT).to_state())),
                                                 "islands": state["islands"]})


ARGS = ["--pop", "32", "--gens", "20", "--seed", "7", "--set", "max_steps=400", "--set", "checkpoint_every=1",
        "--set", "islands=4", "--set", "migrate_every=3", "--set", "migrate_n=2", "--set", "restart_stall=4",
        "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    """The uninterrupted island run, made once for this file."""
    runs = tmp_path_factory.mktemp("islands")
    engine("run", *ARGS, "--runs-dir", str(runs), "--name", "ref", check=True)
    return runs / "ref"


def test_an_island_run_stopped_and_resumed_is_the_uninterrupted_run(runs, ref):
    restarts = [(ev["gen"], ev["restarts"]) for ev in history(ref) if "restarts" in ev]
    assert restarts, "no island restarted: the test would show nothing"
    typed = [(ev.gen, list(ev.restarts)) for ev in read(ref / "events.jsonl") if isinstance(ev, Generation)]
    assert [r for r in typed if r[1]] == restarts  # what a reader of the stream sees
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *ARGS, "--runs-dir", str(runs), "--name",
                          "b"], cwd=ROOT)
    run = runs / "b"
    _wait_for_generations(run, restarts[0][0] + 2, proc=p)  # past the first restart, before the end
    control.stop(run)
    assert p.wait(60) == 0
    events = list(read_events(run / "events.jsonl"))
    assert events[-1]["type"] == "stopped" and events[-1]["gen"] < 20, "the run ended before the stop"
    engine("resume", str(run), "--quiet", check=True)
    assert history(run) == history(ref)
    assert champion(run) == champion(ref)
    assert orjson.loads((run / "checkpoint.json").read_bytes())["search"]["islands"] == \
        orjson.loads((ref / "checkpoint.json").read_bytes())["search"]["islands"]


def test_an_island_run_killed_and_resumed_is_the_uninterrupted_run(runs, ref):
    run = runs / "k"
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *ARGS, "--runs-dir", str(runs), "--name",
                          "k"], cwd=ROOT)
    kills = 0
    for n in (5, 12):
        _wait_for_generations(run, n, proc=p)
        if p.poll() is not None:
            break
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        p = subprocess.Popen([sys.executable, "-m", "wann_engine", "resume", str(run), "--quiet"], cwd=ROOT)
    assert p.wait(120) == 0 and kills >= 1
    assert history(run) == history(ref)
    assert champion(run) == champion(ref)


# --- the default is unchanged -------------------------------------------------------------------------------
#: sha256 of the search state after 12 generations, computed by the engine before islands existed (0.3.0):
#: the default search (islands=1, restart_stall=0) must stay bit for bit what it was. A deliberate change of
#: the search's or the kernel's results changes these (and is a new engine version).
DEFAULT_DIGESTS = [
    (dict(popSize=32, max_steps=100, seed=5), "2d752b26232376d8ce756adb04ae504b8e22619cfbf9dd2c3d93c74335729c8f"),
    (dict(popSize=24, max_steps=60, seed=9, select_eliteRatio=0.05, alg_probMoo=0.5),
     "c2e5e8904de0168f4ace4f827bc6d2f4510fc143d0c3846aa6d5a8f927b597a9"),
]


@pytest.mark.parametrize("options, digest", DEFAULT_DIGESTS)
def test_the_default_search_is_unchanged(options, digest):
    cfg = Config(**options).validate()
    task = get("swingup")
    s = Search(cfg, N_IN, N_OUT)
    while s.gen < 12:
        nets = s.ask()
        s.tell(task.score(nets, np.asarray(cfg.weights), s.eval_key(), cfg.alg_nReps, cfg.max_steps, 1).returns)
    state = s.to_state()
    assert "islands" not in state
    assert hashlib.sha256(encode(state)).hexdigest() == digest


# --- bad values ---------------------------------------------------------------------------------------------
BAD = [
    (["islands=0"], "islands=0: must be at least 1"),
    (["islands=5"], "popSize=32: must be a multiple of islands=5"),
    (["islands=4", "migrate_n=8"], "migrate_n=8: must be less than an island's size (popSize/islands = 8)"),
    (["islands=-3"], "islands=-3: must be at least 1"),
    (["islands=32"], "islands=32: leaves fewer than 2 individuals per island"),
    (["migrate_every=0"], "migrate_every=0: must be at least 1"),
    (["migrate_n=0"], "migrate_n=0: must be at least 1"),
    (["restart_stall=-1"], "restart_stall=-1: must be >= 0"),
    (["islands=two"], "islands='two': expected int"),
]


@pytest.mark.parametrize("sets, message", BAD[:3])
def test_bad_island_options_give_one_line_and_exit_2(runs, sets, message):
    args = ["run", "--pop", "32", "--gens", "2", "--runs-dir", str(runs), "--quiet"]
    for s in sets:
        args += ["--set", s]
    p = engine(*args)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1, p.stderr
    assert err[0].startswith("wann-engine: error:") and message in err[0], err[0]
    assert not any(runs.iterdir())  # nothing was created


@pytest.mark.parametrize("sets, message", BAD)
def test_every_bad_island_option_is_refused_where_a_run_is_resolved(sets, message):
    """The same check as above for every value, in process (``config.for_run``: the one place a run's options
    are validated, for ``wann-engine run``, the console's form and ``wann-tui --batch``)."""
    with pytest.raises(ConfigError) as e:
        for_run(pop=32, overrides=sets)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_run_saved_without_the_island_keys_reads_the_defaults(tmp_path):
    doc = Config(popSize=16).to_dict()
    for key in ("islands", "migrate_every", "migrate_n", "restart_stall"):
        del doc[key]
    (tmp_path / "config.json").write_bytes(orjson.dumps(doc))
    cfg = rundir.read_config(tmp_path)
    assert (cfg.islands, cfg.migrate_every, cfg.migrate_n, cfg.restart_stall) == (1, 20, 2, 0)
    assert cfg == Config(popSize=16).validate()

"""A run's life as a user meets it: killed while being made, hung up on, interrupted with Ctrl-C, stopped
in the middle of a long generation. Each ends as a run that resumes exactly, or as no run at all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import ROOT, TIMING, engine

from wann_engine import control, rundir, tasks
from wann_engine.config import Config
from wann_engine.evaluators import LocalEvaluator
from wann_engine.events import effective_generations, read_events
from wann_engine.runner import Session
from wann_engine.search import Search

SMALL = ["--pop", "8", "--gens", "2", "--seed", "1", "--threads", "1", "--set", "max_steps=20", "--quiet"]


def _popen(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wann_engine", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kw)


def _events(run: Path) -> list[dict]:
    return list(read_events(run / rundir.EVENTS))


def _history(run: Path) -> list[dict]:
    return [{k: v for k, v in ev.items() if k not in TIMING} for ev in effective_generations(_events(run))]


def _wait(cond, timeout: float = 60.0, step: float = 0.001) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(step)


# --- a kill while the run is being made ---------------------------------------------------------------------
def _kills_at_start(runs: Path, n: int, seed: int) -> list[str]:
    """``n`` runs SIGKILLed 0-50 ms after their folder (or its staging folder) appeared; each must be
    resumable or absent (then ``run`` with the same name makes it). Returns what each kill left."""
    rnd = random.Random(seed)
    outcomes = []
    for i in range(n):
        name = f"k{i}"
        run = runs / name
        p = _popen("run", "--runs-dir", str(runs), "--name", name, *SMALL)
        _wait(lambda: run.exists() or (runs / rundir.STAGING).exists() or p.poll() is not None)  # noqa: B023
        time.sleep(rnd.random() * 0.05)
        p.kill()
        p.wait()
        if run.exists():
            assert (run / rundir.CONFIG).is_file(), f"kill {i}: a run folder without its config"
            q = engine("resume", str(run), "--quiet")
            outcomes.append("resumed")
        else:
            q = engine("run", "--runs-dir", str(runs), "--name", name, *SMALL)
            outcomes.append("re-run")
        assert q.returncode == 0, (i, q.stderr)
        assert _events(run)[-1]["type"] == "finished" and len(_history(run)) == 2
    leftovers = list((runs / rundir.STAGING).glob("*")) if (runs / rundir.STAGING).exists() else []
    assert leftovers == [], leftovers  # every re-made run cleaned up after its killed predecessor
    return outcomes


def test_kills_while_a_run_is_made_leave_it_resumable_or_absent(runs: Path) -> None:
    _kills_at_start(runs, 4, seed=1)


@pytest.mark.slow
def test_twenty_kills_while_a_run_is_made(runs: Path) -> None:
    outcomes = _kills_at_start(runs, 20, seed=20)
    print("kills at start:", {o: outcomes.count(o) for o in set(outcomes)})


# --- signals --------------------------------------------------------------------------------------------
LONG = ["--pop", "16", "--gens", "100000", "--seed", "2", "--threads", "1", "--set", "max_steps=200"]


def _gens(run: Path) -> int:
    try:
        return (run / rundir.EVENTS).read_bytes().count(b'"type":"generation"')
    except OSError:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_checkpoints_and_the_run_resumes(runs: Path, sig: int) -> None:
    """SIGHUP (the terminal went away), Ctrl-C and SIGTERM: at once a word on stderr, then a checkpoint, a
    ``stopped`` event and exit 130; the run resumes."""
    run = runs / "s"
    p = _popen("run", "--runs-dir", str(runs), "--name", "s", *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait(lambda: _gens(run) >= 3 or p.poll() is not None)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    events = _events(run)
    assert events[-1]["type"] == "stopped"
    ck = orjson.loads((run / rundir.CHECKPOINT).read_bytes())
    assert ck["search"]["gen"] == events[-1]["gen"] == len(_history(run))
    assert events[-2]["type"] == "checkpoint" and events[-2]["gen"] == events[-1]["gen"]
    if sig == signal.SIGHUP:  # the output after the hang-up went to the run's log
        assert "stopping" in (run / rundir.LOG).read_text()
    else:
        assert "stopping…" in err.decode() and "Traceback" not in err.decode()
    assert control.summary(run).state == "stopped"
    cfg = orjson.loads((run / rundir.CONFIG).read_bytes())
    cfg["maxGen"] = events[-1]["gen"] + 2
    (run / rundir.CONFIG).write_bytes(orjson.dumps(cfg))
    q = engine("resume", str(run), "--quiet")
    assert q.returncode == 0, q.stderr
    assert _events(run)[-1]["type"] == "finished" and len(_history(run)) == cfg["maxGen"]


def test_ctrl_c_as_the_run_starts_exits_130_with_a_word(runs: Path) -> None:
    """Ctrl-C the moment the run folder appears (before its first generation): a word at once, exit 130, and
    a run that resumes. (A Ctrl-C during the interpreter's own start-up, before ``wann_engine`` runs, is
    Python's to report.)"""
    run = runs / "early"
    p = _popen("run", "--runs-dir", str(runs), "--name", "early", *SMALL, stderr=subprocess.PIPE)
    _wait(lambda: run.exists() or p.poll() is not None)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "wann-engine: stopping…" in err.decode() and "Traceback" not in err.decode()
    assert _events(run)[-1]["type"] == "stopped"
    assert engine("resume", str(run), "--quiet").returncode == 0
    assert len(_history(run)) == 2


# --- a stop during a long generation ------------------------------------------------------------------------
def _stop_latency(runs: Path, name: str, args: list[str], how: str) -> tuple[float, dict]:
    run = runs / name
    p = _popen("run", "--runs-dir", str(runs), "--name", name, *args, "--quiet", stderr=subprocess.PIPE)
    _wait(lambda: b'"type":"checkpoint"' in (run / rundir.EVENTS).read_bytes() if (run / rundir.EVENTS).exists()
          else p.poll() is not None, timeout=120, step=0.01)
    time.sleep(1.0)  # well inside generation 0
    t0 = time.monotonic()
    if how == "file":
        control.stop(run)
    else:
        p.send_signal(signal.SIGTERM)
    p.communicate(timeout=120)
    exited = time.monotonic() - t0
    events = _events(run)
    stopped = events[-1]["t"] - (time.time() - (time.monotonic() - t0))  # the stopped event, after the request
    print(f"{name}: stopped event {stopped:.2f} s, process gone {exited:.2f} s after the stop request")
    return exited, {"rc": p.returncode, "events": events, "stopped": stopped}


def test_a_stop_is_honoured_within_a_batch_of_a_long_generation(runs: Path) -> None:
    """Swing-up with 20,000 individuals: generation 0 takes ~8.5 s on one thread (measured: 2.5 s making
    the population, 5.9 s scoring); a stop through control.json, 1 s in, is honoured within a few hundred
    genomes or one batch (0.25 s) of scoring (measured: the stopped event 0.06 s after the request). The
    abandoned generation leaves no trace: the checkpoint is generation 0, so a resume redoes it."""
    latency, r = _stop_latency(runs, "big", ["--pop", "20000", "--gens", "1", "--threads", "1"], "file")
    print(f"stop latency, swing-up pop 20000: {latency:.2f} s")
    assert r["rc"] == 0
    types = [e["type"] for e in r["events"]]
    assert "generation" not in types and types[-1] == "stopped" and r["events"][-1]["gen"] == 0
    assert latency < 2.5


def test_a_stop_is_honoured_within_steps_of_a_long_gym_generation(runs: Path) -> None:
    """BipedalWalker, 32 individuals: one generation is 768 episodes of up to 1,600 steps (measured: 99 s on
    a loaded machine); SIGTERM ends it after the current batched step (measured: 0.01 s to the stopped event,
    0.3 s to exit)."""
    latency, r = _stop_latency(runs, "walk", ["--task", "biped", "--pop", "32", "--gens", "1", "--threads", "1"],
                               "signal")
    print(f"stop latency, biped pop 32: {latency:.2f} s")
    assert r["rc"] == 130
    types = [e["type"] for e in r["events"]]
    assert "generation" not in types and types[-1] == "stopped"
    assert latency < 2.5


def test_an_abandoned_generation_resumes_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped part-way through generation 2 (between batches of 16 networks), then resumed: the same
    generations and champion as a run never interrupted."""
    cfg = Config.from_dict({"popSize": 64, "maxGen": 4, "seed": 5, "threads": 1, "max_steps": 100,
                            "checkpoint_every": 1})
    with Session.create(tmp_path, "ref", cfg) as s:
        assert s.run() == 0
    monkeypatch.setattr(LocalEvaluator, "BATCH_SECONDS", 1e-9)  # batches of the smallest size
    with Session.create(tmp_path, "cut", cfg) as s:
        calls = {"n": 0}
        real = s.runner.should_stop

        def stop_in_gen_2() -> bool:
            if s.runner.search.gen == 2:
                calls["n"] += 1
            return calls["n"] >= 3 or real()

        s.evaluator.should_stop = stop_in_gen_2
        assert s.run() == 0
    events = _events(tmp_path / "cut")
    assert (events[-1]["type"], events[-1]["gen"]) == ("stopped", 2)
    assert [e["gen"] for e in effective_generations(events)] == [0, 1]
    with Session.resume(tmp_path / "cut") as s:
        assert s.run() == 0
    assert _history(tmp_path / "cut") == _history(tmp_path / "ref")
    champ = [orjson.loads((tmp_path / r / "champion.json").read_bytes())["genome"] for r in ("ref", "cut")]
    assert champ[0] == champ[1]


@pytest.mark.parametrize("task_name", ["swingup", "gym:CartPole-v1", "digits"])
def test_batches_never_change_scores(task_name: str) -> None:
    task = tasks.get(task_name)
    s = Search(Config.from_dict({"popSize": 40, "seed": 3}), task.n_inputs, task.n_outputs)
    nets = s.ask()
    w = np.array([-1.0, 0.5, 2.0])
    whole = task.score(nets, w, (3, 0), 2, 200, 1)
    ev = LocalEvaluator(task, 1, should_stop=lambda: False)
    ev._batch = 16
    ev.BATCH_SECONDS = 1e-9
    parts = ev.score(nets, w, (3, 0), 2, 200)
    assert np.array_equal(parts.returns, whole.returns) and parts.steps == whole.steps


@pytest.mark.parametrize("gen", [0, 1])
def test_an_abandoned_ask_leaves_the_search_as_it_was(gen: int) -> None:
    """A stop while a huge population is being made or bred: the search is exactly as before the ask."""
    cfg = Config.from_dict({"popSize": 600, "seed": 4})
    a, b = Search(cfg, 5, 1), Search(cfg, 5, 1)
    for s in (a, b):
        for _ in range(gen):  # a told generation: the next ask breeds
            s.ask()
            s.tell(np.zeros((600, len(cfg.weights), 1)) + np.arange(600)[:, None, None])
    with pytest.raises(tasks.Interrupted):
        a.ask(should_stop=lambda: True)
    assert a.to_state() == b.to_state()
    assert [n.node_ids.tolist() for n in a.ask()] == [n.node_ids.tolist() for n in b.ask()]
    assert a.to_state() == b.to_state()

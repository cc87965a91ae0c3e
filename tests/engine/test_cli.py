"""The command line as a user meets it: results, and one clear line for every bad input."""

from __future__ import annotations

import orjson
import pytest
from conftest import engine


def test_eval_prints_a_per_weight_table_and_json(swing_out):
    p = engine("eval", str(swing_out), "--episodes", "10", "--threads", "1", check=True)
    lines = p.stdout.splitlines()
    assert "52 connections" in lines[0]
    assert any(line.split()[0] == "1.000" and "best" in line for line in lines)
    j = orjson.loads(engine("eval", str(swing_out), "--episodes", "10", "--json", check=True).stdout)
    assert j["weights"] == [-2, -1, -0.5, 0.5, 1, 2] and len(j["mean"]) == 6
    assert 600 < max(j["mean"]) < 800


def test_run_writes_a_complete_run_directory(runs):
    engine("run", "--pop", "16", "--gens", "3", "--runs-dir", str(runs), "--name", "r", "--quiet",
           "--set", "max_steps=50", check=True)
    run = runs / "r"
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "events.jsonl", "checkpoint.json", "champion.json", "champion.out", "engine.lock"} <= names
    events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "run_start" and types[-1] == "finished" and types.count("generation") == 3
    gen = next(e for e in events if e["type"] == "generation")
    assert {"fit_median", "best_mean", "best_peak", "objectives", "front", "best_per_weight",
            "champion", "env_steps_per_s", "evals_per_s"} <= set(gen)
    assert all(e["v"] == 1 and isinstance(e["t"], float) for e in events)
    cfg = orjson.loads((run / "config.json").read_bytes())
    assert cfg["popSize"] == 16 and cfg["max_steps"] == 50
    st = engine("status", str(runs), check=True).stdout
    assert "finished" in st and "3/3" in st


@pytest.mark.parametrize("args, message", [
    (["run", "--task", "nosuch"], "unknown task 'nosuch'"),
    (["run", "--set", "prob_addNode=-1"], "prob_addNode=-1.0: must be a finite number >= 0"),
    (["run", "--set", "popSize=many"], "popSize='many': expected int"),
    (["run", "--set", "nokey=1"], "unknown key 'nokey'"),
    (["run", "--pop", "1"], "popSize=1: must be at least 2"),
    (["run", "--name", "../x"], "run name '../x'"),
    (["run", "--pop"], "--pop"),
    (["eval", "/nonexistent.out"], "/nonexistent.out"),
    (["eval", "x", "--weights", "a,b"], "--weights 'a,b'"),
    (["resume", "/nonexistent"], "no such run directory"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(runs, args, message):
    if args[0] == "run":
        args = args + ["--runs-dir", str(runs)]
    p = engine(*args)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert err[0].startswith("wann-engine: error:") and message in err[0], err[0]
    assert "Traceback" not in p.stderr
    assert not any(runs.iterdir())  # nothing was created


def test_existing_foreign_or_damaged_directories_are_left_alone(runs):
    engine("run", "--pop", "8", "--gens", "1", "--runs-dir", str(runs), "--name", "r", "--quiet",
           "--set", "max_steps=20", check=True)
    before = {p.name: p.read_bytes() for p in (runs / "r").iterdir()}
    p = engine("run", "--pop", "8", "--runs-dir", str(runs), "--name", "r")
    assert p.returncode == 2 and "already exists" in p.stderr
    foreign = runs / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    p = engine("resume", str(foreign))
    assert p.returncode == 2 and "not a run directory" in p.stderr
    assert [x.name for x in foreign.iterdir()] == ["notes.txt"]
    (runs / "r" / "checkpoint.json").write_bytes(b'{"format": "wann-checkpoint", "version": 1, "search": {}')
    p = engine("resume", str(runs / "r"))
    assert p.returncode == 2 and "damaged checkpoint" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    after = {p.name: p.read_bytes() for p in (runs / "r").iterdir()}
    before["checkpoint.json"] = after["checkpoint.json"]
    before["engine.lock"] = after["engine.lock"]  # the lock names its last holder; it holds no data
    assert after == before


def test_two_engines_never_share_a_run(runs):
    import subprocess
    import sys
    import time

    from conftest import ROOT

    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--pop", "16", "--gens", "100000",
                          "--runs-dir", str(runs), "--name", "busy", "--quiet"], cwd=ROOT)
    try:
        while not (runs / "busy" / "events.jsonl").exists() or b"generation" not in (
                runs / "busy" / "events.jsonl").read_bytes():
            time.sleep(0.05)
        q = engine("resume", str(runs / "busy"))
        assert q.returncode == 2 and "in use by another engine" in q.stderr
    finally:
        p.kill()
        p.wait()

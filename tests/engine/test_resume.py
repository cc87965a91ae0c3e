"""Runs on disk: a stopped or killed run, resumed, is the same run as one never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from conftest import ROOT, TIMING, engine

from wann_engine import control
from wann_engine.events import effective_generations, read_events

ARGS = ["--pop", "32", "--gens", "14", "--seed", "7", "--set", "max_steps=400", "--set", "checkpoint_every=1",
        "--threads", "1", "--quiet"]


def history(run: Path) -> list[dict]:
    gens = effective_generations(read_events(run / "events.jsonl"))
    return [{k: v for k, v in ev.items() if k not in TIMING} for ev in gens]


def champion(run: Path) -> dict:
    doc = orjson.loads((run / "champion.json").read_bytes())
    return doc["genome"]


def reference(runs: Path) -> Path:
    engine("run", *ARGS, "--runs-dir", str(runs), "--name", "ref", check=True)
    return runs / "ref"


def test_graceful_stop_then_resume_is_identical(runs):
    ref = reference(runs)
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *ARGS, "--runs-dir", str(runs), "--name", "b"],
                         cwd=ROOT)
    run = runs / "b"
    _wait_for_generations(run, 4)
    control.stop(run)
    assert p.wait(60) == 0
    events = list(read_events(run / "events.jsonl"))
    assert events[-1]["type"] == "stopped"
    assert control.summary(run).state == "stopped"
    engine("resume", str(run), "--quiet", check=True)
    assert history(run) == history(ref)
    assert champion(run) == champion(ref)
    assert control.summary(run).state == "finished"


def test_sigkill_at_random_moments_then_resume_is_identical(runs):
    ref = reference(runs)
    rnd = random.Random()
    seed = rnd.randrange(10**6)
    rnd.seed(seed)
    run = runs / "k"
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *ARGS, "--runs-dir", str(runs), "--name", "k"],
                         cwd=ROOT)
    kills = 0
    for _ in range(3):
        _wait_for_generations(run, rnd.randrange(1, 12), proc=p)
        time.sleep(rnd.random() * 0.05)
        if p.poll() is not None:
            break
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        state = control.summary(run).state
        if state == "finished":  # the last generation and `finished` were written before the kill landed
            p = None
            break
        assert state == "crashed", f"random seed {seed}"
        p = subprocess.Popen([sys.executable, "-m", "wann_engine", "resume", str(run), "--quiet"], cwd=ROOT)
    assert p is None or p.wait(120) == 0, f"random seed {seed}"
    assert kills >= 1
    assert history(run) == history(ref), f"random seed {seed}"
    assert champion(run) == champion(ref), f"random seed {seed}"


def test_kill_before_first_checkpoint_resumes_from_scratch(runs):
    ref = reference(runs)
    run = runs / "early"
    run.mkdir()
    (run / "config.json").write_bytes((ref / "config.json").read_bytes())
    engine("resume", str(run), "--quiet", check=True)
    assert history(run) == history(ref)


def test_truncated_event_line_is_repaired_on_resume(runs):
    ref = reference(runs)
    run = runs / "cut"
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *ARGS, "--runs-dir", str(runs), "--name", "cut"],
                         cwd=ROOT)
    _wait_for_generations(run, 5, proc=p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    with open(run / "events.jsonl", "ab") as f:
        f.write(b'{"v":1,"type":"generation","gen":99,"fit')  # a write cut short by the kill
    engine("resume", str(run), "--quiet", check=True)
    assert history(run) == history(ref)


def _wait_for_generations(run: Path, n: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        f = run / "events.jsonl"
        if f.exists() and f.read_bytes().count(b'"type":"generation"') >= n:
            return
        if proc is not None and proc.poll() is not None:
            return
        time.sleep(0.005)
    raise AssertionError(f"{run}: fewer than {n} generations after {timeout} s")


def test_kill_before_first_timed_checkpoint_then_resume_is_identical(runs):
    """Default time-based checkpointing: killed a few generations in, only the start checkpoint exists."""
    args = ARGS[:6] + ["--set", "max_steps=400", "--set", "checkpoint_seconds=3600"] + ARGS[10:]
    engine("run", *args, "--runs-dir", str(runs), "--name", "ref", check=True)
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *args, "--runs-dir", str(runs), "--name", "t"],
                         cwd=ROOT)
    run = runs / "t"
    _wait_for_generations(run, 3, proc=p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    engine("resume", str(run), "--quiet", check=True)
    assert history(run) == history(runs / "ref")
    assert champion(run) == champion(runs / "ref")

"""Helpers for the console's tests: a recorded run made once per session by the real engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
_lock = threading.Lock()
_recorded: dict[str, Path] = {}


def engine_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def recorded_run(base: Path) -> Path:
    """``<base>/runs/rec``: a finished 8-generation swing-up run (config.json, events.jsonl, champion...).

    Made once per test session (about 3 s with a warm numba cache); callers that modify a
    run must copy it first (:func:`copy_run`).
    """
    with _lock:
        if "rec" not in _recorded:
            runs = base / "runs"
            runs.mkdir(parents=True, exist_ok=True)
            p = subprocess.run([sys.executable, "-m", "wann_engine", "run", "--gens", "8", "--pop", "32",
                                "--runs-dir", str(runs), "--name", "rec", "--quiet"],
                               capture_output=True, text=True, timeout=180, env=engine_env(), cwd=ROOT)
            if p.returncode != 0:
                raise RuntimeError(f"recording a run failed:\n{p.stdout}\n{p.stderr}")
            _recorded["rec"] = runs / "rec"
        return _recorded["rec"]


def copy_run(src: Path, runs_dir: Path, name: str | None = None) -> Path:
    """A copy of a run directory in ``runs_dir`` (without the engine's lock file)."""
    dst = Path(runs_dir) / (name or src.name)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("engine.lock"))
    return dst


def events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines() if line.strip()]


def last_generation(run: Path) -> dict:
    return [e for e in events(run) if e["type"] == "generation"][-1]


def make_app(runs: Path, **kw):
    """The console on ``runs`` with fast polling, for Pilot tests (Textual is imported only here)."""
    from wanntui.app import WannTui

    return WannTui(runs, tick=0.05, poll=0.02, state_every=0.2, **kw)


async def until(pilot, cond, timeout: float = 8.0) -> None:
    """Let the app run until ``cond()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)

"""Asking a run's engine to act, from any process: the one module the console uses for that.

Requests go through ``control.json`` in the run directory: it holds the wanted
state (``run``, ``pause`` or ``stop``), which the engine reads at every
generation boundary (and several times a second while paused). Signals work too:
SIGTERM/SIGINT stop gracefully, SIGUSR1 pauses, SIGUSR2 continues.

``launch``/``resume`` start an engine detached from the caller (new session,
stdin from /dev/null, output to ``engine.log``), so closing the console or losing
the SSH link leaves the run going.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from . import rundir
from .atomic import write_bytes
from .events import encode, parse_line

Want = Literal["run", "pause", "stop"]
State = Literal["starting", "running", "paused", "stopped", "finished", "crashed"]


# --- requests -------------------------------------------------------------------------------
def request(run: Path, want: Want) -> None:
    """Ask the engine of ``run`` to run, pause or stop at its next generation boundary."""
    if want not in ("run", "pause", "stop"):
        raise ValueError(f"unknown request {want!r}")
    write_bytes(Path(run) / rundir.CONTROL, encode({"want": want, "t": time.time()}))


def pause(run: Path) -> None:
    request(run, "pause")


def resume_paused(run: Path) -> None:
    request(run, "run")


def stop(run: Path) -> None:
    request(run, "stop")


def wanted(run: Path) -> Want:
    """The engine's side: the state asked for (``run`` if nothing readable was asked)."""
    try:
        want = orjson.loads((Path(run) / rundir.CONTROL).read_bytes()).get("want")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return "run"
    return want if want in ("run", "pause", "stop") else "run"


def kill(run: Path) -> bool:
    """SIGKILL the engine of ``run`` (the checkpoint stays; the run can be resumed). False if none runs."""
    info = rundir.lock_info(run)
    if not info or not rundir.engine_alive(run):
        return False
    try:
        os.killpg(int(info["pid"]), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(int(info["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            return False
    return True


# --- starting engines -----------------------------------------------------------------------
def engine_command() -> list[str]:
    return [sys.executable, "-m", "wann_engine"]


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    """Start a detached engine. A daemon thread waits for it, so an engine that ends while
    the caller lives leaves no zombie (a zombie would also look alive to ``kill``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            engine_command() + args, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def launch(runs_dir: Path, name: str, task: str = "swingup", pop: int | None = None, gens: int | None = None,
           seed: int = 0, workers: int = 1, overrides: list[str] | None = None) -> Path:
    """Start a new run in the background; returns its directory (created by the engine)."""
    run = Path(runs_dir) / rundir.check_name(name)
    if run.exists():
        raise rundir.RunDirError(f"{run} already exists")
    args = ["run", "--task", task, "--name", name, "--runs-dir", str(runs_dir), "--seed", str(seed),
            "--workers", str(workers), "--quiet"]
    if pop is not None:
        args += ["--pop", str(pop)]
    if gens is not None:
        args += ["--gens", str(gens)]
    for o in overrides or []:
        args += ["--set", o]
    # the log lives beside the run folder until the engine has made the folder
    _spawn(args, launch_log(runs_dir, name))
    return run


def resume(run: Path) -> subprocess.Popen:
    """Continue a stopped or crashed run in the background."""
    run = Path(run)
    rundir.read_config(run)
    if rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run} is already running")
    return _spawn(["resume", str(run), "--quiet"], run / rundir.LOG)


def launch_log(runs_dir: Path, name: str) -> Path:
    """Where ``launch`` sends the engine's output until the engine has made the run directory."""
    return Path(runs_dir) / f".{name}.launch.log"


def delete(run: Path) -> None:
    """Remove a run directory (and its launch log); refuses anything but a stopped run directory."""
    run = Path(run)
    rundir.read_config(run)  # only ever delete real run directories
    if rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run.name} is running: stop or kill it first")
    shutil.rmtree(run)
    launch_log(run.parent, run.name).unlink(missing_ok=True)


# --- reading a run's state ------------------------------------------------------------------
@dataclass
class RunSummary:
    path: Path
    name: str
    task: str
    state: State
    gen: int  # generations done
    total: int
    best: float | None
    evals_per_s: float | None
    updated: float  # mtime of the event stream


def last_events(run: Path, want: set[str], max_bytes: int = 4 << 20) -> dict[str, dict]:
    """The last event of each type in ``want``, reading the file backwards in blocks."""
    path = Path(run) / rundir.EVENTS
    found: dict[str, dict] = {}
    try:
        f = open(path, "rb")
    except OSError:
        return found
    with f:
        size = f.seek(0, 2)
        pos, tail, read = size, b"", 0
        while pos > 0 and read < max_bytes and len(found) < len(want) and not _enough(found):
            step = min(pos, 256 << 10)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + tail
            read += step
            lines = buf.split(b"\n")
            tail = lines[0] if pos > 0 else b""
            for line in reversed(lines[1:] if pos > 0 else lines):
                if not line.strip():
                    continue
                ev = parse_line(line)
                if ev and ev["type"] in want and ev["type"] not in found:
                    found[ev["type"]] = ev
    return found


_TERMINAL = ("finished", "stopped", "error")


def _enough(found: dict[str, dict]) -> bool:
    """Events before the latest ``run_start`` say nothing about the current state: stop there
    (once a generation has been seen), instead of scanning a long file for events that never came."""
    return "run_start" in found and "generation" in found


def summary(run: Path) -> RunSummary:
    run = Path(run)
    cfg = rundir.read_config(run)
    last = last_events(run, {"generation", "run_start", "paused", "resumed", *_TERMINAL})
    alive = rundir.engine_alive(run)
    start_t = last.get("run_start", {}).get("t", 0.0)
    later = lambda k: last.get(k, {}).get("t", -1.0) >= start_t  # noqa: E731
    if alive:
        paused = later("paused") and last["paused"]["t"] >= last.get("resumed", {}).get("t", -1.0)
        started = "generation" in last or "run_start" in last
        state: State = "paused" if paused else ("running" if started else "starting")
    elif later("finished"):
        state = "finished"
    elif later("stopped"):
        state = "stopped"
    else:
        state = "crashed"
    gen = last.get("generation", {})
    try:
        updated = (run / rundir.EVENTS).stat().st_mtime
    except OSError:
        updated = 0.0
    return RunSummary(
        path=run, name=run.name, task=cfg.task, state=state,
        gen=int(gen.get("gen", -1)) + 1, total=cfg.maxGen,
        best=gen.get("best_mean") if isinstance(gen.get("best_mean"), (int, float)) else None,
        evals_per_s=gen.get("evals_per_s"), updated=updated,
    )


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Summaries of every run directory under ``runs_dir`` (others are skipped), newest first."""
    out = []
    root = Path(runs_dir)
    if not root.is_dir():
        return out
    for d in root.iterdir():
        if d.is_dir() and (d / rundir.CONFIG).is_file():
            try:
                out.append(summary(d))
            except rundir.RunDirError:
                continue
    return sorted(out, key=lambda s: s.updated, reverse=True)

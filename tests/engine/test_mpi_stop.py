"""A stop asked for in the middle of a generation under MPI (``--workers N``) is honoured within a chunk (and,
on gym tasks, within a batched step on the workers), not at the generation's end; the abandoned generation
leaves no trace, so a resume gives exactly the generations of an uninterrupted run.

Measured (2 cores, shared): biped, pop 32, 2 workers, SIGINT 6 s into generation 0 (a ~100 s generation): the
``stopped`` event 0.14 s later (rank 0 saw the stop after 16 ms, the workers' chunks were drained in 0.11 s), the
job gone after 3.0 s, exit 130; before, the stop waited for the generation's end: 101.8 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import ROOT, engine

from wann_engine import control, rundir

pytest.importorskip("mpi4py")
if not (Path(sys.executable).parent / "mpiexec").exists():
    pytest.skip("no mpiexec beside the interpreter", allow_module_level=True)

# generation 0 takes ~4 s under 2 workers (making 5,000 genomes, then ~2.5 s of scoring in chunks)
SWING = ("--pop", "5000", "--gens", "2", "--seed", "7", "--threads", "1", "--quiet", "--set", "checkpoint_every=1")
STATS = ("fit_mean", "fit_median", "fit_max", "best_mean", "best_per_weight", "conns_median", "env_steps", "objectives")


def _events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / rundir.EVENTS).read_bytes().splitlines()]


def _generations(run: Path) -> dict[int, tuple]:
    return {e["gen"]: tuple(e.get(k) for k in STATS) for e in _events(run) if e["type"] == "generation"}


def _wait_for(cond, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)


def _scoring(run: Path, p: subprocess.Popen) -> bool:
    """Rank 0 has set its workers up: it writes their pid files at the first scoring of the session."""
    assert p.poll() is None, "the run ended early"
    return (run / "workers" / "rank-2.pid").exists()


def _start(runs: Path, name: str, args: tuple[str, ...]) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--runs-dir", str(runs), "--name", name,
                          *args, "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return p


def _stop_and_time(run: Path, p: subprocess.Popen, how: str) -> tuple[float, float, str]:
    """(seconds to the stopped event, seconds to the job's end, stderr) after a stop request."""
    t_wall, t0 = time.time(), time.monotonic()
    if how == "control":
        control.stop(run)
    else:
        p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            for _ in range(3):
                p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
    gone = time.monotonic() - t0
    last = _events(run)[-1]
    return last["t"] - t_wall, gone, err.decode(errors="replace")


def test_a_stop_during_an_mpi_generation_is_honoured_at_once_and_resumes_exactly(runs: Path) -> None:
    run = runs / "cut"
    p = _start(runs, "cut", SWING)
    _wait_for(lambda: _scoring(run, p))
    time.sleep(0.3)  # inside generation 0's scoring
    to_event, gone, err = _stop_and_time(run, p, "control")
    print(f"swing-up pop 5000, 2 workers, control stop: stopped event {to_event:.2f} s, exit {gone:.2f} s")
    assert p.returncode == 0, err
    events = _events(run)
    types = [e["type"] for e in events]
    assert "generation" not in types and "error" not in types, types  # abandoned mid-generation, not crashed
    assert events[-1] == {**events[-1], "type": "stopped", "gen": 0}
    assert to_event < 3.0  # (most of it is the checkpoint of 5,000 genomes: ~1 s)
    assert "Traceback" not in err
    r = engine("resume", str(run), "--quiet", timeout=300)
    assert r.returncode == 0, r.stderr
    engine("run", "--runs-dir", str(runs), "--name", "ref", *SWING, check=True, timeout=300)  # (one process)
    assert _generations(run) == _generations(runs / "ref") and sorted(_generations(run)) == [0, 1]
    champ = orjson.loads((run / rundir.CHAMPION_JSON).read_bytes())
    ref = orjson.loads((runs / "ref" / rundir.CHAMPION_JSON).read_bytes())
    assert {**champ, "run": None} == {**ref, "run": None}  # (the same network and scores; each names its run)


@pytest.mark.slow
def test_ctrl_c_in_a_long_biped_generation_under_mpi_stops_within_a_step() -> None:
    """The case of a user: BipedalWalker (a generation of ~100 s), Ctrl-C a few seconds in (after the workers
    have made their environments): a word at once, the stopped event within a second, exit 130, no error."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        runs = Path(d)
        run = runs / "walk"
        p = _start(runs, "walk", ("--task", "biped", "--pop", "32", "--gens", "1", "--seed", "4", "--threads", "1",
                                  "--quiet"))
        _wait_for(lambda: _scoring(run, p))
        time.sleep(5.0)
        to_event, gone, err = _stop_and_time(run, p, "signal")
        print(f"biped pop 32, 2 workers, SIGINT: stopped event {to_event:.2f} s, exit {gone:.2f} s")
        assert p.returncode == 130, err
        assert "wann-engine: stopping… (SIGINT)" in err and "Traceback" not in err and "\ufffd" not in err, err
        types = [e["type"] for e in _events(run)]
        assert "generation" not in types and "error" not in types and types[-1] == "stopped", types
        assert to_event < 1.5 and gone < 15

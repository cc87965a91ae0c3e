"""Runs as MPI jobs (``--workers N``): the same results as one process, stop/resume, and failing workers.

Small real swing-up runs (pop 32, 8 generations); 4 workers on 2 cores is oversubscribed on purpose.
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

RUN = ("--pop", "32", "--gens", "8", "--seed", "3", "--quiet", "--set", "checkpoint_every=1")


def _events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / rundir.EVENTS).read_bytes().splitlines()]


def _generations(run: Path) -> dict[int, tuple]:
    """Statistics per generation; a generation redone after a crash counts once (its last record)."""
    return {e["gen"]: (e["fit_mean"], e["fit_median"], e["best_mean"], e["objectives"])
            for e in _events(run) if e["type"] == "generation"}


_spawned: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftovers():
    """A failed test leaves no MPI job behind: three stop signals make the launcher kill its job."""
    yield
    while _spawned:
        p = _spawned.pop()
        for _ in range(3):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                time.sleep(0.2)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _spawn(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own copy
        p = subprocess.Popen([sys.executable, "-m", "wann_engine", *args], stdout=out, stderr=subprocess.STDOUT,
                             cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    _spawned.append(p)
    return p


def _start(runs: Path, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return _spawn(["run", "--runs-dir", str(runs), "--name", name, *RUN, *args], runs / f"{name}.log", env)


def _wait_for(cond, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)


def _has_gen(run: Path, gen: int) -> bool:
    try:
        lines = (run / rundir.EVENTS).read_bytes().split(b"\n")[:-1]  # complete lines only
    except OSError:
        return False
    return any(e["type"] == "generation" and e["gen"] >= gen for e in map(orjson.loads, lines))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[int, tuple]:
    runs = tmp_path_factory.mktemp("ref")
    engine("run", "--runs-dir", str(runs), "--name", "one", *RUN, "--workers", "1", check=True)
    gens = _generations(runs / "one")
    assert sorted(gens) == list(range(8))
    return gens


def test_four_oversubscribed_workers_give_the_same_generations(runs, reference):
    t0 = time.monotonic()
    engine("run", "--runs-dir", str(runs), "--name", "four", *RUN, "--workers", "4", check=True)
    assert time.monotonic() - t0 < 60
    run = runs / "four"
    assert _generations(run) == reference
    assert _events(run)[-1]["type"] == "finished"
    pids = sorted(p.name for p in (run / "workers").iterdir())
    assert pids == [f"rank-{r}.pid" for r in range(5)]
    assert orjson.loads((run / rundir.CONFIG).read_bytes())["workers"] == 4


def test_stop_then_resume_under_mpi_equals_an_uninterrupted_run(runs, reference):
    run = runs / "two"
    p = _start(runs, "two", "--workers", "2")
    _wait_for(lambda: _has_gen(run, 2))
    control.stop(run)
    assert p.wait(timeout=30) == 0
    last = _events(run)[-1]
    assert last["type"] == "stopped" and last["gen"] < 8
    r = engine("resume", str(run), "--quiet", check=True)
    assert r.returncode == 0
    events = _events(run)
    assert events[-1]["type"] == "finished"
    assert [e["resumed_from"] for e in events if e["type"] == "run_start"] == [None, last["gen"]]
    assert _generations(run) == reference


def _checkpointed(run: Path, gen: int) -> bool:
    try:
        lines = (run / rundir.EVENTS).read_bytes().split(b"\n")[:-1]
    except OSError:
        return False
    return any(e["type"] == "checkpoint" and e["gen"] >= gen for e in map(orjson.loads, lines))


def test_failing_workers_end_the_run_with_an_error_and_it_resumes(runs, reference):
    run = runs / "fail"
    # an exception in a worker's scoring (its 15th chunk: a generation has at most 13) is the run's error
    p = _start(runs, "fail", "--workers", "2", env={"WANN_ENGINE_FAULT": "1:14"})
    assert p.wait(timeout=60) == 1
    last = _events(run)[-1]
    assert last["type"] == "error" and last["gen"] >= 1, last
    assert "worker rank 1" in last["message"] and "RuntimeError: injected fault" in last["message"], last
    log = (runs / "fail.log").read_text()
    assert "BAD TERMINATION" not in log and log.count("wann-engine: error:") == 1, log
    # resumed, then a worker killed: mpiexec tears the job down, the launcher writes the error
    resumed = last["gen"]
    p = _spawn(["resume", str(run), "--quiet"], runs / "kill.log")
    _wait_for(lambda: _checkpointed(run, resumed + 1))
    pid = int((run / "workers" / "rank-2.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    rc = p.wait(timeout=20)
    assert time.monotonic() - t0 < 10
    assert rc == 1
    last = _events(run)[-1]
    assert last["type"] == "error" and f"worker rank 2 (pid {pid}) died" in last["message"], last
    assert "Killed (signal 9)" in last["message"]
    assert "wann-engine: error: run failed" in (runs / "kill.log").read_text()
    assert not rundir.engine_alive(run)
    rundir.load_checkpoint(run)  # intact
    # and the run still ends as if nothing had happened
    r = engine("resume", str(run), "--quiet", check=True)
    assert r.returncode == 0 and _events(run)[-1]["type"] == "finished"
    assert [e["resumed_from"] is None for e in _events(run) if e["type"] == "run_start"] == [True, False, False]
    assert _generations(run) == reference


def test_networks_travel_as_compact_arrays_and_arrive_identical():
    import numpy as np

    from wann_engine.config import Config
    from wann_engine.mpi_eval import decode_chunk, encode_chunk
    from wann_engine.search import Search

    s = Search(Config(popSize=16, seed=1), 5, 1)
    for _ in range(3):
        nets = s.ask()
        s.tell(np.random.default_rng(len(nets)).random((16, 6, 3)))
    nets = s.ask()
    weights = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    buf = encode_chunk((5 << 32) + 2, nets, weights, (3, 17), 3, 250)
    assert buf.dtype == np.int64 and buf.nbytes < 100 * sum(n.n_nodes + n.n_conns for n in nets)
    cid, got, w, key, reps, max_steps = decode_chunk(buf)
    assert (cid, key, reps, max_steps) == ((5 << 32) + 2, (3, 17), 3, 250) and w.tolist() == weights.tolist()
    for a, b in zip(nets, got, strict=True):
        assert (a.n_in, a.n_out, a.keep_disabled_hidden) == (b.n_in, b.n_out, b.keep_disabled_hidden)
        for f in ("node_ids", "act", "src_ptr", "src_idx", "depth", "layer"):
            x, y = getattr(a, f), getattr(b, f)
            assert x.dtype == y.dtype and np.array_equal(x, y), f

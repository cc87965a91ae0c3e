"""The MPI launcher's channel: only the job's own ranks can use it, and no message makes it signal anything else.

The fast tests drive the launcher's watcher directly (a stand-in "mpiexec" process and its child as the rank);
the last one attacks a real ``--workers 2`` run.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from wann_engine import mpi_launch

# the stand-in rank: announces itself as rank 1 through the launcher's own code, then waits to be killed
RANK = """
import os, sys, time
from wann_engine import mpi_launch
mpi_launch._announce(1)
print("ready", flush=True)
time.sleep(60)
"""
# the stand-in mpiexec: starts the rank and waits for it
ROOT = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])"


def _wait_for(cond, timeout: float = 20.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)


def _send(path: str, *chunks: bytes) -> bytes:
    """Connect as a foreign process would, send ``chunks``, return what came back before the close."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(path)
        for c in chunks:
            try:
                s.sendall(c)
            except OSError:  # the launcher closed a misbehaving connection
                break
        s.shutdown(socket.SHUT_WR)
        try:
            return s.recv(100)
        except OSError:
            return b""
    finally:
        s.close()


def _hostile(path: str, token: str, victim: int) -> list[tuple[bytes, ...]]:
    """Every message a local attacker could try: the old protocol, malformed, wrong and stolen tokens."""
    me = os.getpid()
    return [
        (f"hello 9 {victim}\n".encode(),),  # the old protocol: rank 9 is the victim
        (b"hello x y\n",),  # killed the old watcher thread
        (b"hello\n", b"bye\n"),
        (f"hello {'0' * 32} 1 {victim}\n".encode(),),  # a guessed token
        (f"hello {token} 1 {victim}\n".encode(),),  # a stolen token naming another process
        (f"hello {token} 1 {me}\n".encode(), b"bye\n"),  # a stolen token, itself: not a process of the job
        (f"hello {token} 99999 {me}\n".encode(),),
        (f"hello {token} -1 {victim}\n".encode(),),
        (f"hello {token} 1 {victim}0000000000000\n".encode(),),
        (os.urandom(3000),),
        (b"\x00\xff" * 10000 + b"\n",),
        (b"A" * 100_000,),  # no newline at all
        (b"bye\n",),
        (),  # connect and close at once
    ]


@pytest.fixture
def victim():
    p = subprocess.Popen(["sleep", "120"])
    yield p
    p.kill()
    p.wait()


def test_foreign_messages_are_ignored_and_a_rank_death_is_still_reported(victim):
    log = io.StringIO()
    w = mpi_launch._Watcher(3, log=log)
    job = None
    try:
        assert stat.S_IMODE(os.stat(w.dir).st_mode) == 0o700
        assert Path(w.path).parent == Path(w.dir)
        job = subprocess.Popen([sys.executable, "-c", ROOT, RANK], env={**os.environ, **w.environment()},
                               stdout=subprocess.PIPE, start_new_session=True)
        w.start(job.pid)
        for chunks in _hostile(w.path, w.token, victim.pid):
            _send(w.path, *chunks)
        # many at once, interleaved
        socks = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(20)]
        for s in socks:
            s.connect(w.path)
            s.sendall(f"hello {w.token} 2 {victim.pid}\nhel".encode())
        for s in socks:
            s.close()
        time.sleep(0.3)
        assert w.alive()
        assert 0 not in w.pids and 2 not in w.pids and victim.pid not in w.pids.values()
        assert w.deaths == []  # refused connections are not ranks: their closing is no death
        assert w.ignored >= len(_hostile(w.path, w.token, victim.pid)) - 1
        assert 1 <= len(log.getvalue().splitlines()) <= 5  # logged, briefly
        assert all(line.startswith("wann-engine: ignored a message") for line in log.getvalue().splitlines())
        # the job's own rank is accepted ...
        assert job.stdout.readline() == b"ready\n"
        _wait_for(lambda: 1 in w.pids)
        rank_pid = w.pids[1]
        assert rank_pid != victim.pid and mpi_launch.descends_from(rank_pid, job.pid)
        # ... a second hello for its rank (from anyone) is not
        _send(w.path, f"hello {w.token} 1 {os.getpid()}\n".encode())
        assert w.pids == {1: rank_pid}
        # the kill that three stop signals trigger reaches the job only
        launcher = mpi_launch.Job.__new__(mpi_launch.Job)
        launcher.watcher, launcher.proc = w, job
        assert w.job_pids() == [rank_pid]
        launcher._kill()
        _wait_for(lambda: job.poll() is not None)
        _wait_for(lambda: w.first_dead() == [1])
        assert victim.poll() is None  # alive
    finally:
        if job is not None and job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        w.close()
    assert not os.path.exists(w.dir)


def test_a_reused_pid_is_never_signalled(victim):
    w = mpi_launch._Watcher(2, log=io.StringIO())
    try:
        w.start(os.getpid())
        # as if the victim's pid had once been a verified rank that started at another moment
        w.pids[1], w._born[victim.pid] = victim.pid, -1
        assert w.job_pids() == []
        launcher = mpi_launch.Job.__new__(mpi_launch.Job)
        launcher.watcher, launcher.proc = w, victim  # killpg(victim) fails: not a group leader
        launcher._kill()
        assert victim.poll() is None
    finally:
        w.close()


# --- a real job -------------------------------------------------------------------------------------------------
def _mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return (Path(sys.executable).parent / "mpiexec").exists()


def _has_generation(run: Path) -> bool:
    try:
        return b'"type":"generation"' in (run / "events.jsonl").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(not _mpi(), reason="needs mpi4py and mpiexec beside the interpreter")
def test_a_real_job_ignores_a_foreign_process_and_still_names_the_dead_rank(tmp_path: Path, victim):
    from conftest import ROOT as REPO

    runs = tmp_path / "runs"
    run = runs / "attacked"
    log = tmp_path / "attacked.log"
    with open(log, "wb") as out:
        p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--runs-dir", str(runs), "--name",
                              "attacked", "--pop", "32", "--gens", "400", "--seed", "3", "--quiet", "--workers", "2",
                              "--set", "checkpoint_every=1"], stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for(lambda: _has_generation(run) and (run / "workers" / "rank-2.pid").exists(), timeout=90)
        rank2 = int((run / "workers" / "rank-2.pid").read_text().split()[0])
        env = dict(x.split("=", 1) for x in Path(f"/proc/{rank2}/environ").read_text().split("\0") if "=" in x)
        path, token = env[mpi_launch.ENV_WATCH], env[mpi_launch.ENV_TOKEN]
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert "@wann-engine" not in Path("/proc/net/unix").read_text()  # no abstract socket any more
        # a foreign process (not of the job) tries everything, knowing the path and even the token
        attack = f"""
import socket, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_mpi_channel import _hostile, _send
for chunks in _hostile({path!r}, {token!r}, {victim.pid}):
    _send({path!r}, *chunks)
"""
        subprocess.run([sys.executable, "-c", attack], check=True, timeout=60, cwd=REPO)
        time.sleep(0.3)
        assert p.poll() is None  # the job goes on
        os.kill(rank2, signal.SIGKILL)
        assert p.wait(timeout=30) == 1
        last = orjson.loads((run / "events.jsonl").read_bytes().splitlines()[-1])
        assert last["type"] == "error" and f"worker rank 2 (pid {rank2}) died" in last["message"], last
        assert victim.poll() is None
        text = log.read_text()
        assert "ignored a message on the MPI job's channel" in text and "Traceback" not in text, text
        assert not os.path.exists(os.path.dirname(path))
    finally:
        for _ in range(3):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                time.sleep(0.2)
        if p.poll() is None:
            p.kill()
        p.wait()


def test_a_killed_launchers_folder_is_removed_by_the_next_one():
    import tempfile

    stale = Path(tempfile.mkdtemp(prefix="wann-mpi-"))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale / "watch"))
    s.close()  # the launcher died: nobody listens
    live = mpi_launch._Watcher(2, log=io.StringIO())
    try:
        old = time.time() - 3600
        os.utime(stale, (old, old))
        os.utime(live.dir, (old, old))
        w = mpi_launch._Watcher(2, log=io.StringIO())
        w.close()
        assert not stale.exists()
        assert os.path.exists(live.path)  # a launcher still listening keeps its folder
    finally:
        live.close()
        shutil.rmtree(stale, ignore_errors=True)

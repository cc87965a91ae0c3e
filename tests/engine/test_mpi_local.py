"""An MPI job on one machine (``--workers N``, no ``--hosts``): nothing of it listens on the network, and the
launcher, not the process manager, ends it when a rank dies.

The listening check reads ``/proc/net/tcp`` and ``/proc/net/tcp6`` and matches their socket inodes with the
job's processes' open files (what ``ss -ltnp`` shows, without needing ``ss``).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import ROOT

from wann_engine import mpi_launch

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")


def _mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return mpi_launch.forker().exists()


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A ``/proc/net/tcp*`` address: 32-bit words in the host's (little-endian) byte order."""
    raw = bytes.fromhex(hex_addr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    return (ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else ip


def _listening() -> dict[int, str]:
    """inode -> "address:port" of every listening TCP socket."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A":  # TCP_LISTEN
                addr, port = f[1].split(":")
                out[int(f[9])] = f"{_address(addr)}:{int(port, 16)}"
    return out


def _sockets(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = mpi_launch._proc_stat(int(d))
            if st is not None:
                children.setdefault(st[0], []).append(int(d))
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        out.add(p)
        todo += children.get(p, [])
    return out


def _events(run: Path) -> list[dict]:
    try:
        return [orjson.loads(x) for x in (run / "events.jsonl").read_bytes().split(b"\n")[:-1]]
    except OSError:
        return []


def _wait_for(cond, timeout: float = 90.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.02)


def test_exit_status_of_a_killed_process_is_read_before_it_is_reaped():
    p = subprocess.Popen(["sleep", "60"])
    try:
        born = mpi_launch._proc_stat(p.pid)[1]
        p.send_signal(signal.SIGKILL)
        _wait_for(lambda: Path(f"/proc/{p.pid}/stat").read_bytes().split(b") ")[1][:1] == b"Z", 10)
        assert mpi_launch.exit_status(p.pid, born) == 9
        assert mpi_launch.exit_status(p.pid, born + 1) is None  # another process with the same pid
    finally:
        p.wait()
    assert mpi_launch.exit_status(p.pid, born) is None  # reaped: nothing left to read
    assert mpi_launch.describe_status(9) == "Killed (signal 9)"
    assert mpi_launch.describe_status(3 << 8) == "exit code 3"


def test_one_machine_jobs_use_the_forker_and_hosts_use_hydra(tmp_path: Path):
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost:3\n")
    if mpi_launch.forker().exists():
        assert mpi_launch.command(2, ["run"])[0] == str(mpi_launch.forker())
    assert mpi_launch.command(2, ["run"], hosts)[:3] == [str(mpi_launch.mpiexec()), "-f", str(hosts)]


@pytest.mark.skipif(not _mpi(), reason="needs mpi4py and mpiexec.gforker beside the interpreter")
def test_a_two_worker_job_listens_on_loopback_only_and_pauses_stops_and_dies_cleanly(tmp_path: Path):
    runs = tmp_path / "runs"
    run = runs / "local"
    log = tmp_path / "local.log"
    with open(log, "wb") as out:
        p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--task", "laptop_swing", "--runs-dir",
                              str(runs), "--name", "local", "--pop", "16", "--gens", "2000", "--seed", "1", "--quiet",
                              "--workers", "2"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for(lambda: (run / "workers" / "rank-2.pid").exists()
                  and any(e["type"] == "generation" for e in _events(run)))
        ranks = [int((run / "workers" / f"rank-{r}.pid").read_text().split()[0]) for r in range(3)]
        pids = _descendants(p.pid)
        assert set(ranks) <= pids and len(pids) >= 5  # the launcher, the forker, three ranks
        # nothing of the job listens on an address other machines could reach
        listening = _listening()
        mine = {inode: listening[inode] for pid in pids for inode in _sockets(pid) if inode in listening}
        outside = [a for a in mine.values() if not ipaddress.ip_address(a.rsplit(":", 1)[0]).is_loopback]
        assert outside == [], f"the job listens on {outside}"
        # the process manager's SIGINT (sent to every rank when one dies) cannot reach them
        for pid in ranks:
            blocked = int(next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                               if x.startswith("SigBlk:")).split()[1], 16)
            assert blocked & (1 << (signal.SIGINT - 1)), pid
        # pause and continue reach rank 0 (the forker does not forward them, and would die of them)
        p.send_signal(signal.SIGUSR1)
        _wait_for(lambda: _events(run)[-1]["type"] == "paused", 30)
        p.send_signal(signal.SIGUSR2)
        _wait_for(lambda: any(e["type"] == "resumed" for e in _events(run)), 30)
        assert p.poll() is None
        # a worker killed: the launcher ends the job at once and names the rank and its signal
        os.kill(ranks[2], signal.SIGKILL)
        t0 = time.monotonic()
        assert p.wait(timeout=30) == 1
        assert time.monotonic() - t0 < 5
        last = _events(run)[-1]
        assert last["type"] == "error", last
        assert last["message"] == f"worker rank 2 (pid {ranks[2]}) died (mpiexec: Killed (signal 9))", last
        _wait_for(lambda: not any(mpi_launch._proc_stat(x) for x in pids - {p.pid}), 5)  # none of it left
        text = log.read_text()
        assert "Return code" not in text and "Traceback" not in text and "stopping" not in text, text
        # and Ctrl-C after a resume is still a graceful stop
        with open(log, "wb") as out:
            p = subprocess.Popen([sys.executable, "-m", "wann_engine", "resume", str(run), "--quiet"], stdout=out,
                                 stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        n = len(_events(run))
        _wait_for(lambda: any(e["type"] == "generation" for e in _events(run)[n:]))
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 130
        assert _events(run)[-1]["type"] == "stopped"
    finally:
        for _ in range(3):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                time.sleep(0.2)
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.mark.skipif(not _mpi(), reason="needs mpi4py and mpiexec.gforker beside the interpreter")
def test_ctrl_c_while_the_ranks_load_is_an_interruption_and_leaves_no_process(tmp_path: Path):
    p = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--task", "laptop_swing", "--runs-dir",
                          str(tmp_path), "--name", "early", "--pop", "16", "--gens", "20", "--quiet", "--workers", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait_for(lambda: len(mpi_launch.children(next(iter(mpi_launch.children(p.pid)), -1))) == 3, 60)
        pids = _descendants(p.pid) - {p.pid}
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=30)[0].decode()
        assert p.returncode == 130, out
        assert "Traceback" not in out, out
        _wait_for(lambda: not any(mpi_launch._proc_stat(x) for x in pids), 5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

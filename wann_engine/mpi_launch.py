"""Running the engine as an MPI job: the re-launch under ``mpiexec`` and the watch over it.

``wann-engine run --workers N`` (N >= 2), and ``resume`` of a run whose config says so,
start ``<venv>/bin/mpiexec -n N+1 python -m wann_engine <same arguments>`` and wait
for it. Rank 0 runs the search and writes the run directory exactly as a local
engine does; ranks 1..N score networks (:mod:`wann_engine.mpi_eval`).

The launching process stays outside MPI and

* forwards SIGTERM/SIGINT/SIGHUP (as SIGTERM: a graceful stop) and SIGUSR1/SIGUSR2
  (pause/continue) to ``mpiexec``, which hands them to every rank (workers ignore
  them); a third stop signal kills the job;
* passes the job's output through, keeping its tail;
* learns each local rank's pid over a Unix socket; a rank whose connection closes
  without saying goodbye has died, and the first to die is the cause;
* when the job fails and the run's events have no ``finished``/``stopped``/``error``
  after our ``run_start`` (MPICH kills every rank, rank 0 included, within
  milliseconds of one dying), appends the ``error`` event itself, naming the cause.
  The last checkpoint is untouched, so the run can be resumed;
* kills a job that is still alive 30 s after its run ended: it never hangs.
"""

from __future__ import annotations

import atexit
import collections
import os
import re
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import rundir
from .events import EventWriter, parse_line, repair_tail

ENV_FLAG = "WANN_ENGINE_MPI"  # set in every rank of a job we launched
ENV_WATCH = "WANN_ENGINE_WATCH"  # the launcher's socket (abstract namespace, "@name")
_PMI_VARS = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")  # a job started by hand
_TERMINAL = {"finished", "stopped", "error"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
GRACE = 30.0  # seconds a job may linger after its run has ended


def in_mpi() -> bool:
    """True inside an MPI job (ours, or one started with mpiexec by hand)."""
    return os.environ.get(ENV_FLAG) == "1" or any(v in os.environ for v in _PMI_VARS)


def mpiexec() -> Path:
    """The mpiexec of this interpreter's environment (never one found on PATH)."""
    return Path(sys.executable).parent / "mpiexec"


def command(workers: int, args: Sequence[str], hosts: Path | None = None) -> list[str]:
    cmd = [str(mpiexec())]
    if hosts is not None:
        cmd += ["-f", str(hosts)]
    return cmd + ["-n", str(workers + 1), sys.executable, "-m", "wann_engine", *args]


def environment(workers: int, hosts: Path | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The job's environment: one thread per rank; with more ranks than cores on this machine,
    MPICH told to yield instead of busy-polling."""
    env = dict(os.environ if base is None else base)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env[ENV_FLAG] = "1"
    if hosts is None and workers + 1 > (os.cpu_count() or 1):
        env.setdefault("MPIR_CVAR_CH4_PROGRESS_THROTTLE", "1")
        env.setdefault("MPIR_CVAR_POLLS_BEFORE_YIELD", "10")
    return env


def workers_of(run: Path) -> int:
    """The ``workers`` of a run's config (1 if it cannot be read: resuming reports that properly)."""
    try:
        return rundir.read_config(run).workers
    except (rundir.RunDirError, OSError):
        return 1


def delegate(workers: int, run: Path, args: Sequence[str], hosts: Path | None = None, new: bool = True) -> int | None:
    """This process's part in a run with ``workers`` evaluation processes.

    Returns None when it should go on and run the search itself (no MPI wanted, or
    rank 0 of the job); otherwise the exit code: of the whole job when this process
    launched it, of the worker loop on ranks 1..N. ``run`` is the run directory
    (``new``: it must not exist yet), ``args`` the command line to give the ranks.
    """
    if in_mpi():
        from . import mpi_eval

        _announce(mpi_eval.MPI.COMM_WORLD.Get_rank())
        return mpi_eval.enter()
    if workers <= 1:
        return None
    run = Path(run)
    if new and run.exists():
        raise rundir.RunDirError(f"{run} already exists (resume it with `wann-engine resume {run}`)")
    if not new and rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run} is in use by another engine")
    if not mpiexec().exists():
        raise rundir.RunDirError(f"--workers {workers} needs MPI: {mpiexec()} not found (pip install mpi4py mpich)")
    if hosts is not None and not Path(hosts).is_file():
        raise rundir.RunDirError(f"--hosts {hosts}: no such file")
    return Job(workers, run, args, hosts).run()


# --- inside the job -------------------------------------------------------------------------
_sock: socket.socket | None = None


def _announce(rank: int) -> None:
    """Tell the launcher (on this machine) our rank and pid; say goodbye at a normal exit."""
    global _sock
    addr = os.environ.get(ENV_WATCH, "")
    if _sock is not None or not addr.startswith("@"):
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2.0)
        s.connect("\0" + addr[1:])
        s.sendall(f"hello {rank} {os.getpid()}\n".encode())
    except OSError:  # another machine, or no launcher: nothing to tell
        s.close()
        return
    _sock = s
    atexit.register(_goodbye)


def _goodbye() -> None:
    global _sock
    if _sock is not None:
        try:
            _sock.sendall(b"bye\n")
            _sock.close()
        except OSError:
            pass
        _sock = None


# --- the launcher ---------------------------------------------------------------------------
class _Watcher:
    """Accepts the ranks' connections; records, in order, the ranks whose connection closed
    without a goodbye (processes that died). Deaths seen in one wake-up form one group."""

    def __init__(self) -> None:
        self.name = f"wann-engine-{os.getpid()}-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + self.name)
        self.sock.listen(256)
        self.sock.setblocking(False)
        self.pids: dict[int, int] = {}  # rank -> pid
        self.deaths: list[list[int]] = []
        self.lock = threading.RLock()
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="mpi-watch", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return "@" + self.name

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        conns: dict[socket.socket, dict[str, Any]] = {}
        while not self._closing:
            died = []
            for key, _ in sel.select(timeout=0.05):
                if key.data is None:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    conns[c] = {"buf": b"", "rank": None, "bye": False}
                    sel.register(c, selectors.EVENT_READ, conns[c])
                    continue
                c, st = key.fileobj, key.data
                try:
                    data = c.recv(4096)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    st["buf"] += data
                    for line in st["buf"].split(b"\n")[:-1]:
                        f = line.split()
                        if len(f) == 3 and f[0] == b"hello":
                            st["rank"] = int(f[1])
                            with self.lock:
                                self.pids[int(f[1])] = int(f[2])
                        elif f == [b"bye"]:
                            st["bye"] = True
                    st["buf"] = st["buf"].rsplit(b"\n", 1)[-1]
                    continue
                sel.unregister(c)
                c.close()  # type: ignore[union-attr]
                if not st["bye"] and st["rank"] is not None:
                    died.append(st["rank"])
            if died:
                with self.lock:
                    self.deaths.append(sorted(died))
        for c in conns:
            c.close()
        sel.close()

    def first_dead(self) -> list[int]:
        with self.lock:
            return list(self.deaths[0]) if self.deaths else []

    def close(self) -> None:
        self._closing = True
        self._thread.join(timeout=2.0)
        self.sock.close()


_HYDRA_BANNER = re.compile(r"^(|=+|=   .*|YOUR APPLICATION TERMINATED WITH THE EXIT STRING: .*"
                           r"|This typically refers to a problem with your application\.|Please see the FAQ page .*)$")


class _Tee(threading.Thread):
    """Copies a pipe to one of our streams, keeping the last lines."""

    def __init__(self, pipe: IO[bytes], out: IO[bytes]) -> None:
        super().__init__(name="mpi-tee", daemon=True)
        self.pipe, self.out = pipe, out
        self.tail: collections.deque[str] = collections.deque(maxlen=60)
        self.start()

    def run(self) -> None:
        for line in iter(self.pipe.readline, b""):
            text = line.decode(errors="replace").rstrip()
            self.tail.append(text)
            if _HYDRA_BANNER.match(text):
                continue  # mpiexec's notice of a failed job: the cause is reported in one line instead
            try:
                self.out.write(line)
                self.out.flush()
            except (OSError, ValueError):
                pass
        self.pipe.close()


class _RunEvents:
    """Follows the run's event stream from where it stood at launch."""

    def __init__(self, run: Path) -> None:
        self.file = run / rundir.EVENTS
        try:
            self.pos = self.file.stat().st_size
        except OSError:
            self.pos = 0
        self.started = False
        self.ended = False
        self.gen = 0

    def update(self) -> None:
        try:
            with open(self.file, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        for line in data[:cut].splitlines():
            ev = parse_line(line)
            if not ev:
                continue
            if ev["type"] == "run_start":
                self.started, self.ended = True, False
                self.gen = int(ev.get("resumed_from") or 0)
            elif ev["type"] == "generation":
                self.gen = int(ev.get("gen", self.gen - 1)) + 1
            elif ev["type"] in _TERMINAL and self.started:
                self.ended = True


class Job:
    """One MPI job of the engine, started and watched from outside MPI."""

    def __init__(self, workers: int, run: Path, args: Sequence[str], hosts: Path | None = None) -> None:
        self.workers, self.run_dir, self.args, self.hosts = workers, Path(run), list(args), hosts
        self.stops = 0

    def run(self) -> int:
        watcher = _Watcher()
        events = _RunEvents(self.run_dir)
        env = environment(self.workers, self.hosts)
        env[ENV_WATCH] = watcher.address
        proc = subprocess.Popen(command(self.workers, self.args, self.hosts), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.proc, self.watcher = proc, watcher
        tees = [_Tee(proc.stdout, sys.stdout.buffer), _Tee(proc.stderr, sys.stderr.buffer)]  # type: ignore[arg-type]
        old = {s: signal.signal(s, self._forward) for s in
               (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)}
        try:
            ended_at = None
            while True:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                events.update()
                if events.ended and ended_at is None:
                    ended_at = time.monotonic()
                if ended_at is not None and time.monotonic() - ended_at > GRACE:
                    print(f"wann-engine: the MPI job did not exit {GRACE:.0f} s after the run ended; killing it",
                          file=sys.stderr, flush=True)
                    self._kill()
                    proc.wait()
            rc = proc.returncode
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        for t in tees:
            t.join(timeout=5.0)
        time.sleep(0.05)  # let the watcher see the last connections close
        watcher.close()
        events.update()
        if rc == 0:
            return EXIT_OK
        if events.started and not events.ended:
            self._record_error(events, self._cause(rc, [line for t in tees for line in t.tail]))
            return EXIT_FAILED
        return rc if rc in (EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED) else EXIT_FAILED

    def _forward(self, sig: int, _frame: Any) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.stops += 1
            if self.stops >= 3:
                self._kill()
                return
            sig = signal.SIGTERM
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _kill(self) -> None:
        with self.watcher.lock:
            pids = list(self.watcher.pids.values())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _cause(self, rc: int, tail: list[str]) -> str:
        said = ""
        for line in tail:
            m = re.search(r"EXIT STRING: (.+)$", line)
            if m:
                said = m.group(1).strip()
        dead = self.watcher.first_dead()
        pids = self.watcher.pids
        if self.stops >= 3:
            what = "killed after repeated stop signals"
        elif len(dead) == 1 and dead[0] == 0:
            what = f"the engine process (rank 0, pid {pids.get(0, '?')}) died"
        elif len(dead) == 1:
            what = f"worker rank {dead[0]} (pid {pids.get(dead[0], '?')}) died"
        elif dead:
            what = "ranks " + ", ".join(str(r) for r in dead) + " died at the same moment"
        else:
            what = f"the MPI job ended with exit code {rc}"
        return f"{what} ({'mpiexec: ' + said if said else f'mpiexec exit code {rc}'})"

    def _record_error(self, events: _RunEvents, message: str) -> None:
        """Append the error event the dead rank 0 could not write (holding the run's lock)."""
        lock = rundir.Lock(self.run_dir)
        for _ in range(25):
            try:
                lock.acquire()
                break
            except rundir.RunDirError:
                time.sleep(0.2)
        else:
            print(f"wann-engine: error: {message}", file=sys.stderr, flush=True)
            return
        try:
            events.update()
            if events.ended:
                return
            repair_tail(self.run_dir / rundir.EVENTS)
            w = EventWriter(self.run_dir / rundir.EVENTS)
            try:
                w.emit("error", gen=events.gen, message=message)
                w.sync()
            finally:
                w.close()
        finally:
            lock.release()
        print(f"wann-engine: error: run failed at generation {events.gen}: {message}", file=sys.stderr, flush=True)

"""Running the engine as an MPI job: the re-launch under ``mpiexec`` and the watch over it.

``wann-engine run --workers N`` (N >= 2), and ``resume`` of a run whose config says so,
start ``<venv>/bin/mpiexec.gforker -n N+1 python -m wann_engine <same arguments>`` and
wait for it. Rank 0 runs the search and writes the run directory exactly as a local
engine does; ranks 1..N score networks (:mod:`wann_engine.mpi_eval`).

Which process manager: on one machine MPICH's forker (``mpiexec.gforker``), which talks to
its ranks over inherited socket pairs and opens no TCP port (the ranks' own connections are
held to loopback, :data:`LOOPBACK_ENV`); each rank makes itself a session of its own first,
as under Hydra. With ``--hosts``, MPICH's Hydra (``mpiexec -f``), which listens on a TCP port
on every interface for the proxies it starts on the other hosts. Hydra binds that port to
any address whatever its options (``-iface``, ``-localhost``, ``HYDRA_*`` only choose the
address it advertises), hence the forker on one machine.

The launching process stays outside MPI and

* forwards SIGTERM/SIGINT/SIGHUP (as SIGTERM: a graceful stop) to ``mpiexec``, which hands
  it to every rank (workers ignore it), and SIGUSR1/SIGUSR2 (pause/continue) to rank 0
  (through Hydra with ``--hosts``); a third stop signal kills the job. On one machine the
  ranks start with SIGINT blocked: should the forker ever see a rank die, it sends SIGINT to
  every other rank (then SIGQUIT a second later), which must not read as a user's stop;
* passes the job's output through, keeping its tail;
* learns each local rank's pid over a private channel (a Unix socket in a 0700 folder
  of its own, a random token the ranks get in their environment, the peer's pid and
  user checked by the kernel); a rank whose connection closes without saying goodbye
  has died, and the first to die is the cause. A pid is recorded only if the process
  descends from the ``mpiexec`` we started, and is signalled only while it is still
  that process: no message can make the launcher signal anything else;
* on one machine, is the judge of the job's end: the forker starts with SIGCHLD blocked, so
  it never reaps (nor reacts to) a rank; every rank that exits stays a zombie whose exit
  status the launcher reads from ``/proc``. A rank gone without a goodbye (or dead before it
  announced itself) makes the launcher kill every rank at once (Hydra does the same with
  ``--hosts``) and fail the job; once every rank has exited and the forker has passed on
  their output, the launcher kills the forker, reaps the ranks (it is their subreaper) and
  returns rank 0's exit code;
* when the job fails and the run's events have no ``finished``/``stopped``/``error``
  after our ``run_start``, appends the ``error`` event itself, naming the cause (the dead
  rank, and its signal or exit code, as Hydra words it). The last checkpoint is untouched,
  so the run can be resumed;
* kills a job that is still alive 30 s after its run ended: it never hangs.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import re
import secrets
import select
import selectors
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from . import rundir
from .events import TERMINAL, EventWriter, Generation, RunStart, repair_tail, try_decode
from .exits import Exit

ENV_FLAG = "WANN_ENGINE_MPI"  # set in every rank of a job we launched
ENV_WATCH = "WANN_ENGINE_WATCH"  # the launcher's socket: a path in a private (0700) folder
ENV_TOKEN = "WANN_ENGINE_WATCH_TOKEN"  # the job's secret, the first word of every rank's hello
_PMI_VARS = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")  # a job started by hand
GRACE = 30.0  # seconds a job may linger after its run has ended
PM_GRACE = 3.0  # seconds the forker may take to pass on its dead ranks' output before it is killed
#: On one machine the ranks talk over shared memory; any TCP fallback listens on loopback only
#: (UCX is MPICH's default network module, libfabric's tcp/sockets providers the other one).
LOOPBACK_ENV = {"UCX_NET_DEVICES": "lo", "FI_TCP_IFACE": "lo", "FI_SOCKETS_IFACE": "lo"}
#: the launcher's word at the first stop signal, at once (rank 0's own word, from ``runner.Signals``, says the
#: same but reaches the terminal through the process manager, which cuts it short)
STOPPING = ("wann-engine: stopping… ({}): the current generation is dropped, the last complete one is checkpointed; "
            "continue with `wann-engine resume`")


def _say(line: str) -> None:
    """One line on stderr from a signal handler: never raises (the terminal may be gone)."""
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode())


def in_mpi() -> bool:
    """True inside an MPI job (ours, or one started with mpiexec by hand)."""
    return os.environ.get(ENV_FLAG) == "1" or any(v in os.environ for v in _PMI_VARS)


def mpiexec() -> Path:
    """Hydra's mpiexec of this interpreter's environment (never one found on PATH): jobs across hosts."""
    return Path(sys.executable).parent / "mpiexec"


def forker() -> Path:
    """MPICH's single-machine process manager beside the interpreter: no TCP port (see the module's doc)."""
    return Path(sys.executable).parent / "mpiexec.gforker"


def local(hosts: Path | None) -> bool:
    """True when a job runs under the forker: one machine (no host file) and the forker installed."""
    return hosts is None and forker().exists()


#: how each rank starts under the forker, then becomes the engine (same pid): SIGINT blocked (see the module's
#: doc), SIGCHLD not (the forker's is), and a session of its own, as Hydra's proxy gives it: the scheduler then
#: shares the machine's cores per rank, not per job
_RANK_START = ("import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGINT}); os.setsid(); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def command(workers: int, args: Sequence[str], hosts: Path | None = None) -> list[str]:
    rank = [sys.executable, "-m", "wann_engine", *args]
    if local(hosts):
        return [str(forker()), "-n", str(workers + 1), sys.executable, "-S", "-c", _RANK_START, *rank[1:]]
    cmd = [str(mpiexec())]
    if hosts is not None:
        cmd += ["-f", str(hosts)]
    return cmd + ["-n", str(workers + 1), *rank]


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
    if hosts is None:
        for k, v in LOOPBACK_ENV.items():
            env.setdefault(k, v)
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
    addr, token = os.environ.get(ENV_WATCH, ""), os.environ.get(ENV_TOKEN, "")
    if _sock is not None or not addr or not token:
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2.0)
        s.connect(addr)
        s.sendall(f"hello {token} {rank} {os.getpid()}\n".encode())
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


def launcher_watching() -> bool:
    """True while the launcher that started this job on this machine still holds our channel open
    (it never writes to it: a readable channel means it closed)."""
    if _sock is None:
        return False
    try:
        ready, _, _ = select.select([_sock], [], [], 0)
        return not ready or _sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


# --- the launcher ---------------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2:].split()
        return int(fields[1]), int(fields[19])  # fields 4 (ppid) and 22 (starttime) of proc(5)
    except (OSError, ValueError, IndexError):
        return None


def exit_status(pid: int, born: int | None, wait: float = 0.5) -> int | None:
    """How process ``pid`` (started at ``born``, if given) ended, as a wait status, read from ``/proc``
    while it is exiting or a zombie; None if it is reaped (or still running after ``wait`` seconds).

    Only the parent can wait for a process; this reads the exit code the kernel shows until then
    (field 52 of proc(5)). The forker never reaps its ranks (its SIGCHLD is blocked): they stay
    zombies, readable here, until the launcher ends the job.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            fields = data[data.rindex(b")") + 2:].split()
            state, start, code = fields[0], int(fields[19]), int(fields[49])
        except (OSError, ValueError, IndexError):
            return None
        if born is not None and start != born:
            return None  # another process now has that pid
        if code or state in (b"Z", b"X"):
            return code
        if time.monotonic() > deadline:
            return None
        time.sleep(0.0005)


def describe_status(status: int) -> str:
    """A wait status in words, as Hydra says it: ``Killed (signal 9)``, ``exit code 3``."""
    sig = status & 0x7F
    if sig:
        try:
            name = signal.strsignal(sig) or f"signal {sig}"
        except ValueError:
            name = f"signal {sig}"
        return f"{name} (signal {sig})"
    return f"exit code {status >> 8 & 0xFF}"


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (a scan of ``/proc``)."""
    out = []
    for d in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if d.isdigit():
            st = _proc_stat(int(d))
            if st is not None and st[0] == pid:
                out.append(int(d))
    return out


def _adopt_orphans() -> None:
    """Make this process the reaper of its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``): the
    forker's zombie ranks come to us when it is killed, and :func:`_reap` clears them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap(pids: dict[int, int], timeout: float = 1.0) -> None:
    """Reap the given (adopted) zombies; any that are not our children are someone else's to reap."""
    deadline = time.monotonic() + timeout
    todo = set(pids)
    while todo and time.monotonic() < deadline:
        for pid in list(todo):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    todo.discard(pid)
            except ChildProcessError:
                if _proc_stat(pid) is None:
                    todo.discard(pid)
        if todo:
            time.sleep(0.01)


def descends_from(pid: int, root: int) -> bool:
    """True if process ``pid`` is ``root`` or one of its descendants (walking parent pids)."""
    for _ in range(64):
        if pid == root:
            return True
        st = _proc_stat(pid)
        if st is None or st[0] <= 1:
            return False
        pid = st[0]
    return False


def _remove_stale_channels(min_age: float = 60.0) -> None:
    """Remove this user's channel folders that no launcher listens on any more (a launcher that was
    SIGKILLed cannot remove its own)."""
    for d in Path(tempfile.gettempdir()).glob("wann-mpi-*"):
        sock = d / "watch"
        try:
            st = d.lstat()
            if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode) or time.time() - st.st_mtime < min_age:
                continue
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.settimeout(0.5)
                probe.connect(str(sock))
                continue  # a live launcher
            except (ConnectionRefusedError, FileNotFoundError):
                pass
            finally:
                probe.close()
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


_HELLO = re.compile(rb"hello ([0-9a-f]{32}) ([0-9]{1,6}) ([0-9]{1,10})")
MAX_LINE = 128  # a hello is about 50 bytes: a longer line is not from a rank


class _Watcher:
    """The job's channel: accepts the ranks' connections; records, in order, the ranks whose
    connection closed without a goodbye (processes that died). Deaths seen in one wake-up form
    one group.

    Only the job can use it: the socket lives in a folder only this user can enter; every
    connection must start with ``hello <token> <rank> <pid>``, where the token is the job's
    random secret, ``pid`` is the connecting process itself (the kernel's peer credentials, same
    user) and a descendant of the job's ``mpiexec``, and the rank is a rank of the job not yet
    announced. Anything else is logged (a few lines at most) and the connection closed; nothing
    a peer sends can stop the watcher. :meth:`start` begins serving once the job's root pid is known.
    """

    def __init__(self, ranks: int, log: IO[str] | None = None) -> None:
        _remove_stale_channels()
        self.token = secrets.token_hex(16)
        self.ranks = ranks
        self.dir = tempfile.mkdtemp(prefix="wann-mpi-")  # mode 0700
        if len(self.dir) > 90:  # AF_UNIX paths are limited to ~107 bytes
            os.rmdir(self.dir)
            self.dir = tempfile.mkdtemp(prefix="wann-mpi-", dir="/tmp")
        self.path = os.path.join(self.dir, "watch")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(256)
        self.sock.setblocking(False)
        self.root: int | None = None
        self.pids: dict[int, int] = {}  # rank -> pid (verified)
        self._born: dict[int, int] = {}  # pid -> start time when verified (a reused pid is another process)
        self.deaths: list[list[int]] = []
        self.ends: dict[int, int] = {}  # rank -> wait status of a rank that died, when it could be read
        self.byes: set[int] = set()  # ranks that said goodbye (a normal exit)
        self.ignored = 0  # connections and lines refused
        self.lock = threading.RLock()
        self._log = log if log is not None else sys.stderr
        self._closing = False
        #: called (from the watcher's thread) with each group of ranks that died, as soon as it is seen
        self.on_death: Callable[[list[int]], None] | None = None
        self._thread = threading.Thread(target=self._serve, name="mpi-watch", daemon=True)

    @property
    def address(self) -> str:
        return self.path

    def environment(self) -> dict[str, str]:
        """What the ranks need to reach the channel."""
        return {ENV_WATCH: self.path, ENV_TOKEN: self.token}

    def start(self, root: int) -> None:
        """Serve, accepting only processes descended from ``root`` (the job's mpiexec)."""
        self.root = root
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _refuse(self, why: str) -> None:
        with self.lock:
            self.ignored += 1
            n = self.ignored
        if n <= 5:
            try:
                self._log.write(f"wann-engine: ignored a message on the MPI job's channel: {why}\n")
                self._log.flush()
            except (OSError, ValueError):
                pass

    def _hello(self, conn: socket.socket, line: bytes) -> int | None:
        """The rank a hello announces, if every check passes (None otherwise, reason logged)."""
        m = _HELLO.fullmatch(line)
        if m is None:
            self._refuse("not a hello from a rank")
            return None
        if not secrets.compare_digest(m.group(1), self.token.encode()):
            self._refuse("wrong token")
            return None
        rank, pid = int(m.group(2)), int(m.group(3))
        try:
            peer_pid, peer_uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                                      struct.calcsize("3i")))
        except (OSError, AttributeError, struct.error):
            peer_pid, peer_uid = pid, os.getuid()  # no peer credentials on this system: the token decides
        if pid != peer_pid or peer_uid != os.getuid():
            self._refuse(f"hello names pid {pid}, sent by pid {peer_pid}")
            return None
        if not 0 <= rank < self.ranks:
            self._refuse(f"no rank {rank} in this job")
            return None
        born = _proc_stat(pid)
        if self.root is None or born is None or not descends_from(pid, self.root):
            self._refuse(f"pid {pid} is not a process of this job")
            return None
        with self.lock:
            if rank in self.pids:
                self._refuse(f"rank {rank} announced twice")
                return None
            self.pids[rank] = pid
            self._born[pid] = born[1]
        return rank

    def _read(self, conn: socket.socket, st: dict[str, Any]) -> bool:
        """Handle what ``conn`` sent; False when it closed (or was closed for misbehaving)."""
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        st["buf"] += data
        *lines, st["buf"] = st["buf"].split(b"\n")
        if len(st["buf"]) > MAX_LINE:
            self._refuse("line too long")
            if st["rank"] is None:
                st["drop"] = True
                return False
            st["buf"] = b""  # a rank's connection stays: its closing is how its death is seen
        for line in lines:
            if st["rank"] is None:
                st["rank"] = self._hello(conn, line)
                if st["rank"] is None:
                    st["drop"] = True
                    return False
            elif line == b"bye":
                st["bye"] = True
                with self.lock:
                    self.byes.add(st["rank"])
            else:
                self._refuse("unknown message")
        return True

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        conns: dict[socket.socket, dict[str, Any]] = {}
        while not self._closing:
            died: list[int] = []
            try:
                ready = sel.select(timeout=0.05)
            except OSError:
                ready = []
            for key, _ in ready:
                try:
                    if key.data is None:
                        c, _ = self.sock.accept()
                        c.setblocking(False)
                        conns[c] = {"buf": b"", "rank": None, "bye": False, "drop": False}
                        sel.register(c, selectors.EVENT_READ, conns[c])
                        continue
                    c, st = key.fileobj, key.data
                    if self._read(c, st):  # type: ignore[arg-type]
                        continue
                except (BlockingIOError, InterruptedError):
                    continue
                except Exception as e:  # never let one connection stop the watch
                    self._refuse(f"{type(e).__name__}: {e}")
                    if key.data is None:
                        continue
                    c, st = key.fileobj, key.data
                    st["drop"] = True
                with contextlib.suppress(KeyError, ValueError, OSError):
                    sel.unregister(c)
                c.close()  # type: ignore[union-attr]
                conns.pop(c, None)  # type: ignore[call-overload]
                if not st["bye"] and st["rank"] is not None:
                    died.append(st["rank"])
                    self._note_end(st["rank"])
            if died:
                with self.lock:
                    self.deaths.append(sorted(died))
                if self.on_death is not None:
                    try:
                        self.on_death(sorted(died))
                    except Exception as e:  # never let the reaction stop the watch (the job still ends: mpiexec)
                        with contextlib.suppress(OSError, ValueError):
                            self._log.write(f"wann-engine: ending the MPI job after a rank died: {e}\n")
        for c in conns:
            c.close()
        sel.close()

    def first_dead(self) -> list[int]:
        with self.lock:
            return list(self.deaths[0]) if self.deaths else []

    def _note_end(self, rank: int) -> None:
        """Record how a rank that died ended, if the kernel still shows it (read at once: its parent,
        the process manager, reaps it within moments)."""
        with self.lock:
            pid = self.pids.get(rank)
            born = self._born.get(pid) if pid is not None else None
        if pid is None or born is None:
            return
        status = exit_status(pid, born)
        if status is not None:
            with self.lock:
                self.ends[rank] = status

    def pid_of(self, rank: int) -> int | None:
        """The pid of ``rank`` if it announced itself and is still that process."""
        with self.lock:
            pid = self.pids.get(rank)
            born = self._born.get(pid) if pid is not None else None
        st = _proc_stat(pid) if pid is not None else None
        return pid if st is not None and st[1] == born else None

    def job_pids(self) -> list[int]:
        """The verified ranks' pids that are still the processes that announced themselves."""
        with self.lock:
            born = dict(self._born)
        out = []
        for pid, t in born.items():
            st = _proc_stat(pid)
            if st is not None and st[1] == t:
                out.append(pid)
        return out

    def close(self) -> None:
        self._closing = True
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_PM_NOTICE = re.compile(r"^(|=+|=   .*|YOUR APPLICATION TERMINATED WITH THE EXIT STRING: .*"
                        r"|This typically refers to a problem with your application\.|Please see the FAQ page .*)$")


class _Tee(threading.Thread):
    """Copies a pipe to one of our streams, keeping the last lines; lines for which ``drop(text)`` says
    True are kept in the tail but not copied."""

    def __init__(self, pipe: IO[bytes], out: IO[bytes], drop: Callable[[str], bool] | None = None) -> None:
        super().__init__(name="mpi-tee", daemon=True)
        self.pipe, self.out, self.drop = pipe, out, drop
        self.tail: collections.deque[str] = collections.deque(maxlen=60)
        self.start()

    def run(self) -> None:
        for line in iter(self.pipe.readline, b""):
            text = line.decode(errors="replace").rstrip()
            self.tail.append(text)
            if _PM_NOTICE.match(text):
                continue  # mpiexec's notice of a failed job: the cause is reported in one line instead
            if self.drop is not None and self.drop(text):
                continue
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
            ev = try_decode(line)
            if isinstance(ev, RunStart):
                self.started, self.ended = True, False
                self.gen = ev.resumed_from or 0
            elif isinstance(ev, Generation):
                self.gen = ev.gen + 1
            elif ev is not None and ev.type in TERMINAL and self.started:
                self.ended = True


class Job:
    """One MPI job of the engine, started and watched from outside MPI."""

    def __init__(self, workers: int, run: Path, args: Sequence[str], hosts: Path | None = None) -> None:
        self.workers, self.run_dir, self.args, self.hosts = workers, Path(run), list(args), hosts
        self.stops = 0
        self.local = local(hosts)
        self.died_at: float | None = None  # when the first rank died (one machine: the job is being ended)
        self.codes: dict[int, int] = {}  # one machine: pid -> wait status of each rank that has exited
        self.unknown_death: tuple[int, int] | None = None  # (pid, status) of a rank that died unannounced

    def run(self) -> int:
        if self.hosts is None and not self.local:
            print(f"wann-engine: note: no {forker().name} beside the interpreter; Hydra's mpiexec runs the job "
                  "and listens on every network interface", file=sys.stderr, flush=True)
        watcher = _Watcher(self.workers + 1)
        events = _RunEvents(self.run_dir)
        env = {**environment(self.workers, self.hosts), **watcher.environment()}
        # the forker inherits a blocked SIGCHLD: it never reaps its ranks, which stay zombies that tell us how
        # each ended (it reaps them in a signal handler otherwise, and at times misses one and waits for it)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD}) if self.local else None
        if self.local:
            _adopt_orphans()
        try:
            try:
                proc = subprocess.Popen(command(self.workers, self.args, self.hosts), env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)
            except BaseException:
                watcher.close()
                raise
            self.proc, self.watcher = proc, watcher
            if self.local:
                watcher.on_death = self._end_on_death
            watcher.start(proc.pid)
            tees = [_Tee(proc.stdout, sys.stdout.buffer),  # type: ignore[arg-type]
                    _Tee(proc.stderr, sys.stderr.buffer, self._said_already)]  # type: ignore[arg-type]
            old = {s: signal.signal(s, self._forward) for s in
                   (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)}
        finally:
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            ended_at = None
            while True:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.died_at is not None and time.monotonic() - self.died_at > PM_GRACE:
                    self._kill()  # the forker did not exit once its ranks were dead
                    proc.wait()
                    break
                events.update()
                if self.local and self._job_over():
                    self._kill()  # every rank has exited and its output is passed on: the forker is done
                    proc.wait()
                    break
                if events.ended and ended_at is None:
                    ended_at = time.monotonic()
                if ended_at is not None and time.monotonic() - ended_at > GRACE:
                    print(f"wann-engine: the MPI job did not exit {GRACE:.0f} s after the run ended; killing it",
                          file=sys.stderr, flush=True)
                    self._kill()
                    proc.wait()
            rc = proc.returncode
        except BaseException:
            watcher.close()
            raise
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        for t in tees:
            t.join(timeout=5.0)
        time.sleep(0.05)  # let the watcher see the last connections close
        watcher.close()
        events.update()
        if self.local:
            self._job_over()  # (the last exit codes)
            rc = self._exit_code(rc)
            _reap(self.codes)
        died = self.local and (bool(watcher.first_dead()) or self.unknown_death is not None)
        if rc == 0 and not died:
            return Exit.OK
        if events.started and not events.ended:
            self._record_error(events, self._cause(rc, [line for t in tees for line in t.tail]))
            return Exit.FAILED
        if self.stops and not events.started:  # stopped while the ranks were still loading
            print("wann-engine: interrupted", file=sys.stderr, flush=True)
            return Exit.INTERRUPTED
        if died:
            if not events.started:
                print(f"wann-engine: error: the MPI job failed before the run started: "
                      f"{self._cause(rc, [line for t in tees for line in t.tail])}", file=sys.stderr, flush=True)
            return Exit.FAILED
        return rc if rc in (Exit.FAILED, Exit.USAGE, Exit.INTERRUPTED) else Exit.FAILED

    def _forward(self, sig: int, _frame: Any) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.stops += 1
            if self.stops >= 3:
                self._kill()
                return
            if self.stops == 1:
                _say(STOPPING.format(signal.Signals(sig).name))
            if self.stops == 2:
                _say("wann-engine: already stopping (within a batch of episodes); one more stop signal kills the "
                     "job, which then resumes from its last checkpoint")
            sig = signal.SIGTERM
        target: int | None = self.proc.pid
        if self.local and sig in (signal.SIGUSR1, signal.SIGUSR2):
            target = self.watcher.pid_of(0)  # the forker does not forward these (and would die of them)
        try:
            if target is not None:
                os.kill(target, sig)
        except ProcessLookupError:
            pass

    def _said_already(self, text: str) -> bool:
        """Rank 0's own word of the stop, said by us already (MPICH's forker, once signalled, passes on only
        the start of that line)."""
        return self.stops > 0 and text.startswith("wann-engine: stopping")

    def _job_over(self) -> bool:
        """One machine: note every rank that has exited (a zombie of the forker); a rank that exited
        without a goodbye ends the job (one that died before it announced itself is seen only here).
        True once every rank has exited and the forker has passed on all their output (it holds no file
        but its stdin, stdout and stderr)."""
        pid = self.proc.pid
        if self.proc.returncode is not None:
            return True
        over = True
        for child in children(pid):
            status = exit_status(child, None, wait=0)
            if status is None:
                over = False
                continue
            if child not in self.codes:
                self.codes[child] = status
                with self.watcher.lock:
                    ranks = {p: r for r, p in self.watcher.pids.items()}
                    bye = ranks.get(child) in self.watcher.byes
                if status and child not in ranks and not bye and self.unknown_death is None and not self.watcher.deaths:
                    self.unknown_death = (child, status)
                    self._end_on_death([])
        try:
            return over and set(os.listdir(f"/proc/{pid}/fd")) <= {"0", "1", "2"}
        except OSError:
            return over

    def _exit_code(self, rc: int) -> int:
        """The job's exit code on one machine: rank 0's (the forker's own is wrong when it reaps nothing)."""
        rank0 = self.watcher.pids.get(0)
        statuses = [self.codes[rank0]] if rank0 in self.codes else list(self.codes.values())
        if not statuses:
            return rc
        codes = [128 + (st & 0x7F) if st & 0x7F else st >> 8 & 0xFF for st in statuses]
        return max(codes)

    def _end_on_death(self, ranks: list[int]) -> None:
        """One machine: a rank died, so end the job now (Hydra does this by itself): every rank is killed;
        the forker follows once it has passed on their last output (:meth:`_job_over`, or after
        :data:`PM_GRACE`)."""
        if self.died_at is None:
            self.died_at = time.monotonic()
        for pid in self._ranks():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _ranks(self) -> set[int]:
        """The job's rank processes: those that announced themselves and, on one machine, every child of
        the forker (a rank that has not announced itself yet; each rank is a session of its own, out of
        reach of the job's process group)."""
        pids = set(self.watcher.job_pids())
        if getattr(self, "local", False) and self.proc.returncode is None:  # (not reaped: the pid is still its)
            pids.update(children(self.proc.pid))
        return pids

    def _kill(self) -> None:
        for pid in self._ranks():
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
        seen = self.watcher.ends
        if not said and dead and all(r in seen for r in dead):
            said = "; ".join(f"rank {r}: {describe_status(seen[r])}" for r in dead) if len(dead) > 1 else \
                describe_status(seen[dead[0]])
        if not dead and self.unknown_death is not None:
            pid, status = self.unknown_death
            return f"a rank (pid {pid}) died while starting ({describe_status(status)})"
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
        if not said and self.local:
            return what  # (the forker says nothing of it)
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

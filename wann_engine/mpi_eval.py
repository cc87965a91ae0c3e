"""Scoring generations on MPI worker ranks: rank 0 hands out a queue of chunks, ranks 1..N score them.

Only imported inside an MPI job (see :mod:`wann_engine.mpi_launch`). Rank 0 runs the
search and uses :class:`MpiEvaluator`; every other rank runs :func:`worker_loop`.

Protocol (point-to-point on ``COMM_WORLD``, numpy buffers, small JSON messages for setup and
errors; nothing is pickled):

* ``SETUP`` (0 -> worker, the config as JSON bytes, once): the worker builds its task
  (``tasks.get(cfg.task, cfg)``) and answers ``HELLO`` (pid, host) or ``ERROR``.
* ``CHUNK`` (0 -> worker, one int64 buffer): a few networks as their CSR arrays plus
  the evaluation context (weights as float64 bits, key, reps, max_steps). Chunk sizes
  follow guided self-scheduling: about remaining / 3N networks, but no fewer than about
  10 ms of work (timed in the previous generation) unless that leaves under 4 chunks
  per worker. Each worker holds at most two chunks, so a worker that finishes gets the
  next one at once, and a slow episode elsewhere idles nobody.
* ``RESULT`` (worker -> 0, one float64 buffer): chunk id, env steps and scoring time
  (as int64 bits), then the (networks, weights, reps) returns.
* ``ERROR`` (worker -> 0, a UTF-8 message): scoring raised; rank 0 ends the run with it.
* ``CANCEL`` (0 -> worker, the call number as JSON): a stop was asked for during a generation. Every
  chunk of that call (or an earlier one) the worker still holds is answered at once with an empty
  ``RESULT``; the one being scored is given up between batched steps (the gym tasks) or between
  batches of about 0.25 s of work (:class:`evaluators.LocalEvaluator`, which never changes a
  score). Rank 0 waits for every chunk's answer, so no message is left in flight and every worker
  is idle, then raises :class:`tasks.Interrupted` as a local evaluation does.
* ``STOP`` (0 -> worker): leave the loop.

A network's scores depend only on (network, weights, key, reps, max_steps), so the
chunking never changes results: runs are identical with any number of workers.

Waiting is ``Iprobe`` + a sleep that backs off (MPICH busy-polls inside blocking
calls, which starves the evaluating ranks when ranks outnumber cores).

Testing aid: ``WANN_ENGINE_FAULT=<rank>:<n>`` makes worker ``rank`` raise while
scoring its ``n``-th chunk (counted from 0).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
from mpi4py import MPI

from . import mpi_launch, tasks
from .config import Config
from .evaluators import LocalEvaluator
from .genome import Network
from .tasks import Interrupted, Scores, Task

TAG_SETUP, TAG_HELLO, TAG_CHUNK, TAG_RESULT, TAG_ERROR, TAG_STOP, TAG_CANCEL = 11, 12, 13, 14, 15, 16, 17
PREFETCH = 2  # chunks a worker may hold: one being scored, one waiting
WORKERS_DIR = "workers"  # in the run directory: rank-<n>.pid for every rank ("<pid> <host>")
_HEAD = 6  # chunk header: id, networks, reps, max_steps, key length, weight count
_NET_HEAD = 5  # per network: n_in, n_out, keep_disabled_hidden, nodes, connections
_RES_HEAD = 3  # result header (int64 bits): chunk id, env steps, scoring nanoseconds
CHUNK_SECONDS = 0.01  # smallest chunk worth sending, once the time per network is known
LAUNCHER_WAIT = 2.0  # seconds rank 0 leaves a dead worker to the launcher before ending the run itself
STOP_CHECK = 0.05  # seconds between rank 0's looks at should_stop (and at its workers) while it waits
CANCEL_CHECK = 0.02  # seconds between a worker's looks for a CANCEL while it scores a chunk


class _StopAsked(Exception):
    """Rank 0's evaluation saw ``should_stop``: the generation is being abandoned."""


class WorkerError(RuntimeError):
    """A worker rank failed or died; the message names it."""


def world_size() -> int:
    return MPI.COMM_WORLD.Get_size()


# --- message encoding -----------------------------------------------------------------------
def encode_chunk(cid: int, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
                 max_steps: int) -> np.ndarray:
    """One int64 buffer holding the context and the networks' arrays, nothing dense."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    parts = [np.array([cid, len(nets), reps, max_steps, len(key), len(w)], np.int64),
             np.asarray(key, dtype=np.int64).reshape(-1), w.view(np.int64),
             np.array([[n.n_in, n.n_out, int(n.keep_disabled_hidden), n.n_nodes, n.n_conns] for n in nets],
                      np.int64).reshape(-1)]
    for n in nets:
        parts += [n.node_ids, n.act, n.depth, n.layer, n.src_ptr, n.src_idx]
    return np.concatenate([np.asarray(p).astype(np.int64, copy=False).reshape(-1) for p in parts])


def decode_chunk(buf: np.ndarray) -> tuple[int, list[Network], np.ndarray, tuple[int, ...], int, int]:
    cid, count, reps, max_steps, n_key, n_w = (int(x) for x in buf[:_HEAD])
    pos = _HEAD
    key = tuple(int(x) for x in buf[pos:pos + n_key])
    pos += n_key
    weights = buf[pos:pos + n_w].view(np.float64).copy()
    pos += n_w
    heads = buf[pos:pos + _NET_HEAD * count].reshape(count, _NET_HEAD)
    pos += _NET_HEAD * count
    nets = []
    for n_in, n_out, kdh, nn, nc in heads.tolist():
        cut = [nn, nn, nn, nn, nn + 1, nc]
        arrs = []
        for size in cut:
            arrs.append(buf[pos:pos + size])
            pos += size
        node_ids, act, depth, layer, src_ptr, src_idx = arrs
        nets.append(Network(n_in=n_in, n_out=n_out, node_ids=node_ids, act=act.astype(np.int8), src_ptr=src_ptr,
                            src_idx=src_idx, depth=depth, layer=layer, keep_disabled_hidden=bool(kdh)))
    if pos != len(buf):
        raise ValueError(f"chunk message of {len(buf)} values, decoded {pos}")
    return cid, nets, weights, key, reps, max_steps


def encode_result(cid: int, scores: Scores, seconds: float) -> np.ndarray:
    out = np.empty(_RES_HEAD + scores.returns.size, dtype=np.float64)
    out[:_RES_HEAD].view(np.int64)[:] = (cid, scores.steps, int(seconds * 1e9))
    out[_RES_HEAD:] = scores.returns.reshape(-1)
    return out


# --- waiting without spinning ---------------------------------------------------------------
def _probe(comm: MPI.Comm, source: int, status: MPI.Status, max_sleep: float, idle_sleep: float = 0.05,
           check: Callable[[], None] | None = None, every: float = 0.5) -> None:
    """Wait for a message with Iprobe and a backed-off sleep; ``check()`` runs about every ``every`` s."""
    delay, t0, last = 20e-6, time.monotonic(), time.monotonic()
    while not comm.Iprobe(source=source, tag=MPI.ANY_TAG, status=status):
        now = time.monotonic()
        cap = max_sleep if now - t0 < 2.0 else idle_sleep
        time.sleep(delay)
        delay = min(delay * 2, cap)
        if check is not None and now - last > every:
            last = now
            check()


def _discard(comm: MPI.Comm, source: int, tag: int, status: MPI.Status) -> None:
    buf = bytearray(max(status.Get_count(MPI.BYTE), 0))
    comm.Recv([buf, MPI.BYTE], source=source, tag=tag)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
        return True


# --- rank 0 ---------------------------------------------------------------------------------
class MpiEvaluator:
    """Scores on ranks 1..N of ``COMM_WORLD``; this process is rank 0 and does not score.

    With ``should_stop`` (looked at every :data:`STOP_CHECK` s while waiting, and after each chunk), a
    generation is abandoned part-way: the workers are told to ``CANCEL``, their answers drained, and
    :class:`tasks.Interrupted` raised, as :class:`evaluators.LocalEvaluator` does.
    """

    def __init__(self, cfg: Config, task: Task, run_dir: Path | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.comm = MPI.COMM_WORLD
        if self.comm.Get_rank() != 0 or self.comm.Get_size() < 2:
            raise RuntimeError("MpiEvaluator needs to be rank 0 of at least two ranks")
        self.cfg = cfg
        self.task = task
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.workers = list(range(1, self.comm.Get_size()))
        self.info: dict[int, tuple[int, str]] = {}  # rank -> (pid, host)
        self.host = socket.gethostname()
        self.calls = 0
        self.status = MPI.Status()
        self.watched: dict[int, int] = {}
        self.net_seconds = 0.0  # scoring time per network in the last generation
        self.should_stop = should_stop
        self._ready = False

    def _setup(self) -> None:
        """Send the config to every worker and collect their hellos (at the first score, so that a failure
        becomes the run's error event)."""
        for r in self.workers:
            send_json(self.comm, self.cfg.to_dict(), r, TAG_SETUP)
        while len(self.info) < len(self.workers):
            try:  # (the workers are still making their tasks: a stop leaves them to the STOP that follows)
                src, tag = self._wait(self.should_stop is not None)
            except _StopAsked:
                raise Interrupted("setting up the MPI workers abandoned, a stop was asked for") from None
            if tag == TAG_HELLO:
                pid, host = recv_json(self.comm, src, TAG_HELLO)
                self.info[src] = (int(pid), str(host))
            else:
                self._unexpected(src, tag)
        self._ready = True
        # workers whose process this one can see are watched (a fallback: mpiexec normally ends the job first)
        self.watched = {r: pid for r, (pid, host) in self.info.items() if host == self.host and _alive(pid)}
        if self.run_dir is not None:
            d = self.run_dir / WORKERS_DIR
            d.mkdir(exist_ok=True)
            for f in d.glob("rank-*.pid"):
                f.unlink(missing_ok=True)
            for r, (pid, host) in {0: (os.getpid(), self.host), **self.info}.items():
                (d / f"rank-{r}.pid").write_text(f"{pid} {host}\n")

    def _check_workers(self) -> None:
        for r, pid in self.watched.items():
            if not _alive(pid):
                # a launcher watching on this machine ends the job at once and names the cause with how the
                # rank ended: leave the error to it unless it is gone
                t0 = time.monotonic()
                while mpi_launch.launcher_watching() and time.monotonic() - t0 < LAUNCHER_WAIT:
                    time.sleep(0.05)
                raise WorkerError(f"worker rank {r} (pid {pid}) died")

    def _wait(self, stoppable: bool = False) -> tuple[int, int]:
        _probe(self.comm, MPI.ANY_SOURCE, self.status, 0.0005, 0.005,
               self._check_all if stoppable else self._check_workers, STOP_CHECK)
        return self.status.Get_source(), self.status.Get_tag()

    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise _StopAsked

    def _check_all(self) -> None:
        self._check_workers()
        self._check_stop()

    def _abandon(self, outstanding: int) -> None:
        """Cancel this call's chunks on every worker and take the ``outstanding`` answers still due, so
        that nothing is left in flight (a worker blocked sending a result, a stale result read later)."""
        msg = np.frombuffer(orjson.dumps(self.calls), dtype=np.uint8)
        reqs = [self.comm.Isend([msg, MPI.BYTE], dest=r, tag=TAG_CANCEL) for r in self.workers]
        while outstanding > 0:
            src, tag = self._wait()
            if tag != TAG_RESULT:
                self._unexpected(src, tag)
                continue
            buf = np.empty(self.status.Get_count(MPI.DOUBLE), dtype=np.float64)
            self.comm.Recv([buf, MPI.DOUBLE], source=src, tag=TAG_RESULT)
            if int(buf[:1].view(np.int64)[0]) >> 32 == self.calls:
                outstanding -= 1
        MPI.Request.Waitall(reqs)

    def _unexpected(self, src: int, tag: int) -> None:
        if tag == TAG_ERROR:
            raise WorkerError(str(recv_json(self.comm, src, TAG_ERROR)))
        _discard(self.comm, src, tag, self.status)  # a stray message: drop it

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores:
        if not self._ready:
            self._setup()
        self.calls += 1
        base = self.calls << 32
        weights = np.asarray(weights, dtype=np.float64)
        returns = np.empty((len(nets), len(weights), reps))
        steps = 0
        spans: list[tuple[int, int]] = []
        next_lo = 0
        sends: list[tuple[MPI.Request, np.ndarray]] = []
        busy = 0.0
        # chunks of at least CHUNK_SECONDS of work (so messages cost little), but at least 4 per worker
        floor = 1
        if self.net_seconds > 0:
            floor = max(1, min(round(CHUNK_SECONDS / self.net_seconds), len(nets) // (4 * len(self.workers))))

        def dispatch(r: int) -> None:
            nonlocal next_lo
            size = max(floor, -(-(len(nets) - next_lo) // (3 * len(self.workers))))
            lo, hi = next_lo, min(len(nets), next_lo + size)
            next_lo = hi
            buf = encode_chunk(base + len(spans), nets[lo:hi], weights, key, reps, max_steps)
            spans.append((lo, hi))
            sends.append((self.comm.Isend([buf, MPI.INT64_T], dest=r, tag=TAG_CHUNK), buf))

        for _ in range(PREFETCH):
            for r in self.workers:
                if next_lo < len(nets):
                    dispatch(r)
        done = 0
        stoppable = self.should_stop is not None
        try:
            while done < len(spans):
                src, tag = self._wait(stoppable)
                if tag != TAG_RESULT:
                    self._unexpected(src, tag)
                    continue
                buf = np.empty(self.status.Get_count(MPI.DOUBLE), dtype=np.float64)
                self.comm.Recv([buf, MPI.DOUBLE], source=src, tag=TAG_RESULT)
                cid, n_steps, ns = (int(x) for x in buf[:_RES_HEAD].view(np.int64))
                if cid >> 32 != self.calls:
                    continue
                lo, hi = spans[cid - base]
                returns[lo:hi] = buf[_RES_HEAD:].reshape(hi - lo, len(weights), reps)
                steps += n_steps
                busy += ns * 1e-9
                done += 1
                if next_lo < len(nets):
                    if stoppable:
                        self._check_stop()
                    dispatch(src)
        except _StopAsked:
            self._abandon(len(spans) - done)
            MPI.Request.Waitall([req for req, _ in sends])
            raise Interrupted("scoring on the MPI workers abandoned, a stop was asked for") from None
        MPI.Request.Waitall([req for req, _ in sends])
        if len(nets):
            self.net_seconds = busy / len(nets)
        return Scores(returns, steps)

    def close(self) -> None:
        shutdown_workers()


_stopped = False


def send_json(comm: MPI.Comm, obj: object, dest: int, tag: int) -> None:
    """A small message as JSON bytes (mpi4py's lower-case send would pickle it)."""
    data = np.frombuffer(orjson.dumps(obj), dtype=np.uint8)
    comm.Send([data, MPI.BYTE], dest=dest, tag=tag)


def recv_json(comm: MPI.Comm, source: int, tag: int) -> object:
    """The JSON message from ``source`` with ``tag`` (None for an empty one)."""
    status = MPI.Status()
    comm.Probe(source=source, tag=tag, status=status)
    buf = np.empty(status.Get_count(MPI.BYTE), dtype=np.uint8)
    comm.Recv([buf, MPI.BYTE], source=source, tag=tag)
    return orjson.loads(buf.tobytes()) if len(buf) else None


def shutdown_workers() -> None:
    """Tell every worker to leave its loop (rank 0; once; also at exit)."""
    global _stopped
    comm = MPI.COMM_WORLD
    if _stopped or comm.Get_rank() != 0 or MPI.Is_finalized():
        return
    _stopped = True
    empty = np.zeros(0, dtype=np.uint8)
    reqs = [comm.Isend([empty, MPI.BYTE], dest=r, tag=TAG_STOP) for r in range(1, comm.Get_size())]
    deadline = time.monotonic() + 5.0
    while reqs and time.monotonic() < deadline:
        reqs = [q for q in reqs if not q.Test()]
        if reqs:
            time.sleep(0.001)


# --- ranks 1..N -----------------------------------------------------------------------------
def _fault() -> tuple[int, int] | None:
    spec = os.environ.get("WANN_ENGINE_FAULT", "")
    try:
        rank, n = spec.split(":")
        return int(rank), int(n)
    except ValueError:
        return None


def worker_loop(comm: MPI.Comm | None = None) -> int:
    """Receive chunks from rank 0 and score them until told to stop; returns the exit code."""
    comm = comm or MPI.COMM_WORLD
    rank = comm.Get_rank()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # mpiexec forwards them to all ranks; rank 0 decides
    fault = _fault()
    task: Task | None = None
    scorer: LocalEvaluator | None = None
    status = MPI.Status()
    n_done = 0
    broken = False
    cancel = _Cancels(comm)
    while True:
        _probe(comm, 0, status, 0.002)
        tag = status.Get_tag()
        if tag == TAG_STOP:
            recv_json(comm, 0, TAG_STOP)
            return 0
        if tag == TAG_CANCEL:
            cancel.poll()
            continue
        if tag == TAG_CHUNK:
            buf = np.empty(status.Get_count(MPI.INT64_T), dtype=np.int64)
            comm.Recv([buf, MPI.INT64_T], source=0, tag=TAG_CHUNK)
            if broken:
                continue  # rank 0 is ending the run with the error already sent
            try:
                if scorer is None:
                    raise RuntimeError("chunk before setup")
                cid, nets, weights, key, reps, max_steps = decode_chunk(buf)
                cancel.call = cid >> 32
                if cancel.poll() >= cancel.call:
                    comm.Send([encode_result(cid, Scores(np.zeros(0), 0), 0.0), MPI.DOUBLE], dest=0, tag=TAG_RESULT)
                    continue
                if fault == (rank, n_done):
                    raise RuntimeError("injected fault (WANN_ENGINE_FAULT)")
                t0 = time.perf_counter()
                try:
                    scores = scorer.score(nets, weights, key, reps, max_steps)
                except Interrupted:  # a CANCEL came for this chunk's call
                    comm.Send([encode_result(cid, Scores(np.zeros(0), 0), 0.0), MPI.DOUBLE], dest=0, tag=TAG_RESULT)
                    continue
                out = encode_result(cid, scores, time.perf_counter() - t0)
            except Exception as e:
                _report(comm, rank, e)
                broken = True
                continue
            n_done += 1
            comm.Send([out, MPI.DOUBLE], dest=0, tag=TAG_RESULT)
        elif tag == TAG_SETUP:
            d = recv_json(comm, 0, TAG_SETUP)
            try:
                cfg = Config.from_dict(d)
                task = tasks.get(cfg.task, cfg)
            except Exception as e:
                _report(comm, rank, e)
                continue
            scorer = LocalEvaluator(task, 1, cancel.asked)  # a CANCEL is looked for between batches or steps
            send_json(comm, [os.getpid(), socket.gethostname()], 0, TAG_HELLO)
        else:
            _discard(comm, 0, tag, status)


class _Cancels:
    """A worker's record of CANCEL messages: ``poll()`` takes any waiting (a probe for that tag alone sees
    one sent after chunks still queued) and returns the highest call cancelled; ``asked()`` is the task's
    ``should_stop`` while it scores a chunk of call ``call`` (a probe at most every :data:`CANCEL_CHECK` s)."""

    def __init__(self, comm: MPI.Comm) -> None:
        self.comm, self.status = comm, MPI.Status()
        self.upto = 0  # calls count from 1
        self.call = 0
        self._last = 0.0

    def poll(self) -> int:
        while self.comm.Iprobe(source=0, tag=TAG_CANCEL, status=self.status):
            self.upto = max(self.upto, int(recv_json(self.comm, 0, TAG_CANCEL)))  # type: ignore[arg-type]
        return self.upto

    def asked(self) -> bool:
        now = time.monotonic()
        if now - self._last < CANCEL_CHECK:
            return False
        self._last = now
        return self.poll() >= self.call


def _report(comm: MPI.Comm, rank: int, e: Exception) -> None:
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    send_json(comm, f"worker rank {rank} ({socket.gethostname()}, pid {os.getpid()}) failed: {type(e).__name__}: {e}",
              0, TAG_ERROR)


def enter() -> int | None:
    """This process's part of an MPI job: None on rank 0 (go on and run the search), else run the
    worker loop and return its exit code."""
    comm = MPI.COMM_WORLD
    if comm.Get_size() < 2:
        return None
    if comm.Get_rank() == 0:
        atexit.register(shutdown_workers)
        return None
    return worker_loop(comm)

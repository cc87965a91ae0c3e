"""A run's life in one engine process: :class:`Session` (make or reopen the run directory, lock it, run,
close) around :class:`Runner` (the generation loop: evaluation, events, champion files, checkpoints,
control requests and signals).

``wann-engine run`` and ``resume`` are, after argument parsing::

    with Session.create(runs_dir, name, cfg) as s:     with Session.resume(load(run_dir)) as s:
        return s.run()                                     return s.run()

Everything that can be refused is checked before anything is written: a new run is built in
``RUNS/.new/`` and renamed into place (:class:`rundir.NewRun`); a resumed run's config and checkpoint are
read and checked completely by :func:`load` before its lock, ``control.json`` or events are touched.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from . import __version__, control, limits, netfile, ranking, rundir, tasks
from .config import Config, ConfigError
from .evaluators import Evaluator, LocalEvaluator, make_evaluator
from .events import POPULATION, POPULATION_SECONDS, PROGRESS_SECONDS, EventWriter, repair_tail
from .exits import Exit
from .search import Search, Stats
from .tasks import Interrupted, Task

Progress = Callable[[dict[str, Any]], None]


class StopFlags:
    """What was asked of the engine by signal: ``stop`` (the signal's number, 0 = none) and ``want``
    (``pause`` / ``run``, consumed at the next boundary). Installed (:class:`Signals`) for a session;
    a bare instance is a runner without signal handling (tests, benchmarks)."""

    def __init__(self) -> None:
        self.stop = 0
        self.want: str | None = None


class Signals(StopFlags):
    """SIGTERM, SIGINT and SIGHUP ask for a graceful stop, SIGUSR1/SIGUSR2 for pause/continue.

    The first stop is acknowledged at once on stderr. SIGHUP (the terminal is gone: an SSH link dropped)
    first moves stdout and stderr to the run's ``engine.log``, so the rest of the run's output, and the
    stop itself, never fail on a dead terminal.
    """

    _STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self) -> None:
        super().__init__()
        self.log: Path | None = None  # where output goes after SIGHUP (set once the run folder exists)
        self._old: dict[int, Any] = {}

    def install(self) -> Signals:
        for sig in self._STOPS:
            self._old[sig] = signal.signal(sig, self._stop)
        self._old[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._pause)
        self._old[signal.SIGUSR2] = signal.signal(signal.SIGUSR2, self._cont)
        return self

    def restore(self) -> None:
        for sig, fn in self._old.items():
            signal.signal(sig, fn)
        self._old.clear()

    def _stop(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP and self.log is not None:
            try:
                send_output_to(self.log)
            except OSError:
                pass
        if not self.stop:
            self.stop = signum
            name = signal.Signals(signum).name
            _say(f"wann-engine: stopping… ({name}): the current generation is dropped, the last complete "
                 "one is checkpointed; continue with `wann-engine resume`")

    def _pause(self, *_: Any) -> None:
        self.want = "pause"

    def _cont(self, *_: Any) -> None:
        self.want = "run"


def _say(line: str) -> None:
    """One line on stderr that never raises (the terminal may be gone)."""
    try:
        os.write(2, (line + "\n").encode())
    except OSError:
        pass


def _log_traceback(log: Path, gen: int) -> None:
    """Append the current exception's traceback to the run's engine.log (the terminal gets one line;
    the console's log view shows this), never raising."""
    import traceback

    try:
        with open(log, "a") as f:
            f.write(f"--- run failed at generation {gen} ({time.strftime('%Y-%m-%d %H:%M:%S')}) ---\n")
            f.write(traceback.format_exc())
    except OSError:
        pass


def send_output_to(log: Path) -> None:
    """Send this process's stdout/stderr to ``log`` (appended): a detached engine, or a dead terminal."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


#: Timed checkpoints wait at least this many times as long as the last one took to write, so that writing
#: them stays under about 5 % of a run's wall time whatever the population's size (``checkpoint_seconds``
#: is the shortest interval).
CHECKPOINT_COST_FACTOR = 20.0


class Runner:
    """The generation loop of one run directory, around a :class:`Search`.

    Each generation: ``ask`` the search, score the networks with the evaluator, ``tell`` the returns,
    write the ``generation`` event and, when the best-ever changed, the champion files. Checkpoints go
    out every ``checkpoint_seconds`` (or ``checkpoint_every`` generations) and always on pause, stop and
    finish. Between generations it honours pause / continue / stop (``control.json`` and signals); a stop
    asked for during a generation abandons it (:class:`tasks.Interrupted`, see ``should_stop``) and the
    checkpoint keeps the last complete generation, so a resume redoes exactly the dropped one.

    ``elapsed``, ``episodes`` and ``env_steps`` continue the totals of earlier sessions (``counters``,
    from the checkpoint). The runner writes events but not ``run_start``/``error``: :class:`Session` does.
    """

    def __init__(self, path: Path, cfg: Config, task: Task, search: Search, evaluator: Evaluator | None = None,
                 progress: Progress | None = None, flags: StopFlags | None = None,
                 counters: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.cfg = cfg
        self.task = task
        self.search = search
        self.flags = flags if flags is not None else StopFlags()
        self.evaluator = evaluator if evaluator is not None else LocalEvaluator(task, cfg.threads)
        self.progress = progress
        self.events = EventWriter(self.path / rundir.EVENTS)
        self.weights = np.asarray(cfg.weights, dtype=np.float64)
        counters = counters or {}
        self.elapsed_before = float(counters.get("elapsed", 0.0))  # wall time of earlier sessions of this run
        self.episodes = int(counters.get("episodes", 0))
        self.env_steps = int(counters.get("env_steps", 0))
        self.t_start = time.monotonic()
        self.last_checkpoint = time.monotonic()
        self.checkpoint_cost = 0.0  # seconds the last checkpoint took to write
        self.stopped_by_signal = False
        self._file_checked = 0.0
        self._file_stop = False
        self._population_t: float | None = None  # when a generation event last carried the population
        self._due = False  # a checkpoint follows the generation just written
        self._gen_t0 = time.monotonic()  # when the current generation began
        self._phase = "scoring"
        self._progress_t = 0.0  # when the last progress event was written

    @property
    def elapsed(self) -> float:
        """Wall time of the run so far, over all its sessions."""
        return self.elapsed_before + time.monotonic() - self.t_start

    # --- one generation ---------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self._gen_t0, self._phase = time.monotonic(), "scoring"
        nets = self.search.ask(self.should_stop)
        moo = self.search.last_moo if self.search.gen > 0 else "initial"
        key = self.search.eval_key()
        t_eval = time.perf_counter()
        scores = self.evaluator.score(nets, self.weights, key, self.cfg.alg_nReps, self.cfg.max_steps)
        eval_time = time.perf_counter() - t_eval
        # the re-test, before tell: a stop during it abandons the whole generation (undo_ask), as one in scoring
        pick, rseed = self.search.retest_plan(scores.returns)
        retest = None
        steps = scores.steps
        episodes = scores.returns.size
        if len(pick):
            self._phase = "retest"
            rt = self.evaluator.score([nets[i] for i in pick.tolist()], self.weights, (rseed,), self.cfg.retest_reps,
                                      self.cfg.max_steps)
            retest = (pick, rt.returns, rseed)
            steps += rt.steps
            episodes += rt.returns.size
        stats = self.search.tell(scores.returns, retest)
        if stats.champion_changed:
            self._write_champion()
        gen_time = time.perf_counter() - t0
        self.episodes += episodes
        self.env_steps += steps
        self._due = self.checkpoint_due()
        now = time.monotonic()
        population = (self._population_t is None or now - self._population_t >= POPULATION_SECONDS
                      or self._due or self._halt_wanted())
        if population:
            self._population_t = now
        ev = self.events.emit("generation", **self._generation_fields(stats, moo, gen_time, eval_time, steps,
                                                                      episodes, population))
        return ev

    def _halt_wanted(self) -> bool:
        """A pause or stop is asked for: the generation just finished is the last before a boundary."""
        return bool(self.flags.stop) or self.flags.want == "pause" or control.wanted(self.path) in ("stop", "pause")

    def within(self, done: int, total: int) -> None:
        """The evaluator's report of ``done`` of ``total`` episodes of the current phase: a ``progress``
        event (and a progress report) once the generation has run :data:`PROGRESS_SECONDS`, then at most
        that often. Called often (gym tasks: every batched step), so it returns at once otherwise."""
        now = time.monotonic()
        if now - self._gen_t0 < PROGRESS_SECONDS or now - self._progress_t < PROGRESS_SECONDS:
            return
        self._progress_t = now
        ev = self.events.emit("progress", gen=self.search.gen, phase=self._phase, done=int(done), total=int(total),
                              gen_elapsed=now - self._gen_t0)
        self._report(ev)

    def _generation_fields(self, st: Stats, moo: str, gen_time: float, eval_time: float, steps: int,
                           episodes: int, population: bool = True) -> dict[str, Any]:
        """The generation event's fields; the population-sized ones (:data:`events.POPULATION`) only with
        ``population``."""
        s = self.search
        best_peak = float(np.max(s.best_per_weight)) if s.best_per_weight is not None else None
        fields: dict[str, Any] = {
            "gen": st.gen,
            "evaluations": s.evaluations,
            "episodes": self.episodes,
            "fit_median": float(np.median(st.mean)),
            "fit_mean": float(np.mean(st.mean)),
            "fit_max": float(np.max(st.mean)),
            "best_mean": s.best_mean,
            "best_peak": best_peak,
            "best_conns": s.best.network(self.cfg.keep_disabled_hidden).n_conns if s.best is not None else 0,
            "best_nodes": len(s.best.node_id) if s.best is not None else 0,
            "best_gen": s.best_gen,
            "best_per_weight": s.best_per_weight,
            "pop_best_per_weight": st.per_weight.max(axis=0),
            "nodes_median": float(np.median(st.nodes)),
            "conns_median": float(np.median(st.conns)),
            "ranking": moo,
            "elapsed": self.elapsed,
            "gen_time": gen_time,
            "eval_time": eval_time,
            "evals_per_s": len(st.mean) / gen_time if gen_time > 0 else 0.0,
            "episodes_per_s": episodes / gen_time if gen_time > 0 else 0.0,
            "env_steps": steps,
            "env_steps_per_s": steps / gen_time if gen_time > 0 else 0.0,
        }
        if population:
            obj = np.stack([st.mean, st.peak, st.conns.astype(float)], 1)
            front = np.flatnonzero(ranking.fronts(ranking.objectives(st.mean, st.peak, st.conns, False)) == 0)
            front_peak = np.flatnonzero(ranking.fronts(ranking.objectives(st.mean, st.peak, st.conns, True)) == 0)
            fields.update(zip(POPULATION, (obj, front, front_peak), strict=True))
        if self.cfg.retest_top > 0:
            fields.update(self._retest_fields(st))
        if st.restarted:
            fields["restarts"] = list(st.restarted)
        if st.champion_changed:
            champ = s.champ if self.cfg.retest_top > 0 else s.best
            if champ is not None:
                fields["champion"] = champ.to_dict()
        return fields

    def _retest_fields(self, st: Stats) -> dict[str, Any]:
        """The re-tested champion (``retest_*``; ``best_*`` stay the raw ``alg_nReps``-episode figures) and
        this generation's re-tests (``gen_retest_*``)."""
        s, keep = self.search, self.cfg.keep_disabled_hidden
        has = s.champ is not None
        return {
            "retest_mean": s.champ_mean if has else None,
            "retest_episodes": self.cfg.retest_reps * len(self.cfg.weights),  # per network, all weights
            "retest_per_weight": s.champ_per_weight,
            "retest_gen": s.champ_gen if has else None,
            "retest_raw_mean": s.champ_raw_mean if has else None,
            "retest_conns": s.champ.network(keep).n_conns if has else 0,
            "retest_nodes": len(s.champ.node_id) if has else 0,
            "retest_seed": s.champ_seed if has else None,
            "gen_retest_max": float(np.max(st.retest_means)) if st.retest_means is not None else None,
            "gen_retested": 0 if st.retested is None else len(st.retested),
        }

    def _write_champion(self) -> None:
        """``champion.json`` and ``champion.out``: the champion (the best re-tested network, or with
        ``retest_top=0`` the best raw mean) written :meth:`Genome.expressed`, so every reader scores the
        network the run scored whatever its semantics. ``retest`` says how to replay its score:
        ``wann-engine eval champion.json --seed SEED --episodes EPISODES_PER_WEIGHT``."""
        s, cfg = self.search, self.cfg
        keep = cfg.keep_disabled_hidden
        meta: dict[str, Any] = {"weights": list(cfg.weights), "run": self.path.name, "keep_disabled_hidden": keep}
        if cfg.retest_top > 0 and s.champ is not None:
            champ = s.champ
            meta.update(fitness=s.champ_mean, per_weight=s.champ_per_weight, generation=s.champ_gen,
                        fitness_raw=s.champ_raw_mean,
                        retest={"mean": s.champ_mean, "episodes": cfg.retest_reps * len(cfg.weights),
                                "episodes_per_weight": cfg.retest_reps, "seed": s.champ_seed})
        elif s.best is not None:
            champ = s.best
            meta.update(fitness=s.best_mean, per_weight=s.best_per_weight, generation=s.best_gen,
                        fitness_raw=s.best_mean)
        else:
            return
        g = champ.expressed(keep)
        netfile.write_json(g, self.path / rundir.CHAMPION_JSON, self.task, **meta)
        netfile.write_out(g, self.path / rundir.CHAMPION_OUT)

    def checkpoint(self) -> None:
        t0 = time.monotonic()
        self.events.sync()
        size = rundir.save_checkpoint(self.path, self.search.to_state(), {
            "elapsed": self.elapsed, "episodes": self.episodes, "env_steps": self.env_steps})
        self.last_checkpoint = time.monotonic()
        self.checkpoint_cost = self.last_checkpoint - t0
        self.events.emit("checkpoint", gen=self.search.gen, bytes=size, file=rundir.CHECKPOINT)

    def checkpoint_due(self) -> bool:
        if self.search.gen >= self.cfg.maxGen:
            return True
        if self.cfg.checkpoint_every:
            return self.search.gen % self.cfg.checkpoint_every == 0
        # a large population's checkpoint takes a while to write: space them so writing stays a small share
        interval = max(self.cfg.checkpoint_seconds, CHECKPOINT_COST_FACTOR * self.checkpoint_cost)
        return time.monotonic() - self.last_checkpoint >= interval

    def should_stop(self) -> bool:
        """A stop was asked for (signal, or ``control.json``: looked at no more than 10 times a second).
        The evaluator calls this between batches of a generation."""
        if self.flags.stop:
            return True
        now = time.monotonic()
        if now - self._file_checked >= 0.1:
            self._file_checked = now
            self._file_stop = control.wanted(self.path) == "stop"
        return self._file_stop

    def _report(self, ev: dict[str, Any]) -> None:
        if self.progress is None:
            return
        try:
            self.progress(ev)
        except OSError:  # the terminal or pipe is gone: the run goes on without progress lines
            self.progress = None

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> str:
        """Run to ``maxGen`` or until asked to stop. Returns "finished" or "stopped"."""
        while self.search.gen < self.cfg.maxGen:
            if self._boundary() == "stop":
                return self._stop()
            try:
                ev = self.step()
            except Interrupted:
                self.search.undo_ask()  # (a no-op when ask itself was interrupted)
                return self._stop()
            self._report(ev)
            if self._due:
                self.checkpoint()
        extra = {"retest_mean": self.search.champ_mean if self.search.champ is not None else None,
                 "retest_episodes": self.cfg.retest_reps * len(self.cfg.weights)} if self.cfg.retest_top > 0 else {}
        self.events.emit("finished", gen=self.search.gen, best_mean=self.search.best_mean,
                         elapsed=self.elapsed, **extra)
        return "finished"

    def _stop(self) -> str:
        self.stopped_by_signal = bool(self.flags.stop)
        self.checkpoint()
        self.events.emit("stopped", gen=self.search.gen)
        return "stopped"

    def _boundary(self) -> str:
        """Honour control requests between generations; blocks while paused."""
        paused = False
        sig = self.flags
        while True:
            if sig.stop:
                return "stop"
            want = sig.want or control.wanted(self.path)
            if sig.want:  # a signal overrides the file once, then the file is the record
                control.request(self.path, sig.want)  # type: ignore[arg-type]
                sig.want = None
            if want == "stop":
                return "stop"
            if want == "pause":
                if not paused:
                    self.checkpoint()
                    self.events.emit("paused", gen=self.search.gen)
                    self._report({"type": "paused", "gen": self.search.gen})
                    paused = True
                time.sleep(0.2)
                continue
            if paused:
                self.events.emit("resumed", gen=self.search.gen)
                self._report({"type": "resumed", "gen": self.search.gen})
            return "run"

    def close(self) -> None:
        self.events.close()


def start_fields(path: Path, cfg: Config, task: Task, resumed_from: int | None) -> dict[str, Any]:
    return {
        "name": path.name,
        "config": cfg.to_dict(),
        "task": task.name,
        "n_inputs": task.n_inputs,
        "n_outputs": task.n_outputs,
        "input_names": list(task.input_names),
        "output_names": list(task.output_names),
        "weights": list(cfg.weights),
        "total_generations": cfg.maxGen,
        "resumed_from": resumed_from,
        "engine_version": __version__,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def prepare(cfg: Config) -> Task:
    """The run's task, once the run is known to be possible here: the task exists and the population
    fits in memory (ConfigError with the estimate otherwise). Writes nothing."""
    task = tasks.get(cfg.task, cfg)
    need = Search.memory_estimate(cfg, task.n_inputs, task.n_outputs)
    have = limits.memory_bytes()
    if need > have:
        per, size = need / cfg.popSize, limits.size_text
        raise ConfigError(f"popSize={cfg.popSize}: the search needs about {size(need)} of memory at the start "
                          f"(about {size(per)} per individual), more than the {size(have)} this machine has")
    return task


def _has_generations(path: Path) -> bool:
    try:
        with open(path / rundir.EVENTS, "rb") as f:
            return any(b'"type":"generation"' in line for line in f)
    except OSError:
        return False


def _stamp(path: Path) -> tuple[tuple[int, int, int] | None, ...]:
    """What a resume read, as (inode, size, mtime) of the config and the checkpoint."""
    out = []
    for name in (rundir.CONFIG, rundir.CHECKPOINT):
        try:
            st = os.stat(path / name)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass
class SavedRun:
    """A run directory as read for a resume, every part checked: its config, task and search (rebuilt from
    the checkpoint, or new for a run killed before its first one) and the totals of earlier sessions."""

    path: Path
    cfg: Config
    task: Task
    search: Search
    counters: dict[str, Any]
    stamp: tuple[Any, ...]


def load(path: Path) -> SavedRun:
    """Read and check everything a resume needs; writes nothing (RunDirError or ConfigError otherwise)."""
    path = Path(path)
    if not path.is_dir():
        raise rundir.RunDirError(f"{path}: no such run directory")
    stamp = _stamp(path)
    cfg = rundir.read_config(path)
    for name in (rundir.EVENTS, rundir.CHECKPOINT, rundir.CONTROL, rundir.LOCK):
        f = path / name
        if (f.exists() or f.is_symlink()) and not f.is_file():
            raise rundir.RunDirError(f"{f}: not a regular file; the run cannot be continued as it is")
    task = prepare(cfg)
    if not (path / rundir.CHECKPOINT).exists() and not _has_generations(path):
        # killed before its first checkpoint: starting over is the exact continuation
        return SavedRun(path, cfg, task, Search(cfg, task.n_inputs, task.n_outputs), {}, stamp)
    doc = rundir.load_checkpoint(path)
    try:
        search = Search.from_state(cfg, task.n_inputs, task.n_outputs, doc.get("search"))
        counters = rundir.checkpoint_counters(doc)
    except ValueError as e:
        raise rundir.RunDirError(f"{path / rundir.CHECKPOINT}: damaged checkpoint ({e})") from None
    return SavedRun(path, cfg, task, search, counters, stamp)


def _raise_user_error(e: BaseException) -> None:
    """A file the run needs that cannot be written (permissions, a full disk): one line, not a traceback."""
    if isinstance(e, OSError):
        raise rundir.RunDirError(f"cannot write {e.filename or 'the run directory'}: {e.strerror or e}") from None


class Session:
    """One engine process's hold on one run: the lock, the signal handlers, the evaluator and the
    :class:`Runner`. Made by :meth:`create` (a new run) or :meth:`resume`; :meth:`run` runs it and returns
    the exit code; leaving the ``with`` block closes the evaluator and the events and releases the lock.

    ``run()`` writes ``run_start`` (with ``resumed_from``), the generation-0 checkpoint of a new run, and
    an ``error`` event if the run fails. Exit codes: 0 finished, or stopped through ``control.json``;
    130 stopped by a signal (Ctrl-C, SIGTERM, SIGHUP); 1 the run failed (the last checkpoint stays).
    """

    def __init__(self, path: Path, cfg: Config, task: Task, search: Search, lock: rundir.Lock, signals: Signals,
                 resumed_from: int | None, counters: dict[str, Any], progress: Progress | None) -> None:
        self.path, self.cfg, self.task, self.lock, self.signals = path, cfg, task, lock, signals
        self.resumed_from = resumed_from
        self.runner: Runner | None = None
        self.evaluator: Evaluator | None = None
        try:
            self.runner = Runner(path, cfg, task, search, progress=progress, flags=signals, counters=counters)
            self.evaluator = make_evaluator(cfg, task, path, should_stop=self.runner.should_stop,
                                            progress=self.runner.within)
            self.runner.evaluator = self.evaluator
        except BaseException:
            self.close()
            raise

    @property
    def search(self) -> Search:
        assert self.runner is not None
        return self.runner.search

    @classmethod
    def create(cls, runs_dir: Path, name: str, cfg: Config, progress: Progress | None = None,
               detached: bool = False) -> Session:
        """A new run ``runs_dir/name``: built aside and renamed into place (config, control file, lock),
        so it appears complete or not at all. RunDirError if the name is taken."""
        task = prepare(cfg)
        signals = Signals().install()
        lock: rundir.Lock | None = None
        new: rundir.NewRun | None = None
        try:
            new = rundir.NewRun(runs_dir, name)
            lock = rundir.Lock(new.path).acquire()
            rundir.write_config(new.path, cfg)
            control.request(new.path, "run")
            path = new.commit()
            lock.file = path / rundir.LOCK
            signals.log = path / rundir.LOG
            if detached:
                send_output_to(signals.log)
        except BaseException as e:
            if lock is not None:
                lock.release()
            if new is not None:
                new.discard()
            signals.restore()
            _raise_user_error(e)
            raise
        return cls._open(path, cfg, task, Search(cfg, task.n_inputs, task.n_outputs), lock, signals, None, {},
                         progress)

    @classmethod
    def resume(cls, saved: SavedRun | Path, progress: Progress | None = None, detached: bool = False) -> Session:
        """Continue a run from its checkpoint (``saved``: what :func:`load` read, or the run directory).
        Nothing is written unless the whole run checks out and its lock is free."""
        if not isinstance(saved, SavedRun):
            saved = load(saved)
        path = saved.path
        signals = Signals().install()
        lock: rundir.Lock | None = None
        try:
            lock = rundir.Lock(path).acquire()
            if _stamp(path) != saved.stamp:  # changed between reading and locking: read it again
                saved = load(path)
            rundir.remove_stale_temp_files(path)
            repair_tail(path / rundir.EVENTS)
            control.request(path, "run")
            signals.log = path / rundir.LOG
            if detached:
                send_output_to(signals.log)
        except BaseException as e:
            if lock is not None:
                lock.release()
            signals.restore()
            _raise_user_error(e)
            raise
        return cls._open(path, saved.cfg, saved.task, saved.search, lock, signals, saved.search.gen,
                         saved.counters, progress)

    @classmethod
    def _open(cls, path: Path, cfg: Config, task: Task, search: Search, lock: rundir.Lock, signals: Signals,
              resumed_from: int | None, counters: dict[str, Any], progress: Progress | None) -> Session:
        try:
            return cls(path, cfg, task, search, lock, signals, resumed_from, counters, progress)
        except BaseException:
            lock.release()
            signals.restore()
            raise

    def run(self) -> int:
        """Run until finished or stopped; the exit code (see the class docstring)."""
        r = self.runner
        assert r is not None
        try:
            r.events.emit("run_start", **start_fields(self.path, self.cfg, self.task, self.resumed_from))
            if self.resumed_from is None:
                r.checkpoint()  # generation 0 can be resumed too
            outcome = r.run()
        except Exception as e:  # the run failed: say so in the stream, keep the last checkpoint
            gen = r.search.gen
            r.events.emit("error", gen=gen, message=f"{type(e).__name__}: {e}")
            _log_traceback(self.path / rundir.LOG, gen)
            _say(f"wann-engine: error: run failed at generation {gen}: {type(e).__name__}: {e}")
            return Exit.FAILED
        if outcome == "stopped" and r.stopped_by_signal:
            return Exit.INTERRUPTED
        return Exit.OK

    def close(self) -> None:
        try:
            if self.evaluator is not None:
                self.evaluator.close()
        finally:
            if self.runner is not None:
                self.runner.close()
            self.lock.release()
            self.signals.restore()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

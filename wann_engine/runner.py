"""The generation loop around a Search: evaluation, events, champion files, checkpoints, control."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, control, netfile, ranking, rundir
from .config import Config
from .evaluators import Evaluator, LocalEvaluator
from .events import EventWriter, repair_tail
from .search import Search, Stats
from .tasks import Task


class Stopped(Exception):
    """The run was asked to stop; it has written a checkpoint."""


class _Signals:
    """Turns SIGTERM/SIGINT into a graceful stop and SIGUSR1/2 into pause/continue."""

    def __init__(self) -> None:
        self.stop = False
        self.want: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        for sig, fn in ((signal.SIGTERM, self._stop), (signal.SIGINT, self._stop),
                        (signal.SIGUSR1, self._pause), (signal.SIGUSR2, self._cont)):
            self._old[sig] = signal.signal(sig, fn)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, fn in self._old.items():
            signal.signal(sig, fn)

    def _stop(self, *_: Any) -> None:
        self.stop = True

    def _pause(self, *_: Any) -> None:
        self.want = "pause"

    def _cont(self, *_: Any) -> None:
        self.want = "run"


Progress = Callable[[dict[str, Any]], None]


class Runner:
    def __init__(self, path: Path, cfg: Config, task: Task, search: Search, evaluator: Evaluator | None = None,
                 progress: Progress | None = None) -> None:
        self.path = Path(path)
        self.cfg = cfg
        self.task = task
        self.search = search
        self.evaluator = evaluator if evaluator is not None else LocalEvaluator(task, cfg.threads)
        self.progress = progress
        self.events = EventWriter(self.path / rundir.EVENTS)
        self.weights = np.asarray(cfg.weights, dtype=np.float64)
        self.elapsed_before = 0.0  # wall time of earlier sessions of this run (from the checkpoint)
        self.t_start = time.monotonic()
        self.last_checkpoint = time.monotonic()
        self.episodes = 0
        self.env_steps = 0

    @property
    def elapsed(self) -> float:
        """Wall time of the run so far, over all its sessions."""
        return self.elapsed_before + time.monotonic() - self.t_start

    # --- one generation ---------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        nets = self.search.ask()
        moo = self.search.last_moo if self.search.gen > 0 else "initial"
        key = self.search.eval_key()
        t_eval = time.perf_counter()
        scores = self.evaluator.score(nets, self.weights, key, self.cfg.alg_nReps, self.cfg.max_steps)
        eval_time = time.perf_counter() - t_eval
        stats = self.search.tell(scores.returns)
        if stats.best_changed:
            self._write_champion()
        gen_time = time.perf_counter() - t0
        episodes = scores.returns.size
        self.episodes += episodes
        self.env_steps += scores.steps
        ev = self.events.emit("generation", **self._generation_fields(stats, moo, gen_time, eval_time, scores.steps,
                                                                      episodes))
        return ev

    def _generation_fields(self, st: Stats, moo: str, gen_time: float, eval_time: float, steps: int,
                           episodes: int) -> dict[str, Any]:
        s = self.search
        obj = np.stack([st.mean, st.peak, st.conns.astype(float)], 1)
        front = np.flatnonzero(ranking.fronts(ranking.objectives(st.mean, st.peak, st.conns, False)) == 0)
        front_peak = np.flatnonzero(ranking.fronts(ranking.objectives(st.mean, st.peak, st.conns, True)) == 0)
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
            "objectives": obj,
            "front": front,
            "front_peak": front_peak,
            "elapsed": self.elapsed,
            "gen_time": gen_time,
            "eval_time": eval_time,
            "evals_per_s": len(st.mean) / gen_time if gen_time > 0 else 0.0,
            "episodes_per_s": episodes / gen_time if gen_time > 0 else 0.0,
            "env_steps": steps,
            "env_steps_per_s": steps / gen_time if gen_time > 0 else 0.0,
        }
        if st.best_changed and s.best is not None:
            fields["champion"] = s.best.to_dict()
        return fields

    def _write_champion(self) -> None:
        s = self.search
        meta = {"fitness": s.best_mean, "per_weight": s.best_per_weight, "weights": list(self.cfg.weights),
                "generation": s.best_gen, "run": self.path.name}
        netfile.write_json(s.best, self.path / rundir.CHAMPION_JSON, self.task, **meta)
        netfile.write_out(s.best, self.path / rundir.CHAMPION_OUT)

    def checkpoint(self) -> None:
        self.events.sync()
        size = rundir.save_checkpoint(self.path, self.search.to_state(), {
            "elapsed": self.elapsed, "episodes": self.episodes, "env_steps": self.env_steps})
        self.last_checkpoint = time.monotonic()
        self.events.emit("checkpoint", gen=self.search.gen, bytes=size, file=rundir.CHECKPOINT)

    def checkpoint_due(self) -> bool:
        if self.search.gen >= self.cfg.maxGen:
            return True
        if self.cfg.checkpoint_every:
            return self.search.gen % self.cfg.checkpoint_every == 0
        return time.monotonic() - self.last_checkpoint >= self.cfg.checkpoint_seconds

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> str:
        """Run to ``maxGen`` or until asked to stop. Returns "finished" or "stopped"."""
        with _Signals() as sig:
            while self.search.gen < self.cfg.maxGen:
                if self._boundary(sig) == "stop":
                    self.checkpoint()
                    self.events.emit("stopped", gen=self.search.gen)
                    return "stopped"
                ev = self.step()
                if self.progress:
                    self.progress(ev)
                if self.checkpoint_due():
                    self.checkpoint()
            self.events.emit("finished", gen=self.search.gen, best_mean=self.search.best_mean,
                             elapsed=self.elapsed)
            return "finished"

    def _boundary(self, sig: _Signals) -> str:
        """Honour control requests between generations; blocks while paused."""
        paused = False
        while True:
            if sig.stop:
                return "stop"
            want = sig.want or control.wanted(self.path)
            if sig.want:  # a signal overrides the file once, then the file is the record
                control.request(self.path, sig.want)
                sig.want = None
            if want == "stop":
                return "stop"
            if want == "pause":
                if not paused:
                    self.checkpoint()
                    self.events.emit("paused", gen=self.search.gen)
                    if self.progress:
                        self.progress({"type": "paused", "gen": self.search.gen})
                    paused = True
                time.sleep(0.2)
                continue
            if paused:
                self.events.emit("resumed", gen=self.search.gen)
                if self.progress:
                    self.progress({"type": "resumed", "gen": self.search.gen})
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


def open_new(runs_dir: Path, name: str, cfg: Config, task: Task) -> tuple[Path, rundir.Lock, Search]:
    path = rundir.create(runs_dir, name)
    lock = rundir.Lock(path).acquire()
    rundir.write_config(path, cfg)
    control.request(path, "run")
    return path, lock, Search(cfg, task.n_inputs, task.n_outputs)


def _has_generations(path: Path) -> bool:
    try:
        with open(path / rundir.EVENTS, "rb") as f:
            return any(b'"type":"generation"' in line for line in f)
    except OSError:
        return False


def open_existing(
    path: Path, task_for: Callable[[str, Config], Task]
) -> tuple[Config, Task, rundir.Lock, Search, dict]:
    """Lock a run directory and rebuild its search from the checkpoint; nothing is written
    until everything has been read and checked."""
    path = Path(path)
    if not path.is_dir():
        raise rundir.RunDirError(f"{path}: no such run directory")
    cfg = rundir.read_config(path)
    task = task_for(cfg.task, cfg)
    lock = rundir.Lock(path).acquire()
    try:
        if not (path / rundir.CHECKPOINT).exists() and not _has_generations(path):
            # killed before its first checkpoint: starting over is the exact continuation
            doc: dict[str, Any] = {}
            search = Search(cfg, task.n_inputs, task.n_outputs)
        else:
            doc = rundir.load_checkpoint(path)
            try:
                search = Search.from_state(cfg, task.n_inputs, task.n_outputs, doc["search"])
            except (KeyError, TypeError, ValueError) as e:
                raise rundir.RunDirError(f"{path / rundir.CHECKPOINT}: damaged checkpoint ({e})") from None
        rundir.remove_stale_temp_files(path)
        cut = repair_tail(path / rundir.EVENTS)
        control.request(path, "run")
    except BaseException:
        lock.release()
        raise
    return cfg, task, lock, search, {**doc, "repaired_bytes": cut}

"""Where a generation's networks are scored: in this process (threads) or on MPI workers.

An evaluator has ``score(nets, weights, key, reps, max_steps) -> Scores``. The
scores of a network must depend only on (network, weights, key, reps,
max_steps), never on which other networks share the call or which process runs
it: that is what makes runs independent of the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import Config
from .genome import Network
from .tasks import Interrupted, Scores, Task


class Evaluator(Protocol):
    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores: ...

    def close(self) -> None: ...


class LocalEvaluator:
    """Scores in this process with the task's own threads.

    With ``should_stop``, a generation can be abandoned part-way (raising :class:`tasks.Interrupted`): a
    task that checks it between its own steps (``checks_stop``, the gym tasks) gets it; other tasks are
    given the networks in batches of about ``BATCH_SECONDS`` of work, and it is checked between batches.
    Batching never changes a score (see the module docstring), only when a stop can be noticed.
    """

    BATCH_SECONDS = 0.25

    def __init__(self, task: Task, threads: int, should_stop: Callable[[], bool] | None = None) -> None:
        self.task = task
        self.threads = threads
        self.should_stop = should_stop
        self._batch = 0  # networks per batch, from the time per network measured so far (0: not yet)
        if should_stop is not None and getattr(task, "checks_stop", False):
            task.should_stop = should_stop  # type: ignore[attr-defined]

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores:
        stop = self.should_stop
        if stop is None or getattr(self.task, "checks_stop", False):
            return self.task.score(nets, weights, key, reps, max_steps, self.threads)
        parts, steps, lo = [], 0, 0
        while lo < len(nets) or not parts:
            if stop():
                raise Interrupted("scoring abandoned, a stop was asked for")
            hi = min(len(nets), lo + (self._batch or 64))
            t0 = time.perf_counter()
            s = self.task.score(nets[lo:hi], weights, key, reps, max_steps, self.threads)
            per_net = (time.perf_counter() - t0) / max(hi - lo, 1)
            self._batch = int(min(max(self.BATCH_SECONDS / max(per_net, 1e-9), 16), 1 << 20))
            parts.append(s.returns)
            steps += s.steps
            lo = hi
        return Scores(np.concatenate(parts) if len(parts) > 1 else parts[0], steps)

    def close(self) -> None:
        pass


def make_evaluator(cfg: Config, task: Task, run_dir: Path | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Evaluator:
    """MPI workers when this process is rank 0 of an MPI job (see mpi_launch), else threads here.
    ``run_dir`` receives ``workers/rank-<n>.pid`` files under MPI; ``should_stop`` lets a local
    evaluation abandon a long generation (under MPI a stop waits for the generation's end)."""
    from .mpi_launch import in_mpi

    if in_mpi():
        from .mpi_eval import MpiEvaluator, world_size

        if world_size() > 1:
            return MpiEvaluator(cfg, task, run_dir)
    return LocalEvaluator(task, cfg.threads, should_stop)

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

    With ``progress``, it is told ``(episodes done, episodes total)`` of each ``score`` call as it goes: by
    the task between its steps (``checks_stop`` tasks, through ``task.on_episodes``), else between batches.
    """

    BATCH_SECONDS = 0.25

    def __init__(self, task: Task, threads: int, should_stop: Callable[[], bool] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.task = task
        self.threads = threads
        self.should_stop = should_stop
        self.progress = progress
        self._batch = 0  # networks per batch, from the time per network measured so far (0: not yet)
        if getattr(task, "checks_stop", False):
            if should_stop is not None:
                task.should_stop = should_stop  # type: ignore[attr-defined]
            if progress is not None:
                task.on_episodes = progress  # type: ignore[attr-defined]

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores:
        stop, progress = self.should_stop, self.progress
        if (stop is None and progress is None) or getattr(self.task, "checks_stop", False):
            return self.task.score(nets, weights, key, reps, max_steps, self.threads)
        per_net = len(weights) * int(reps)  # episodes per network
        parts, steps, lo = [], 0, 0
        while lo < len(nets) or not parts:
            if stop is not None and stop():
                raise Interrupted("scoring abandoned, a stop was asked for")
            if progress is not None:
                progress(lo * per_net, len(nets) * per_net)
            hi = min(len(nets), lo + (self._batch or 64))
            t0 = time.perf_counter()
            s = self.task.score(nets[lo:hi], weights, key, reps, max_steps, self.threads)
            t_net = (time.perf_counter() - t0) / max(hi - lo, 1)
            self._batch = int(min(max(self.BATCH_SECONDS / max(t_net, 1e-9), 16), 1 << 20))
            parts.append(s.returns)
            steps += s.steps
            lo = hi
        return Scores(np.concatenate(parts) if len(parts) > 1 else parts[0], steps)

    def close(self) -> None:
        pass


def make_evaluator(cfg: Config, task: Task, run_dir: Path | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> Evaluator:
    """MPI workers when this process is rank 0 of an MPI job (see mpi_launch), else threads here.
    ``run_dir`` receives ``workers/rank-<n>.pid`` files under MPI; ``should_stop`` lets a local
    or an MPI evaluation abandon a long generation (under MPI between chunks, and between batched steps
    on the workers); ``progress`` hears of episodes done within a generation (local evaluation only)."""
    from .mpi_launch import in_mpi

    if in_mpi():
        from .mpi_eval import MpiEvaluator, world_size

        if world_size() > 1:
            return MpiEvaluator(cfg, task, run_dir, should_stop)
    return LocalEvaluator(task, cfg.threads, should_stop, progress)

"""Where a generation's networks are scored: in this process (threads) or on MPI workers.

An evaluator has ``score(nets, weights, key, reps, max_steps) -> Scores``. The
scores of a network must depend only on (network, weights, key, reps,
max_steps), never on which other networks share the call or which process runs
it: that is what makes runs independent of the number of workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .config import Config
from .genome import Network
from .tasks import Scores, Task


class Evaluator(Protocol):
    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores: ...

    def close(self) -> None: ...


class LocalEvaluator:
    """Scores in this process with the task's own threads."""

    def __init__(self, task: Task, threads: int) -> None:
        self.task = task
        self.threads = threads

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int) -> Scores:
        return self.task.score(nets, weights, key, reps, max_steps, self.threads)

    def close(self) -> None:
        pass


def make_evaluator(cfg: Config, task: Task, run_dir: Path | None = None) -> Evaluator:
    """MPI workers when this process is rank 0 of an MPI job (see mpi_launch), else threads here.
    ``run_dir`` receives ``workers/rank-<n>.pid`` files under MPI."""
    from .mpi_launch import in_mpi

    if in_mpi():
        from .mpi_eval import MpiEvaluator, world_size

        if world_size() > 1:
            return MpiEvaluator(cfg, task, run_dir)
    return LocalEvaluator(task, cfg.threads)

"""The CartPoleSwingUp task: the compiled kernel run over a population, split across threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..genome import Network
from ..netpack import pack
from . import Scores
from . import swingup as su

_CHUNK = 4  # networks per work item: small enough to balance threads, large enough to amortise


class SwingUpTask:
    name = "swingup"
    n_inputs = 5
    n_outputs = 1
    input_names = su.INPUT_NAMES
    output_names = su.OUTPUT_NAMES
    max_steps = su.T_LIMIT

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 0

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int, threads: int) -> Scores:
        packed = pack(nets)
        starts = su.initial_states(key, reps)
        steps_cap = min(max_steps or su.T_LIMIT, su.T_LIMIT)
        returns = np.zeros((len(nets), len(weights), reps))
        steps = np.zeros(len(nets), dtype=np.int64)
        threads = threads or os.cpu_count() or 1
        if threads == 1 or len(nets) <= _CHUNK:
            su.rollouts(packed, weights, starts, steps_cap, 0, len(nets), returns, steps)
        else:
            pool = self._executor(threads)
            jobs = [pool.submit(su.rollouts, packed, weights, starts, steps_cap, lo, min(lo + _CHUNK, len(nets)),
                                returns, steps) for lo in range(0, len(nets), _CHUNK)]
            for j in jobs:
                j.result()
        return Scores(returns, int(steps.sum()))

    def _executor(self, threads: int) -> ThreadPoolExecutor:
        if self._pool is None or self._threads != threads:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="swingup")
            self._threads = threads
        return self._pool

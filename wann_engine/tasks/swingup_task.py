"""The CartPoleSwingUp task: the compiled kernel run over a population split across threads, one network
at shared or per-connection weights (:class:`SwingUpScorer`), and playback recorded from the same kernel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..genome import Network
from ..netpack import pack
from . import Frame, Scores, TaskBase
from . import swingup as su

_CHUNK = 4  # networks per work item: small enough to balance threads, large enough to amortise


@dataclass
class CartFrame(Frame):
    x: float = 0.0
    theta: float = 0.0  # 0 = upright
    x_limit: float = su.X_LIMIT


class SwingUpScorer:
    """One network through the compiled lane kernel: any (weight or weights, start) per lane, one call.

    Episode ``i`` of ``key`` starts at ``initial_states(key, n)[i]``: rep ``i`` of ``SwingUpTask.score``."""

    weighted_ok = True

    def __init__(self, net: Network, max_steps: int = su.T_LIMIT) -> None:
        self.net = net
        self.packed = pack([net])
        self.n_edges = net.n_conns
        self.max_steps = int(max_steps)
        self._starts: dict[tuple[int, ...], np.ndarray] = {}

    def starts(self, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        n = int(trials.max()) + 1 if len(trials) else 0
        have = self._starts.get(key)
        if have is None or len(have) < n:
            have = su.initial_states(key, n)
            if len(self._starts) > 8:
                self._starts.clear()
            self._starts[key] = have
        return have[trials]

    def shared(self, weights: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        # all-ones edge weights with a per-lane multiplier: bit-identical to the shared-weight kernel
        trials = np.asarray(trials, dtype=np.int64)
        r, _ = su.rollouts_weighted(self.packed, np.ones(self.n_edges), self.starts(key, trials), self.max_steps,
                                    scale=np.asarray(weights, dtype=np.float64))
        return r

    def weighted(self, edge_w: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        trials = np.asarray(trials, dtype=np.int64)
        r, _ = su.rollouts_weighted(self.packed, edge_w, self.starts(key, trials), self.max_steps)
        return r


def _obs(x: float, xd: float, th: float, thd: float) -> np.ndarray:
    return np.array([x, xd, np.cos(th), np.sin(th), thd])


class SwingUpTask(TaskBase):
    name = "swingup"
    n_inputs = 5
    n_outputs = 1
    input_names = su.INPUT_NAMES
    output_names = su.OUTPUT_NAMES
    max_steps = su.T_LIMIT
    fast = True
    steps_per_second = 1.0 / su.DT

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

    def scorer(self, net: Network, threads: int = 0) -> SwingUpScorer:
        return SwingUpScorer(net, self.max_steps)

    def frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...],
               episode: int) -> Iterator[CartFrame]:
        """One lane of the weighted kernel recorded step by step: its rewards are the kernel's bit for bit."""
        start = su.initial_states(key, episode + 1)[episode]
        if np.ndim(edge_w) == 0:  # as SwingUpScorer.shared: all-ones weights times the shared weight
            ew, scale = np.ones(net.n_conns), float(edge_w)
        else:
            ew, scale = np.asarray(edge_w, dtype=np.float64), 1.0
        rec = su.trace(pack([net]), ew, scale, start, min(self.max_steps or su.T_LIMIT, su.T_LIMIT))
        steps = len(rec)
        yield CartFrame(0, 0.0, 0.0, steps == 0, _obs(*start), np.zeros(1), x=float(start[0]), theta=float(start[2]))
        prev = 0.0
        for t in range(steps):
            x, xd, th, thd, out, total = rec[t]
            yield CartFrame(t + 1, float(total - prev), float(total), t + 1 == steps, _obs(x, xd, th, thd),
                            np.array([np.clip(out, -1.0, 1.0)]), x=float(x), theta=float(th))
            prev = total

    def _executor(self, threads: int) -> ThreadPoolExecutor:
        if self._pool is None or self._threads != threads:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="swingup")
            self._threads = threads
        return self._pool

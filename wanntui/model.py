"""In-memory model of one run, fed from its event stream (pure Python/numpy, no Textual).

The watcher thread is the only writer (``feed``); the UI reads consistent copies with
``snapshot()``. Memory stays bounded however long the run: per-generation scalars live
in a :class:`History` (recent rows at full resolution, older rows merged pairwise), and
of the large per-generation fields (objectives, fronts, per-weight scores) only the
latest generation's event is kept.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from wann_engine.events import number, parse_line

#: Columns of the history table (one row per generation, or per merged span of generations).
COLS = ("gen_lo", "gen", "t", "fit_median", "fit_max", "best_mean", "best_peak", "evals_per_s",
        "env_steps_per_s", "gen_time", "elapsed")
C = {name: i for i, name in enumerate(COLS)}
_LAST = [C["gen"], C["t"], C["elapsed"]]
_MEAN = [C["fit_median"], C["evals_per_s"], C["env_steps_per_s"], C["gen_time"]]
_MAX = [C["fit_max"], C["best_mean"], C["best_peak"]]

#: Event types that change what state a run is in (the last one wins).
STATE_EVENTS = ("run_start", "paused", "resumed", "stopped", "finished", "error")


def num(x: Any) -> float:
    """A number field as float: the engine's non-finite spellings decoded, anything unusable NaN."""
    if type(x) is float or type(x) is int:
        return float(x)
    try:
        return number(x)
    except (KeyError, TypeError, ValueError):
        return math.nan


def _finite_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise mean of the finite values of ``a`` and ``b`` (NaN where neither is)."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    tot = np.where(fa, a, 0.0) + np.where(fb, b, 0.0)
    cnt = fa.astype(float) + fb
    return np.divide(tot, cnt, out=np.full_like(tot, np.nan), where=cnt > 0)


def merge_rows(rows: np.ndarray) -> np.ndarray:
    """Merge adjacent pairs of history rows (an odd last row is kept as it is)."""
    n = len(rows)
    if n < 2:
        return rows.copy()
    m = n // 2
    a, b = rows[0 : 2 * m : 2], rows[1 : 2 * m : 2]
    out = np.empty((m + (n % 2), rows.shape[1]))
    out[:m, C["gen_lo"]] = a[:, C["gen_lo"]]
    out[:m, _LAST] = b[:, _LAST]
    out[:m, _MEAN] = _finite_mean(a[:, _MEAN], b[:, _MEAN])
    out[:m, _MAX] = np.fmax(a[:, _MAX], b[:, _MAX])
    if n % 2:
        out[m] = rows[-1]
    return out


def bucket_rows(rows: np.ndarray, n_out: int) -> np.ndarray:
    """Downsample history rows to at most ``n_out`` rows by merging consecutive buckets."""
    n = len(rows)
    if n <= n_out or n_out < 1:
        return rows
    starts = np.linspace(0, n, n_out + 1).astype(np.int64)[:-1]
    ends = np.append(starts[1:], n)
    out = np.empty((n_out, rows.shape[1]))
    out[:, C["gen_lo"]] = rows[starts, C["gen_lo"]]
    out[:, _LAST] = rows[ends - 1][:, _LAST]
    out[:, _MAX] = np.fmax.reduceat(rows[:, _MAX], starts, axis=0)
    vals = rows[:, _MEAN]
    ok = np.isfinite(vals)
    sums = np.add.reduceat(np.where(ok, vals, 0.0), starts, axis=0)
    counts = np.add.reduceat(ok.astype(float), starts, axis=0)
    out[:, _MEAN] = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    return out


class History:
    """Per-generation scalars in bounded memory.

    The newest ``recent`` rows are kept as written. When that buffer is full, its older
    half moves to the ``old`` buffer, merged to the old buffer's resolution; when the old
    buffer is full it is merged pairwise (its resolution halves). So a run of any length
    costs at most ``recent + old`` rows, long runs are downsampled rather than truncated.
    """

    def __init__(self, recent: int = 2048, old: int = 2048) -> None:
        if recent < 4 or old < 4:
            raise ValueError("history buffers need at least 4 rows")
        self._recent = np.empty((recent, len(COLS)))
        self._old = np.empty((old, len(COLS)))
        self.n_recent = 0
        self.n_old = 0
        self.level = 0  # each old row stands for up to 2**level generations

    def __len__(self) -> int:
        return self.n_recent + self.n_old

    def append(self, row: list[float] | tuple[float, ...]) -> None:
        if self.n_recent == len(self._recent):
            self._spill()
        self._recent[self.n_recent] = row
        self.n_recent += 1

    def _spill(self) -> None:
        half = len(self._recent) // 2
        chunk = self._recent[:half]
        for _ in range(self.level):
            chunk = merge_rows(chunk)
        while self.n_old + len(chunk) > len(self._old):
            merged = merge_rows(self._old[: self.n_old])
            self._old[: len(merged)] = merged
            self.n_old = len(merged)
            self.level += 1
            chunk = merge_rows(chunk)
        self._old[self.n_old : self.n_old + len(chunk)] = chunk
        self.n_old += len(chunk)
        self._recent[: self.n_recent - half] = self._recent[half : self.n_recent]
        self.n_recent -= half

    def truncate(self, gen: int) -> None:
        """Forget every row that covers generation ``gen`` or later (a resume re-runs them)."""
        g = C["gen"]
        self.n_recent = int(np.searchsorted(self._recent[: self.n_recent, g], gen, side="left"))
        if self.n_recent == 0:
            self.n_old = int(np.searchsorted(self._old[: self.n_old, g], gen, side="left"))

    def rows(self) -> np.ndarray:
        """A copy of all rows, oldest first."""
        return np.concatenate([self._old[: self.n_old], self._recent[: self.n_recent]])

    def last(self, k: int) -> np.ndarray:
        """The last ``k`` full-resolution rows (fewer if fewer exist)."""
        return self._recent[max(0, self.n_recent - k) : self.n_recent].copy()

    @property
    def nbytes(self) -> int:
        return self._recent.nbytes + self._old.nbytes


@dataclass
class RunMeta:
    """What ``run_start`` says about the run (the latest one, if it was resumed)."""

    name: str = ""
    task: str = ""
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    total: int = 0
    workers: int = 1
    threads: int = 0
    pop: int = 0
    pid: int | None = None
    host: str = ""
    started: float = 0.0
    resumed_from: int | None = None
    starts: int = 0
    keep_disabled_hidden: bool = False


@dataclass(frozen=True)
class Snapshot:
    """A consistent, read-only copy of a model for one render."""

    path: Path
    version: int
    gen_version: int
    champ_version: int
    meta: RunMeta
    history: np.ndarray
    recent: np.ndarray
    last: dict[str, Any] | None
    champion: dict[str, Any] | None
    champion_gen: int | None
    checkpoint_t: float | None
    checkpoint_gen: int | None
    state_event: str | None
    state_t: float | None
    error: str | None
    warnings: tuple[str, ...]
    n_malformed: int
    n_events: int
    n_generations: int
    last_event_t: float | None

    @property
    def gen_done(self) -> int:
        """Generations completed (the last generation event's number plus one)."""
        return int(self.last["gen"]) + 1 if self.last else 0


@dataclass
class _Champion:
    gen: int
    genome: dict[str, Any] = field(repr=False)


class RunModel:
    """Everything the console shows about one run, built from its events in order."""

    def __init__(self, path: Path | str, recent: int = 2048, old: int = 2048, max_warnings: int = 20) -> None:
        self.path = Path(path)
        self._recent_cap, self._old_cap = recent, old
        self._max_warnings = max_warnings
        self.lock = threading.Lock()
        self.version = 0
        self.gen_version = 0
        self.champ_version = 0
        self._clear()

    def _clear(self) -> None:
        self.meta = RunMeta()
        self.history = History(self._recent_cap, self._old_cap)
        self.last: dict[str, Any] | None = None
        self.champions: deque[_Champion] = deque(maxlen=16)
        self.checkpoint_t: float | None = None
        self.checkpoint_gen: int | None = None
        self.state_event: str | None = None
        self.state_t: float | None = None
        self.error: str | None = None
        self.warnings: deque[str] = deque(maxlen=self._max_warnings)
        self.n_malformed = 0
        self.n_events = 0
        self.n_generations = 0
        self.last_event_t: float | None = None

    # --- writing (the watcher thread) ---------------------------------------------------------
    def reset(self, why: str | None = None) -> None:
        """Forget everything (the events file was truncated or replaced)."""
        with self.lock:
            self._clear()
            if why:
                self.warnings.append(why)
            self.version += 1
            self.gen_version += 1
            self.champ_version += 1

    def feed(self, lines: list[bytes], first_line: int = 1) -> int:
        """Apply complete event lines (numbered from ``first_line``); returns how many were applied.

        A line that is not a valid event is skipped and recorded as a warning.
        """
        applied = 0
        with self.lock:
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                ev = parse_line(line)
                problem = None
                if ev is None:
                    problem = "not a JSON event object"
                else:
                    try:
                        self._apply(ev)
                        applied += 1
                    except (KeyError, TypeError, ValueError) as e:
                        problem = f"bad {ev.get('type')!r} event ({type(e).__name__}: {e})"
                if problem:
                    self.n_malformed += 1
                    self.warnings.append(f"{self.path.name}: events.jsonl line {first_line + i} skipped: {problem}")
            if lines:
                self.version += 1
        return applied

    def apply(self, ev: dict[str, Any]) -> None:
        """Apply one decoded event (used by tests and benchmarks)."""
        with self.lock:
            self._apply(ev)
            self.version += 1

    def _apply(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        t = num(ev.get("t"))
        if kind == "generation":
            self._generation(ev, t)
        elif kind == "checkpoint":
            self.checkpoint_t, self.checkpoint_gen = t, int(ev.get("gen", 0))
        elif kind == "run_start":
            self._run_start(ev, t)
        if kind in STATE_EVENTS:
            self.state_event, self.state_t = kind, t
            if kind == "error":
                self.error = str(ev.get("message", "unknown error"))
            elif kind == "run_start":
                self.error = None
        self.n_events += 1
        if math.isfinite(t):
            self.last_event_t = t

    def _generation(self, ev: dict[str, Any], t: float) -> None:
        gen = ev["gen"]
        if not isinstance(gen, int):
            raise TypeError("gen is not an integer")
        g = float(gen)
        self.history.append((
            g, g, t, num(ev.get("fit_median")), num(ev.get("fit_max")), num(ev.get("best_mean")),
            num(ev.get("best_peak")), num(ev.get("evals_per_s")), num(ev.get("env_steps_per_s")),
            num(ev.get("gen_time")), num(ev.get("elapsed")),
        ))
        self.last = ev
        self.n_generations += 1
        self.gen_version += 1
        champ = ev.get("champion")
        if isinstance(champ, dict):
            self.champions.append(_Champion(gen, champ))
            self.champ_version += 1

    def _run_start(self, ev: dict[str, Any], t: float) -> None:
        cfg = ev.get("config") or {}
        resumed = ev.get("resumed_from")
        self.meta = RunMeta(
            name=str(ev.get("name", self.path.name)), task=str(ev.get("task", cfg.get("task", ""))),
            input_names=tuple(str(x) for x in ev.get("input_names", ())),
            output_names=tuple(str(x) for x in ev.get("output_names", ())),
            weights=tuple(num(w) for w in ev.get("weights", cfg.get("weights", ()))),
            total=int(ev.get("total_generations", cfg.get("maxGen", 0))),
            workers=int(cfg.get("workers", 1)), threads=int(cfg.get("threads", 0)), pop=int(cfg.get("popSize", 0)),
            pid=ev.get("pid"), host=str(ev.get("host", "")), started=t,
            resumed_from=resumed, starts=self.meta.starts + 1,
            keep_disabled_hidden=bool(cfg.get("keep_disabled_hidden", False)),
        )
        if resumed is not None:  # the effective-generations rule: generations >= resumed_from are re-run
            g = int(resumed)
            self.history.truncate(g)
            if self.last is not None and self.last["gen"] >= g:
                self.last = None
                self.gen_version += 1
            before = len(self.champions)
            while self.champions and self.champions[-1].gen >= g:
                self.champions.pop()
            if len(self.champions) != before:
                self.champ_version += 1

    # --- reading (the UI) ---------------------------------------------------------------------
    def snapshot(self, recent: int = 64) -> Snapshot:
        """A consistent copy for rendering; ``recent`` full-resolution rows are included for rates/ETA."""
        with self.lock:
            champ = self.champions[-1] if self.champions else None
            return Snapshot(
                path=self.path, version=self.version, gen_version=self.gen_version,
                champ_version=self.champ_version, meta=self.meta, history=self.history.rows(),
                recent=self.history.last(recent), last=self.last,
                champion=champ.genome if champ else None, champion_gen=champ.gen if champ else None,
                checkpoint_t=self.checkpoint_t, checkpoint_gen=self.checkpoint_gen,
                state_event=self.state_event, state_t=self.state_t, error=self.error,
                warnings=tuple(self.warnings), n_malformed=self.n_malformed, n_events=self.n_events,
                n_generations=self.n_generations, last_event_t=self.last_event_t,
            )


def synthetic_generation(gen: int, pop: int = 64, n_weights: int = 6, t: float = 0.0,
                         champion: bool = False) -> dict[str, Any]:
    """A generation event shaped like the engine's (for benchmarks and tests)."""
    rng = np.random.default_rng(gen)
    mean = rng.random(pop) * 100 + gen * 0.01
    peak = mean + rng.random(pop) * 50
    conns = rng.integers(1, 40, pop).astype(float)
    ev: dict[str, Any] = {
        "v": 1, "type": "generation", "t": t, "gen": gen, "evaluations": (gen + 1) * pop,
        "episodes": (gen + 1) * pop * 18, "fit_median": float(np.median(mean)), "fit_mean": float(mean.mean()),
        "fit_max": float(mean.max()), "best_mean": 100 + gen * 0.01, "best_peak": 150 + gen * 0.01,
        "best_conns": 7, "best_nodes": 9, "best_gen": gen,
        "best_per_weight": (rng.random(n_weights) * 100).tolist(),
        "pop_best_per_weight": (rng.random(n_weights) * 120).tolist(),
        "nodes_median": 8.0, "conns_median": 6.0, "ranking": "mean-conns",
        "objectives": np.stack([mean, peak, conns], 1).tolist(), "front": [0, 3, 5], "front_peak": [0, 3],
        "elapsed": gen * 0.02, "gen_time": 0.02, "eval_time": 0.019, "evals_per_s": pop / 0.02,
        "episodes_per_s": pop * 18 / 0.02, "env_steps": 300_000, "env_steps_per_s": 1.5e7,
    }
    if champion:
        ev["champion"] = {"nodes": [[0, 4, 1], [1, 1, 1], [2, 1, 1], [3, 2, 1], [4, 3, 5]],
                          "conns": [[0, 1, 4, 1], [1, 4, 3, 1], [2, 2, 3, 1]]}
    return ev


def encode_event(ev: dict[str, Any]) -> bytes:
    """One event as a line of the events file (finite numbers only, as synthetic events are)."""
    return orjson.dumps(ev) + b"\n"

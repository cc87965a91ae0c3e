"""In-memory model of one run, fed from its event stream (pure Python/numpy, no Textual).

The watcher thread is the only writer (``feed``); the UI reads consistent copies with
``snapshot()``. Each line is decoded once, into the engine's typed events
(:mod:`wann_engine.events`): what the widgets get holds no raw JSON.

Memory stays bounded however long the run: per-generation scalars live in a
:class:`History` (recent rows at full resolution, older rows merged pairwise), and of the
large per-generation fields (objectives, fronts, per-weight scores) only the latest
generation's event is kept. Those fields are checked when first read
(:data:`wann_engine.events.LARGE`), so only the latest generation's are ever checked: after each
batch of lines, once, and a damaged one becomes a warning (the panes show it as missing).
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

from wann_engine import events
from wann_engine.events import EventError, Generation, RunStart, number

#: Columns of the history table (one row per generation, or per merged span of generations).
COLS = ("gen_lo", "gen", "t", "fit_median", "fit_max", "best_mean", "best_peak", "evals_per_s",
        "env_steps_per_s", "gen_time", "elapsed", "evaluations")
C = {name: i for i, name in enumerate(COLS)}
_LAST = [C["gen"], C["t"], C["elapsed"], C["evaluations"]]  # cumulative: a merged row keeps its last
_MEAN = [C["fit_median"], C["evals_per_s"], C["env_steps_per_s"], C["gen_time"]]
_MAX = [C["fit_max"], C["best_mean"], C["best_peak"]]

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
    last: Generation | None
    champion: dict[str, list[list[int]]] | None
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
    #: The latest generation event that carries the population (objectives, fronts: the engine writes them
    #: every few seconds, see ``events.POPULATION_SECONDS``), and where the current generation stands
    #: (``events.Progress``: episodes done, when it takes longer than ``events.PROGRESS_SECONDS``).
    population: Generation | None = None
    progress: events.Progress | None = None

    @property
    def gen_done(self) -> int:
        """Generations completed (the last generation event's number plus one)."""
        return self.last.gen + 1 if self.last else 0


@dataclass
class _Champion:
    gen: int
    genome: dict[str, list[list[int]]] = field(repr=False)


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
        self.n_warnings = 0  # warnings ever recorded (resets included): what is new since a count seen
        self._clear()

    def _clear(self) -> None:
        self.meta = RunMeta()
        self.history = History(self._recent_cap, self._old_cap)
        self.last: Generation | None = None
        self.population: Generation | None = None  # the latest generation that carries the population
        self.progress: events.Progress | None = None  # within the generation after ``last``
        self.last_line: int | None = None  # the line of the events file that holds ``last``
        self._looked_at: Generation | None = None  # the last generation whose large fields were checked
        self._looked_pop: Generation | None = None  # the last population checked
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
                self._warn(why)
            self.version += 1
            self.gen_version += 1
            self.champ_version += 1

    def feed(self, lines: list[bytes], first_line: int = 1) -> int:
        """Apply complete event lines (numbered from ``first_line``); returns how many were applied.

        A line that is not a valid event is skipped and recorded as a warning.
        """
        return len(self.feed_lines(lines, first_line))

    def feed_lines(self, lines: list[bytes], first_line: int = 1) -> list[bytes]:
        """:meth:`feed`, returning the lines that were valid events (what ``--batch --events`` prints)."""
        good = []
        with self.lock:
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    ev = events.decode(line)
                except EventError as e:
                    self._skipped(first_line + i, str(e))
                    continue
                self._apply(ev)
                if self.last is ev:
                    self.last_line = first_line + i
                good.append(line)
            self._check_last()
            if lines:
                self.version += 1
        return good

    def skip(self, line_no: int, why: str) -> None:
        """Count a line the reader could not hand over (a giant line stepped over) as skipped."""
        with self.lock:
            self._skipped(line_no, why)
            self.version += 1

    def _skipped(self, line_no: int, why: str) -> None:
        self.n_malformed += 1
        self._warn(f"{self.path.name}: events.jsonl line {line_no} skipped: {why}")

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.n_warnings += 1

    def _check_last(self) -> None:
        """Check the large fields of the latest generation, once per event (the only ones shown)."""
        pop = self.population
        if pop is not None and pop is not self.last and pop is not self._looked_pop:
            self._looked_pop = pop  # (the population shown, when it came before the latest generation)
            why = pop.damage(*events.POPULATION)
            if why is not None:
                self._warn(f"{self.path.name}: events.jsonl generation {pop.gen}: damaged field(s), shown as "
                           f"missing: {why}")
        last = self.last
        if last is None or last is self._looked_at:
            return
        self._looked_at = last
        self._looked_pop = last if last is pop else self._looked_pop
        why = last.damage()
        if why is not None:
            where = f"line {self.last_line}" if self.last_line is not None else f"generation {last.gen}"
            self._warn(f"{self.path.name}: events.jsonl {where}: damaged field(s), shown as missing: {why}")

    def apply(self, ev: events.Event | dict[str, Any]) -> None:
        """Apply one event, typed or as a decoded JSON object (tests and benchmarks); a dict that is
        not a valid event raises :class:`~wann_engine.events.EventError`."""
        with self.lock:
            typed = ev if isinstance(ev, events.Event) else events.from_dict(ev)
            self._apply(typed)
            if self.last is typed:
                self.last_line = None
            self._check_last()
            self.version += 1

    def _apply(self, ev: events.Event) -> None:
        if isinstance(ev, Generation):
            self._generation(ev)
        elif isinstance(ev, events.Progress):
            self.progress = ev
        elif isinstance(ev, events.Checkpoint):
            self.checkpoint_t, self.checkpoint_gen = ev.t, ev.gen
        elif isinstance(ev, RunStart):
            self._run_start(ev)
        if ev.type in events.STATE_TYPES:
            self.progress = None  # (a new engine session, or the end of one)
            self.state_event, self.state_t = ev.type, ev.t
            if isinstance(ev, events.Error):
                self.error = ev.message
            elif isinstance(ev, RunStart):
                self.error = None
        self.n_events += 1
        self.last_event_t = ev.t

    def _generation(self, ev: Generation) -> None:
        g = float(ev.gen)
        self.history.append((g, g, ev.t, ev.fit_median, ev.fit_max, ev.best_mean, ev.best_peak, ev.evals_per_s,
                             ev.env_steps_per_s, ev.gen_time, ev.elapsed,
                             math.nan if ev.evaluations is None else float(ev.evaluations)))
        self.last = ev
        if ev.has_population:
            self.population = ev
        self.progress = None
        self.n_generations += 1
        self.gen_version += 1
        if ev.champion is not None:
            self.champions.append(_Champion(ev.gen, ev.champion))
            self.champ_version += 1

    def _run_start(self, ev: RunStart) -> None:
        self.meta = RunMeta(
            name=ev.name or self.path.name, task=ev.task, input_names=ev.input_names, output_names=ev.output_names,
            weights=ev.weights, total=ev.total, workers=ev.workers, threads=ev.threads, pop=ev.pop, pid=ev.pid,
            host=ev.host, started=ev.t, resumed_from=ev.resumed_from, starts=self.meta.starts + 1,
            keep_disabled_hidden=ev.keep_disabled_hidden,
        )
        if ev.resumed_from is not None:  # the resume rule: re-run generations are superseded
            g = ev.resumed_from
            self.history.truncate(g)
            if self.last is not None and events.supersedes(ev, self.last.gen):
                self.last = None
                self.gen_version += 1
            if self.population is not None and events.supersedes(ev, self.population.gen):
                self.population = None
            before = len(self.champions)
            while self.champions and events.supersedes(ev, self.champions[-1].gen):
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
                population=self.population, progress=self.progress,
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
        "nodes_median": 8.0, "conns_median": 6.0, "ranking": "mean_conns",
        "objectives": np.stack([mean, peak, conns], 1).tolist(), "front": [i for i in (0, 3, 5) if i < pop],
        "front_peak": [i for i in (0, 3) if i < pop],
        "elapsed": gen * 0.02, "gen_time": 0.02, "eval_time": 0.019, "evals_per_s": pop / 0.02,
        "episodes_per_s": pop * 18 / 0.02, "env_steps": 300_000, "env_steps_per_s": 1.5e7,
        "retest_mean": 95 + gen * 0.01, "retest_episodes": 20 * n_weights,
        "retest_per_weight": (rng.random(n_weights) * 100).tolist(), "retest_gen": gen, "retest_raw_mean": 99.0,
        "retest_conns": 7, "retest_nodes": 9, "retest_seed": 2**62 + gen, "gen_retest_max": 95 + gen * 0.01,
        "gen_retested": 2,
    }
    if champion:
        ev["champion"] = {"nodes": [[0, 4, 1], [1, 1, 1], [2, 1, 1], [3, 2, 1], [4, 3, 5]],
                          "conns": [[0, 1, 4, 1], [1, 4, 3, 1], [2, 2, 3, 1]]}
    return ev


def encode_event(ev: dict[str, Any]) -> bytes:
    """One event as a line of the events file (finite numbers only, as synthetic events are)."""
    return orjson.dumps(ev) + b"\n"

"""Sweeps in the console (no Textual): the browser's one row per sweep, and what the sweep view shows.

A sweep folder (``sweep.json`` plus one ordinary run directory per member, see
:mod:`wann_engine.sweep`) is one row of the run browser: its state summed up from its members', members
done / members in the generation column, the best re-tested score so far, and a note with the counts.
Member states come from the same cached run summaries as ordinary rows (``runs.RunStates.row``), so a
sweep costs the browser a few ``stat`` calls per member per scan until a member writes.

The sweep view follows the members with :class:`wann_engine.sweep_stats.SweepTracker` (one
``CurveReader`` per member: each refresh reads only the bytes appended since the last one) and shows what
:mod:`wann_engine.sweep_stats` computes: bands across seeds, a table per setting, a Mann–Whitney U test.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from wann_engine import rundir
from wann_engine import sweep as sweepmod
from wann_engine import sweep_stats as st
from wann_engine.events import STATE_TYPES, parse_line

if TYPE_CHECKING:
    from .runs import RunRow, RunStates

#: a member's state -> the count it adds to in the browser's note (``stopped``: stopped short of its budget,
#: ``sweep resume`` continues it; ``pending``: never started)
GROUP = {"done": "done", "running": "running", "paused": "running", "starting": "running", "stopping": "running",
         "failed": "failed", "crashed": "failed", "damaged": "failed", "pending": "pending", "stopped": "stopped"}
#: the fitness mark of "time to a threshold" per task (the view's ``t`` changes it)
THRESHOLDS = {"swingup": 600.0}

Measure = Literal["retest", "best_mean"]
MEASURE_LABELS = {"retest": "re-tested best", "best_mean": "best mean"}


def default_threshold(task: str) -> float | None:
    return THRESHOLDS.get(task)


@dataclass(frozen=True)
class MemberRow:
    """One member in the sweep view's list."""

    path: Path
    name: str
    seed: int
    setting: str
    slot: int  # the setting's index (its colour)
    state: str
    gen: int
    total: int
    best: float | None
    retested: float | None
    note: str = ""


def member_state(sw: sweepmod.Sweep, m: sweepmod.Member, row: RunRow | None, stopping: bool = False) -> str:
    """Where member ``m`` stands against the sweep's budget, from its (cached) browser row; like
    :func:`wann_engine.sweep.member_status`, but a member whose run cannot be read is ``damaged``
    (``stopping``: the sweep is asked to stop, so a member still running is stopping)."""
    if m.failed is not None:
        return "failed"
    if row is None:
        return "pending"
    if row.state in ("running", "paused", "starting"):
        return "stopping" if stopping and sweepmod.stop_reaches(sw, sw.run_dir(m)) else row.state
    if row.state == "finished":
        return "done" if sw.budget.seconds is not None or row.total >= sw.budget.max_gen else "stopped"
    if row.state == "stopped":
        if sw.budget.seconds is not None:
            return "done" if sweepmod.member_status(sw, m).state == "done" else "stopped"
        return "done" if row.gen >= sw.budget.max_gen else "stopped"
    return row.state  # crashed, damaged


@dataclass
class Live:
    """What a running member's newest events say (read incrementally, never the whole file again)."""

    last_state: str = ""  # the newest state event's type
    gen: int = 0  # generations done
    best: float | None = None
    retested: float | None = None
    evals_per_s: float | None = None


def _finite(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


class MemberTail:
    """A running member's events read from where the last read stopped: only the newest generation line
    and the newest state event of what was appended are decoded. (``control.summary`` would read a
    running run's events back to its ``run_start`` on every change.)"""

    def __init__(self, run: Path) -> None:
        from .tail import FileTail

        self.tail = FileTail(Path(run) / rundir.EVENTS)
        self.live = Live()

    def refresh(self) -> Live:
        lines, restarted = self.tail.poll()
        if restarted:
            self.live = Live()
        gen_line = next((ln for ln in reversed(lines) if b'"type":"generation"' in ln), None)
        if gen_line is not None:
            ev = parse_line(gen_line) or {}
            g = ev.get("gen")
            if isinstance(g, int):
                self.live.gen = g + 1
            self.live.best = _finite(ev.get("best_mean"))
            self.live.retested = _finite(ev.get("retest_mean"))
            self.live.evals_per_s = _finite(ev.get("evals_per_s"))
        for ln in reversed(lines):
            t = next((t for t in STATE_TYPES if f'"type":"{t}"'.encode() in ln), None)
            if t is not None:
                self.live.last_state = t
                break
        return self.live


def live_row(run: Path, live: Live, total: int) -> RunRow:
    """A running member's row from what its tail says (its engine holds the lock)."""
    from .runs import RunRow

    state = "paused" if live.last_state == "paused" else "running" if live.gen else "starting"
    return RunRow(run, run.name, "", state, live.gen, total, live.best, live.evals_per_s, time.time(),
                  retested=live.retested)


def member_rows(sw: sweepmod.Sweep, states: RunStates,
                live: Callable[[Path], Live] | None = None) -> list[MemberRow]:
    """The members' rows. A member whose engine runs is read through ``live`` (its appended events only);
    a member that ended through ``states`` (its summary, cached until its files change)."""
    slots = {sweepmod.setting_label(s): i for i, s in enumerate(sw.settings)}
    stopping = sweepmod.wanted(sw.path) == "stop"
    out = []
    for m in sw.members:
        run = sw.run_dir(m)
        if not run.exists():
            row = None
        elif live is not None and m.failed is None and rundir.engine_alive(run):
            row = live_row(run, live(run), sw.budget.max_gen)
        else:
            row = states.row(run)
        state = member_state(sw, m, row, stopping)
        label = sweepmod.setting_label(m.setting)
        note = m.failed or (row.note if row is not None else "")
        out.append(MemberRow(run, m.name, m.seed, label, slots.get(label, 0), state,
                             row.gen if row else 0, row.total if row else sw.budget.max_gen,
                             row.best if row else None, row.retested if row else None, note))
    return out


def counts(members: list[MemberRow]) -> dict[str, int]:
    out = {"done": 0, "running": 0, "failed": 0, "stopped": 0, "pending": 0}
    for m in members:
        out[GROUP.get(m.state, "failed")] += 1
    return out


def sweep_state(c: dict[str, int], scheduler: bool) -> str:
    """One state for the whole sweep, in the browser's words: running while a member runs (or the
    scheduler still has members to start or resume), finished when every member is done, failed when one
    failed or crashed and nothing runs, stopped when members are left and nothing runs them."""
    total = sum(c.values())
    if c["running"] or (scheduler and (c["pending"] or c["stopped"])):
        return "running"
    if c["done"] == total:
        return "finished"
    if c["failed"]:
        return "failed"
    return "stopped"


def stopped_part(c: dict[str, int], sep: str) -> str:
    """``2 stopped`` and ``sep`` when members were stopped short of their budget, else nothing (a sweep
    that was never stopped reads as before)."""
    return f"{c['stopped']} stopped{sep}" if c.get("stopped") else ""


def note_of(sw: sweepmod.Sweep, c: dict[str, int]) -> str:
    shape = f"{len(sw.settings)} settings × {len(sw.seeds)} seeds"
    return (f"sweep {shape}: {c['done']} done · {c['running']} running · {c['failed']} failed · "
            f"{stopped_part(c, ' · ')}{c['pending']} pending")


def best_retested(members: list[MemberRow]) -> float | None:
    """The best re-tested score of any member so far (the raw best mean when no member re-tests)."""
    vals = [m.retested for m in members if m.retested is not None and math.isfinite(m.retested)]
    if not vals:
        vals = [m.best for m in members if m.best is not None and math.isfinite(m.best)]
    return max(vals) if vals else None


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        s = os.stat(path)
    except OSError:
        return -1, 0, 0
    return s.st_size, s.st_mtime_ns, s.st_ino


class SweepFiles:
    """``sweep.json`` read again only when it changed (the scheduler rewrites it on every member event)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple, sweepmod.Sweep | sweepmod.SweepError]] = {}

    def load(self, path: Path) -> sweepmod.Sweep:
        path = Path(path)
        key = _stamp(path / sweepmod.SWEEP_FILE)
        hit = self._cache.get(path)
        if hit is None or hit[0] != key:
            try:
                got: sweepmod.Sweep | sweepmod.SweepError = sweepmod.load(path)
            except sweepmod.SweepError as e:
                got = e
            hit = self._cache[path] = (key, got)
        if isinstance(hit[1], sweepmod.SweepError):
            raise hit[1]
        return hit[1]

    def forget_except(self, keep: set[Path]) -> None:
        for p in set(self._cache) - keep:
            self._cache.pop(p, None)
        tails = getattr(self, "tails", None)
        if tails is not None:
            for run in [r for r in tails if r.parent not in keep]:
                del tails[run]


class SweepRows(SweepFiles):
    """The browser's row of each sweep folder: running members through their tails, ended ones through
    the caller's (cached) ``RunStates``."""

    def __init__(self) -> None:
        super().__init__()
        self.tails: dict[Path, MemberTail] = {}

    def live(self, run: Path) -> Live:
        tail = self.tails.get(run)
        if tail is None:
            tail = self.tails[run] = MemberTail(run)
        return tail.refresh()

    def row(self, path: Path, states: RunStates) -> RunRow:
        from .runs import RunRow

        path = Path(path)
        try:
            sw = self.load(path)
        except sweepmod.SweepError as e:
            try:
                mtime = path.stat().st_mtime
            except OSError:
                mtime = 0.0
            return RunRow(path, path.name, "?", "damaged", 0, 0, None, None, mtime, mtime,
                          note=f"damaged: {e}", kind="sweep")
        members = member_rows(sw, states, self.live)
        c = counts(members)
        rates = [self.tails[m.path].live.evals_per_s for m in members
                 if m.state == "running" and m.path in self.tails]
        rates = [r for r in rates if r is not None]
        updated = max([_stamp(path / sweepmod.SWEEP_FILE)[1] / 1e9]
                      + [_stamp(m.path / rundir.EVENTS)[1] / 1e9 for m in members if m.state != "pending"])
        return RunRow(path, path.name, sw.task, sweep_state(c, sweepmod.scheduler_pid(path) is not None),
                      c["done"], len(members), best_retested(members), sum(rates) if rates else None, updated,
                      sw.created or updated, note=note_of(sw, c), kind="sweep")

    def members_of(self, path: Path) -> list[Path]:
        hit = self._cache.get(Path(path))
        if hit is None or isinstance(hit[1], sweepmod.SweepError):
            return []
        sw = hit[1]
        return [sw.run_dir(m) for m in sw.members]


# --- the sweep view's data ------------------------------------------------------------------------------
@dataclass
class SweepView:
    """Everything the sweep view draws, computed off the UI thread."""

    sweep: sweepmod.Sweep
    members: list[MemberRow]
    data: st.SweepData
    summaries: list[st.Summary]
    bands: list[st.Band]
    measure: Measure
    measures: tuple[Measure, ...]  # the measures the members' events carry
    x: str
    threshold: float | None
    scheduler: bool
    version: int = 0
    changed: bool = True
    took: float = 0.0  # seconds this refresh cost (CPU of the reading thread)
    errors: list[str] = field(default_factory=list)


def has_retest(data: st.SweepData) -> bool:
    return any(np.isfinite(c.col("retest")).any() for c in data.all_curves())


class SweepFollower:
    """A sweep followed as it runs: member states (cached summaries) and curves (read incrementally).
    ``poll`` returns None when nothing changed since the last call and no setting changed."""

    def __init__(self, path: Path) -> None:
        from .runs import RunStates

        self.path = Path(path)
        self.files = SweepFiles()
        self.states = RunStates(self.path)
        self.tracker = st.SweepTracker(self.path)
        self._key: tuple | None = None
        self.version = 0

    def _stamp(self, sw: sweepmod.Sweep) -> tuple:
        """What a refresh depends on: sweep.json and every member's events, config and lock."""
        from .runs import _key

        return (_stamp(self.path / sweepmod.SWEEP_FILE),
                tuple(_key(sw.run_dir(m)) if sw.run_dir(m).exists() else None for m in sw.members))

    def live(self, run: Path) -> Live:
        """A running member from its curve (the tracker has just read what it appended)."""
        reader = self.tracker.readers.get(run.name)
        if reader is None:
            return Live()
        c = reader.curve
        return Live(c.last_state, int(c.final("gen")) + 1 if c.n else 0, _finite(c.final("best_mean")),
                    _finite(c.final_retest) if c.n else None)

    def poll(self, measure: Measure, x: str, threshold: float | None, force: bool = False) -> SweepView | None:
        t0 = time.thread_time()
        sw = self.files.load(self.path)  # SweepError: the caller says why
        key = (self._stamp(sw), measure, x, threshold)
        if key == self._key and not force:
            return None
        self._key = key
        self.version += 1
        data = self.tracker.refresh()
        members = member_rows(sw, self.states, self.live)
        measures: tuple[Measure, ...] = ("retest", "best_mean") if has_retest(data) else ("best_mean",)
        if measure not in measures:
            measure = measures[0]
        sums = [st.summarize(g, threshold, column=measure) for g in data.groups]
        bands = [st.band(g.curves, x=x, column=measure) for g in data.groups]  # type: ignore[arg-type]
        return SweepView(sw, members, data, sums, bands, measure, measures, x, threshold,
                         sweepmod.scheduler_pid(self.path) is not None, self.version,
                         took=time.thread_time() - t0)


def values(s: st.Summary, measure: Measure) -> np.ndarray:
    return s.retests if measure == "retest" else s.finals


def pair_label(a: dict[str, str], b: dict[str, str]) -> tuple[str, str]:
    """Short names for two settings: ``key=8`` and ``16`` when they differ in one key only."""
    if a.keys() == b.keys():
        diff = [k for k in a if a[k] != b[k]]
        if len(diff) == 1:
            k = diff[0]
            return f"{k}={a[k]}", b[k]
    return sweepmod.setting_label(a), sweepmod.setting_label(b)


def pairs(n: int) -> list[tuple[int, int]]:
    """The pairs of settings the view can test, the first setting against each other one first."""
    out = [(0, j) for j in range(1, n)]
    out += [(i, j) for i in range(1, n) for j in range(i + 1, n)]
    return out


def u_test_line(sa: st.Summary, sb: st.Summary, measure: Measure) -> str:
    """``select_tournSize=8 vs 16: median 512.3 vs 498.1, U=40, p=0.41 (8 vs 8 seeds)``."""
    t = st.mann_whitney(sa, sb, "retest" if measure == "retest" else "final")
    a, b = pair_label(sa.setting, sb.setting)
    med = lambda v: "-" if not math.isfinite(v) else f"{v:.1f}"  # noqa: E731
    if not math.isfinite(t.p):
        test = "no U test yet"
    else:
        test = f"U={t.u:g}, p={t.p:.2g}"
    return f"{a} vs {b}: median {med(t.median_a)} vs {med(t.median_b)}, {test} ({t.n_a} vs {t.n_b} seeds)"

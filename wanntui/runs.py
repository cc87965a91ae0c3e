"""Run states for the browser: ``control.summary`` per run, recomputed only when a run changed (no Textual).

``control.summary`` reads the end of the events file; calling it every second for every
run would cost CPU on an idle console, so summaries are cached and refreshed when the
events file's size or mtime, or whether an engine holds the run's lock, changes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from wann_engine import control, rundir
from wann_engine.events import STATE_TYPES, Error, read_tail
from wann_engine.sweep import is_sweep


@dataclass(frozen=True)
class RunRow:
    """One line of the run browser."""

    path: Path
    name: str
    task: str
    state: str
    gen: int
    total: int
    best: float | None
    evals_per_s: float | None
    updated: float
    created: float = 0.0
    note: str = ""  # one line: why a launch failed, why the run crashed, or why it is damaged
    tags: tuple[str, ...] = ()
    notes: str = ""  # the researcher's notes (notes.json)
    retested: float | None = None  # the re-tested champion's mean (``best`` is the raw best mean)
    kind: str = "run"  # "run", or "sweep" for a sweep folder (``gen``/``total``: members done / members)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return -1, 0
    return st.st_size, st.st_mtime_ns


def _key(run: Path) -> tuple:
    return (_stamp(run / rundir.EVENTS), rundir.engine_alive(run), _stamp(run / rundir.CONFIG),
            _stamp(run / control.NOTES))


#: what the browser says of a crashed run whose events end without an ``error`` event
DIED = "engine died without a word (no error event)"


def crash_reason(run: Path) -> str:
    """Why a crashed run ended, in one line: its newest state event if that is an ``error``
    (``error at generation N: message``), otherwise the engine was killed (SIGKILL, SIGSEGV, out of
    memory, the machine went down) before it could write anything."""
    tail = read_tail(Path(run) / rundir.EVENTS, set(STATE_TYPES),
                     stop=lambda found: any(k in found for k in STATE_TYPES))
    newest = tail.newest(STATE_TYPES)
    if isinstance(newest, Error):
        at = f" at generation {newest.gen}" if newest.gen is not None else ""
        return f"error{at}: {newest.message}"
    return DIED


def reason(s: control.RunSummary) -> str:
    """The browser's one line for a run: why it is damaged, or why it crashed ("" otherwise)."""
    if s.damaged:
        return f"damaged: {s.damaged}"
    if s.newer_keys:
        return control.newer_engine_note(s.newer_keys)
    if s.state == "crashed":
        return crash_reason(s.path)
    return ""


class RunStates:
    """Cached summaries of the runs in ``runs_dir`` plus runs being launched."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)
        self._cache: dict[Path, tuple[tuple, RunRow]] = {}
        self.launching: dict[Path, float] = {}  # run dir -> time launched (not yet created by the engine)
        self.sweep_launches: set[Path] = set()  # launched sweeps: a row only if the start fails (else sweep.json's)
        self.recomputed = 0
        from .sweeps import SweepRows

        self.sweeps = SweepRows()

    def row(self, run: Path) -> RunRow | None:
        """The current row of one run (None if the folder holds no run; a damaged run has a row,
        its note saying why it is damaged)."""
        run = Path(run)
        key = _key(run)
        hit = self._cache.get(run)
        if hit is not None and hit[0] == key:
            return hit[1]
        if not control.is_run_dir(run):
            return None
        s = control.summary(run)
        created = 0.0
        for f in (run / rundir.CONFIG, run):
            try:
                created = f.stat().st_mtime
                break
            except OSError:
                continue
        notes = control.read_notes(run)
        control.tidy_launch_log(run)
        row = RunRow(s.path, s.name, s.task, s.state, max(0, s.gen), s.total, s.best, s.evals_per_s, s.updated,
                     created, note=reason(s), tags=notes.tags, notes=notes.text, retested=s.retested)
        self._cache[run] = (key, row)
        self.recomputed += 1
        return row

    def scan(self) -> dict[Path, RunRow]:
        """All runs, the most recently started first (a stable order).

        Launched runs the engine has not created yet show as starting (or failed, with the
        first error line of their launch log)."""
        rows: dict[Path, RunRow] = {}
        try:
            entries = [d for d in self.runs_dir.iterdir() if d.is_dir()]
        except OSError:
            entries = []
        keep: set[Path] = set()  # cached rows to keep: runs, and the members of sweeps
        for d in entries:
            if is_sweep(d):
                r: RunRow | None = self.sweeps.row(d, self)
                keep.update(self.sweeps.members_of(d))
            else:
                r = self.row(d)
            if r is not None:
                rows[d] = r
                self.launching.pop(d, None)
                self.sweep_launches.discard(d)
        for run, t in list(self.launching.items()):
            if run in rows:
                continue
            err = launch_error(self.runs_dir, run.name)
            state = "failed" if err else "starting"
            if not err and time.time() - t > 120:
                self.launching.pop(run, None)
                self.sweep_launches.discard(run)
                continue
            if not err and run in self.sweep_launches:
                continue
            rows[run] = RunRow(run, run.name, "", state, 0, 0, None, None, t, t, note=err or "")
        for gone in set(self._cache) - set(rows) - keep:
            self._cache.pop(gone, None)
        self.sweeps.forget_except(set(rows))
        return dict(sorted(rows.items(), key=lambda kv: (kv[1].created, kv[1].name), reverse=True))

    def forget(self, run: Path) -> None:
        self._cache.pop(Path(run), None)
        self.launching.pop(Path(run), None)

    def with_state(self, row: RunRow, state: str) -> RunRow:
        return replace(row, state=state)


def launch_error(runs_dir: Path, name: str) -> str | None:
    """The engine's error line from a launch that failed before creating the run, if any."""
    try:
        text = control.launch_log(runs_dir, name).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if "error:" in line:
            return line.strip()
    return None

"""Comparing runs: colours of marked runs and what the comparison shows of each (no Textual).

Runs are read with the console's own :class:`~wanntui.model.RunModel` (the resume rule,
bounded history) through a :class:`~wanntui.tail.Watcher` that is polled, never started: each
poll reads only what was appended since the last one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import C, RunModel, Snapshot, bucket_rows
from .tail import Watcher

#: (plotext, Rich) names of the colours marked runs get, in order.
PALETTE = (("green+", "bright_green"), ("cyan+", "bright_cyan"), ("magenta+", "bright_magenta"),
           ("orange", "dark_orange"), ("blue+", "bright_blue"), ("red+", "bright_red"), ("yellow", "yellow"),
           ("gray+", "grey70"))
#: Markers telling runs apart without colour (ASCII mode, NO_COLOR), same order as the palette.
PLAIN_MARKERS = ("o", "+", "x", "*", "#", "@", "%", "&")


def assign_slot(taken: Iterable[int]) -> int:
    """The first palette slot not used by a marked run (a run keeps its slot while marked)."""
    used = set(taken)
    slot = 0
    while slot in used:
        slot += 1
    return slot


def colour(slot: int) -> str:
    """The plot colour of a palette slot."""
    return PALETTE[slot % len(PALETTE)][0]


def style(slot: int) -> str:
    """The same colour for Rich text (table keys, marked rows)."""
    return PALETTE[slot % len(PALETTE)][1]


def marker(slot: int) -> str:
    return PLAIN_MARKERS[slot % len(PLAIN_MARKERS)]


@dataclass(frozen=True)
class RunResult:
    """One run in the comparison: its best-ever-mean curve and final numbers."""

    path: Path
    name: str
    task: str
    gens: np.ndarray  # x of the curve (a merged span of generations sits at its middle)
    best_mean: np.ndarray
    final_best: float | None
    peak: float | None
    conns: int | None
    generations: int
    total: int
    wall: float | None  # engine wall time (s), resumes included

    @classmethod
    def from_snapshot(cls, snap: Snapshot, points: int = 512) -> RunResult:
        """``points``: the curve is downsampled to at most this many points (maxima kept)."""
        rows = bucket_rows(snap.history, points)
        x = (rows[:, C["gen_lo"]] + rows[:, C["gen"]]) / 2 if len(rows) else np.zeros(0)
        y = rows[:, C["best_mean"]] if len(rows) else np.zeros(0)
        ok = np.isfinite(y)
        last = snap.last

        def val(v: float | None) -> float | None:
            return v if v is not None and math.isfinite(v) else None

        return cls(
            path=snap.path, name=snap.path.name, task=snap.meta.task, gens=x[ok], best_mean=y[ok],
            final_best=val(last.best_mean if last else None), peak=val(last.best_peak if last else None),
            conns=last.best_conns if last else None, generations=snap.gen_done, total=snap.meta.total,
            wall=val(last.elapsed if last else None),
        )


class Comparison:
    """The runs being compared, read incrementally (call :meth:`poll` from a worker thread)."""

    def __init__(self, runs: Iterable[Path], shared: Mapping[Path, RunModel] | None = None) -> None:
        self.runs = [Path(r) for r in runs]
        self.watcher = Watcher()
        self.models: dict[Path, RunModel] = {}
        for run in self.runs:
            model = (shared or {}).get(run)
            if model is None:  # not open in a live view: read it ourselves
                model = RunModel(run)
                self.watcher.add(run, model)
            self.models[run] = model

    def poll(self) -> list[RunResult]:
        """Read what the runs appended since the last call; the results in marking order."""
        self.watcher.poll_once()
        return [RunResult.from_snapshot(self.models[r].snapshot(recent=1)) for r in self.runs]

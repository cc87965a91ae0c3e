"""The population as a scatter of mean fitness against connections (or peak), first front highlighted."""

from __future__ import annotations

import numpy as np
from textual.reactive import reactive

from wann_engine.events import numbers

from ..model import Snapshot
from .plot import Plot

AXES = {
    "conns": ("connections", "front", "mean vs connections"),
    "peak": ("peak (best weight)", "front_peak", "mean vs peak"),
}


def objectives(last: dict) -> np.ndarray:
    """The ``objectives`` rows [mean, peak, conns] of a generation event as floats."""
    raw = last.get("objectives") or []
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        arr = numbers(raw)
    return arr.reshape(-1, 3) if arr.size else np.zeros((0, 3))


class ParetoPlot(Plot):
    """``a`` switches the x axis between connection count and peak fitness."""

    BORDER_TITLE = "2 Pareto: mean vs connections"
    HELP = "Each point is one individual of the current population; the first non-dominated front is " \
           "highlighted. Press a to switch the x axis between connections and peak fitness."

    axes: reactive[str] = reactive("conns")

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self._snap: Snapshot | None = None
        self.front_size = 0
        self.x_label = AXES["conns"][0]

    def toggle(self) -> None:
        self.axes = "peak" if self.axes == "conns" else "conns"

    def watch_axes(self) -> None:
        self.x_label, _, title = AXES[self.axes]
        self.border_title = f"2 Pareto: {title}"
        if self._snap is not None:
            self.show(self._snap)

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        p = self.plt
        p.clear_data()
        p.title("")
        xlabel, front_key, _ = AXES[self.axes]
        last = snap.last
        obj = objectives(last) if last else np.zeros((0, 3))
        if len(obj) == 0:
            p.title("waiting for the first generation")
            self.front_size = 0
            self.refresh()
            return
        x = obj[:, 2] if self.axes == "conns" else obj[:, 1]
        y = obj[:, 0]
        on_front = np.zeros(len(obj), dtype=bool)
        idx = np.asarray([i for i in (last.get(front_key) or []) if 0 <= int(i) < len(obj)], dtype=int)
        on_front[idx] = True
        self.front_size = int(on_front.sum())
        ok = np.isfinite(x) & np.isfinite(y)
        rest, front = ok & ~on_front, ok & on_front
        plain = self.plain_markers
        label = self.size.height >= 14
        if rest.any():
            p.scatter(x[rest].tolist(), y[rest].tolist(), marker="." if plain else "•", color="blue",
                      label="population" if label else None)
        if front.any():
            order = np.argsort(x[front])
            p.scatter(x[front][order].tolist(), y[front][order].tolist(), marker="@" if plain else "●",
                      color="red", label="front" if label else None)
        p.xlabel(xlabel)
        p.ylabel("mean")
        self.border_subtitle = f"gen {last['gen']}  front {self.front_size}/{len(obj)}"
        self.refresh()

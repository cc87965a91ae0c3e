"""The population as a scatter of mean fitness against connections (or peak), first front highlighted."""

from __future__ import annotations

import numpy as np
from textual.binding import Binding
from textual.reactive import reactive

from ..model import Snapshot
from .plot import Plot, plottable

AXES = {
    "conns": ("connections", "front", "mean vs connections"),
    "peak": ("peak (best weight)", "front_peak", "mean vs peak"),
}


class ParetoPlot(Plot):
    """``a`` switches the x axis between connection count and peak fitness."""

    BORDER_TITLE = "2 Pareto: mean vs connections"
    #: in the footer while this pane is focused (the live view's own ``a`` works from any pane)
    BINDINGS = [Binding("a", "screen.pareto_axes", "Axes", id="pareto.axes",
                        tooltip="Pareto: mean vs connections / vs peak")]
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
        p.clear_figure()
        p.title("")
        xlabel, front_key, _ = AXES[self.axes]
        last = snap.population if snap.population is not None else snap.last  # (population: every few s)
        obj = last.objectives if last else np.zeros((0, 3))
        damaged = last.damage("objectives", front_key) if last else None  # (a damaged field reads as empty)
        if last is None or len(obj) == 0:
            self.message = (self.empty_text if last is None else
                            f"generation {last.gen}: damaged field, not shown" if damaged else
                            "waiting for the first generation")
            self.front_size = 0
            self.border_subtitle = "" if last is None else f"gen {last.gen}" + (
                f"  damaged: {damaged}" if damaged else "")
            self.refresh()
            return
        self.message = ""
        x = obj[:, 2] if self.axes == "conns" else obj[:, 1]
        y = obj[:, 0]
        on_front = np.zeros(len(obj), dtype=bool)
        on_front[np.asarray(last.front if front_key == "front" else last.front_peak, dtype=int)] = True
        self.front_size = int(on_front.sum())
        ok = plottable(x, y)
        rest, front = ok & ~on_front, ok & on_front
        plain = self.plain_markers
        dot, big = (".", "@") if plain else ("•", "●")
        if rest.any():
            p.scatter(x[rest].tolist(), y[rest].tolist(), marker=dot, color="blue")
        if front.any():
            order = np.argsort(x[front])
            p.scatter(x[front][order].tolist(), y[front][order].tolist(), marker=big, color="red")
        if self.axes == "conns" and ok.any():  # connections are counted: integer ticks only
            self.int_xticks(float(x[ok].min()), float(x[ok].max()))
        p.xlabel(xlabel)
        p.ylabel("mean")
        # the legend sits on the border, never over the points
        self.border_subtitle = f"gen {last.gen}  " + (f"damaged: {damaged}" if damaged else
                                                      f"[blue]{dot}[/]pop [red]{big}[/]front "
                                                      f"{self.front_size}/{len(obj)}")
        self.refresh()

"""Fitness over generations: population median and max, best-ever mean and its peak.

Three settings change what is drawn (keys of the live view): the y range (``auto``, from zero, or a log
scale when every value drawn is positive), a window of the last N generations, and what x is
(generation, evaluations so far, or wall time).
"""

from __future__ import annotations

import numpy as np
from textual.binding import Binding

from .. import fmt
from ..model import C, Snapshot, bucket_rows
from .plot import Plot, plottable

#: (history column, legend label, short label, colour, plain marker); drawn in this order, so under
#: NO_COLOR/ASCII the population's max ("+") is drawn last, over the champion's markers it often meets
SERIES = (
    ("fit_median", "median", "median", "cyan", "."),
    ("best_mean", "best mean", "best", "green", "o"),
    ("best_peak", "best peak", "peak", "yellow", "^"),
    ("fit_max", "pop max", "max", "magenta", "+"),
)
#: y range settings, in the order ``y`` cycles them
Y_MODES = ("auto", "zero", "log")
#: generation windows (None: the whole run), in the order ``l`` cycles them
WINDOWS = (None, 100, 1000)
#: x axis settings: key -> (history column, axis label), in the order ``x`` cycles them
X_MODES = {"gen": ("gen", "generation"), "evals": ("evaluations", "evaluations"), "time": ("elapsed", "wall time")}


def _next(seq: tuple, cur: object) -> object:
    return seq[(seq.index(cur) + 1) % len(seq)]


class FitnessCurves(Plot):
    """Scales itself; long runs are shown whole, downsampled to the plot's width. The legend sits on the
    border, never over the curves."""

    BORDER_TITLE = "1 Fitness"
    #: shown in the footer (as one entry, "y l x Plot") while this pane is focused; the live view binds the
    #: same keys (hidden) so that they work from any pane
    BINDINGS = [
        Binding("y", "cycle_y", "Plot", id="curves.yrange", key_display="y l x",
                tooltip="y: y range auto / from zero / log scale; l: last 100 / 1000 generations; "
                        "x: x as generation / evaluations / wall time"),
        Binding("l", "cycle_window", "Last N", show=False, id="curves.window",
                tooltip="All generations / the last 100 / the last 1000"),
        Binding("x", "cycle_x", "X axis", show=False, id="curves.xaxis",
                tooltip="X: generation / evaluations / wall time"),
    ]
    HELP = "Fitness per generation: population median and max, the champion's mean over all weights " \
           "(best mean) and at its best single weight (best peak). y: y range (auto / from zero / log), " \
           "l: last 100 or 1000 generations, x: x axis (generation / evaluations / wall time)."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self.points = 0
        self.y_mode = "auto"
        self.window: int | None = None
        self.x_mode = "gen"
        self.note = ""  # why a setting could not apply (log scale with values <= 0)
        self.x_range: tuple[float, float] | None = None  # the x span drawn (tests)
        self._snap: Snapshot | None = None

    # --- settings ---------------------------------------------------------------------------------------
    def cycle_y(self) -> str:
        self.y_mode = str(_next(Y_MODES, self.y_mode))
        self._redraw()
        return self.y_mode

    def cycle_window(self) -> int | None:
        self.window = _next(WINDOWS, self.window)  # type: ignore[assignment]
        self._redraw()
        return self.window

    def cycle_x(self) -> str:
        self.x_mode = str(_next(tuple(X_MODES), self.x_mode))
        self._redraw()
        return self.x_mode

    def action_cycle_y(self) -> None:
        self.cycle_y()

    def action_cycle_window(self) -> None:
        self.cycle_window()

    def action_cycle_x(self) -> None:
        self.cycle_x()

    def _redraw(self) -> None:
        if self._snap is not None:
            self.show(self._snap)

    def settings_text(self) -> str:
        parts = []
        if self.window:
            parts.append(f"last {self.window}")
        if self.x_mode != "gen":
            parts.append(f"x {X_MODES[self.x_mode][1]}")
        if self.y_mode != "auto":
            parts.append("y from 0" if self.y_mode == "zero" else "log y")
        return "  ".join(parts)

    # --- drawing ----------------------------------------------------------------------------------------
    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        p = self.plt
        p.clear_data()
        p.clear_figure()
        p.title("")
        self.note = ""
        self.x_range = None
        rows = snap.history
        if self.window and len(rows):
            rows = rows[rows[:, C["gen"]] > rows[-1, C["gen"]] - self.window]
        rows = bucket_rows(rows, max(16, 2 * max(self.size.width - 8, 8)))
        self.points = len(rows)
        self.message = "" if len(rows) else self.empty_text
        if len(rows):
            col, xlabel = X_MODES[self.x_mode]
            if col == "gen":
                x = (rows[:, C["gen_lo"]] + rows[:, C["gen"]]) / 2  # a merged span sits at its middle
            else:
                x = rows[:, C[col]]
            ys = [(s, rows[:, C[s[0]]]) for s in SERIES]
            oks = [plottable(x, y) for _, y in ys]
            drawn = np.concatenate([y[ok] for (_, y), ok in zip(ys, oks, strict=True)])
            log = self.y_mode == "log"
            if log and (drawn.size == 0 or drawn.min() <= 0):
                log, self.note = False, "log y: values <= 0"
            for ((_, _, _, color, plain), y), ok in zip(ys, oks, strict=True):
                if ok.any():
                    p.plot(x[ok].tolist(), y[ok].tolist(), marker=plain if self.plain_markers else "braille",
                           color=color)
            if log:
                p.yscale("log")
            elif self.y_mode == "zero" and drawn.size:
                lo, hi = min(0.0, float(drawn.min())), max(0.0, float(drawn.max()))
                p.ylim(lo, hi if hi > lo else lo + 1)
            xs = x[np.isfinite(x)]
            if xs.size:
                lo, hi = float(xs.min()), float(xs.max())
                self.x_range = (lo, hi)
                if self.x_mode == "time":
                    self.int_xticks(lo, hi, lambda t: fmt.duration(float(t)))
                elif self.x_mode == "evals":
                    self.int_xticks(lo, hi, lambda t: fmt.rate(float(t)))
                else:
                    self.int_xticks(lo, hi)
            elif self.x_mode != "gen":
                p.title(f"no {xlabel} in this run's events")
            p.xlabel(xlabel)
        self.border_title = " ".join(filter(None, (self.BORDER_TITLE, self.settings_text())))
        mk = (lambda s: s[4]) if self.plain_markers else (lambda s: "─")
        legend = " ".join(f"[{s[3]}]{mk(s)}[/]{s[2]}" for s in SERIES)
        self.border_subtitle = legend + (f"  {self.note}" if self.note else "")
        self.refresh()

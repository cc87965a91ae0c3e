"""A PlotextPlot that can draw with ASCII only (frame and markers)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import numpy as np
from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from ..netgraph_text import ASCII_TABLE

#: The largest magnitude plotext can draw: its tick arithmetic overflows on values near the float limit
#: (1e308 raises inside ``build``), so larger values are left out as if they were not finite.
MAX_PLOTTABLE = 1e300
#: SGR escape sequences (plotext's colours, including its 256-colour greys for axes and ticks)
SGR = re.compile(r"\x1b\[[0-9;]*m")


def plottable(*arrays: np.ndarray) -> np.ndarray:
    """Where every one of the (equally long) arrays holds a value plotext can draw."""
    ok = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        ok &= np.isfinite(a) & (np.abs(a) <= MAX_PLOTTABLE)
    return ok


class Plot(PlotextPlot):
    """textual-plotext's widget, focusable, with an ASCII mode for terminals without UTF-8."""

    can_focus = True
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    Plot { width: 1fr; height: 1fr; }
    """

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.ascii = ascii
        self.mono = bool(os.environ.get("NO_COLOR"))
        self.builds = 0
        #: what the pane says instead of an empty plot ("" draws the plot): wrapped to the pane's width,
        #: where a plot title would be cut
        self.message = ""
        #: the message for a run without a generation; the live view says why none came
        self.empty_text = "waiting for the first generation"

    @property
    def plain_markers(self) -> bool:
        """Markers must tell series apart without colour (ASCII or NO_COLOR)."""
        return self.ascii or self.mono

    def say(self, message: str) -> None:
        """Show ``message`` in place of the plot."""
        self.message = message
        self.refresh()

    def render(self) -> RenderResult:
        if self.message:
            return Text(self.message, justify="center")
        w, h = self.size.width, self.size.height
        self._plot.plotsize(w, h)
        self._plot._set_size(w, h)
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        try:
            out = self._plot.build()
        except (ArithmeticError, ValueError, IndexError):  # plotext's tick arithmetic on degenerate ranges
            return Text("cannot draw these values (range too large or too narrow)", justify="center")
        self.builds += 1
        if self.ascii:
            out = out.translate(ASCII_TABLE)
        if self.mono:  # NO_COLOR: no colour at all (markers tell the series apart)
            return Text(SGR.sub("", out), no_wrap=True)
        return Text.from_ansi(out, no_wrap=True)

    def int_xticks(self, lo: float, hi: float, label: Callable[[int], str] = str) -> None:
        """Integer ticks on the x axis over [lo, hi] (a single value gets one tick, centred)."""
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return
        if hi - lo < 1:
            lo, hi = float(np.floor(lo)) - 1, float(np.ceil(hi)) + 1
            if not hi > lo:  # past 2**53 adding 1 changes nothing
                return
            self.plt.xlim(lo, hi)
        ticks = int_ticks(lo, hi, max(2, (self.size.width - 12) // 12))
        if ticks:
            self.plt.xticks(ticks, [label(t) for t in ticks])



def int_ticks(lo: float, hi: float, n: int) -> list[int]:
    """Round integer ticks (steps of 1, 2 or 5 times a power of ten) within [lo, hi], as many as fit in
    ``n + 1`` (at least 2 when the range holds two integers), for axes that count things (generations,
    connections, evaluations): never a fractional tick."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return []
    lo_i, hi_i = int(np.ceil(lo)), int(np.floor(hi))
    if hi_i < lo_i:
        return []
    step, base = 1, 1
    while True:
        for m in (1, 2, 5):
            step = m * base
            if hi_i // step - -(-lo_i // step) + 1 <= max(2, n + 1):
                first = -(-lo_i // step) * step
                return list(range(first, hi_i + 1, step))
        base *= 10

"""A PlotextPlot that can draw with ASCII only (frame and markers)."""

from __future__ import annotations

import os

import numpy as np
from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from ..netgraph_text import ASCII_TABLE

#: The largest magnitude plotext can draw: its tick arithmetic overflows on values near the float limit
#: (1e308 raises inside ``build``), so larger values are left out as if they were not finite.
MAX_PLOTTABLE = 1e300


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

    @property
    def plain_markers(self) -> bool:
        """Markers must tell series apart without colour (ASCII or NO_COLOR)."""
        return self.ascii or self.mono

    def render(self) -> RenderResult:
        w, h = self.size.width, self.size.height
        self._plot.plotsize(w, h)
        self._plot._set_size(w, h)
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        out = self._plot.build()
        self.builds += 1
        if self.ascii:
            out = out.translate(ASCII_TABLE)
        return Text.from_ansi(out, no_wrap=True)

"""The performance profile: score against shared weight, with a cursor at the explorer's weight."""

from __future__ import annotations

import math

import numpy as np

from .plot import Plot


class ProfilePlot(Plot):
    BORDER_TITLE = "Performance profile"
    HELP = "Score at each shared weight in [-3, 3] (mean over the seeded episodes; classification: test " \
           "accuracy), with the current connection offsets applied. The vertical line is the current weight."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self.weights = np.zeros(0)
        self.mean = np.zeros(0)
        self.cursor = 1.0
        self.cursor_score: float | None = None
        self.label = ""

    def set_profile(self, weights: np.ndarray, mean: np.ndarray, label: str) -> None:
        self.weights, self.mean, self.label = np.asarray(weights), np.asarray(mean), label
        self.border_title = f"Profile: {label}"
        self.redraw()

    def set_cursor(self, weight: float, score: float | None) -> None:
        self.cursor, self.cursor_score = weight, score
        self.redraw()

    def redraw(self) -> None:
        p = self.plt
        p.clear_data()
        p.title("")
        ok = np.isfinite(self.mean)
        if not ok.any():
            p.title("computing the profile...")
        else:
            marker = "." if self.plain_markers else "braille"
            p.plot(self.weights[ok].tolist(), self.mean[ok].tolist(), marker=marker, color="cyan")
            best = int(np.argmax(np.where(ok, self.mean, -np.inf)))
            p.scatter([float(self.weights[best])], [float(self.mean[best])], marker="@" if self.plain_markers
                      else "●", color="green")
            if self.cursor_score is not None and math.isfinite(self.cursor_score):
                p.scatter([self.cursor], [self.cursor_score], marker="x" if self.plain_markers else "◆",
                          color="red")
            p.xlabel("shared weight")
            p.xlim(-3.0, 3.0)
        p.vertical_line(self.cursor, color="red")
        self.border_subtitle = ""
        if ok.any():
            b = int(np.argmax(np.where(ok, self.mean, -np.inf)))
            self.border_subtitle = f"best {self.mean[b]:.4g} at w {self.weights[b]:+.2f}"
        self.refresh()

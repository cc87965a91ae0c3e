"""Fitness over generations: population median and max, best-ever mean and its peak."""

from __future__ import annotations

from ..model import C, Snapshot, bucket_rows
from .plot import Plot, plottable

#: (history column, legend label, short label, colour, plain marker)
SERIES = (
    ("fit_median", "median", "median", "cyan", "."),
    ("fit_max", "pop max", "max", "magenta", "+"),
    ("best_mean", "best mean", "best", "green", "o"),
    ("best_peak", "best peak", "peak", "yellow", "^"),
)


class FitnessCurves(Plot):
    """Scales itself; long runs are shown whole, downsampled to the plot's width."""

    BORDER_TITLE = "1 Fitness"
    HELP = "Fitness per generation: population median and max, the champion's mean over all weights " \
           "(best mean) and at its best single weight (best peak)."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self.points = 0

    def show(self, snap: Snapshot) -> None:
        p = self.plt
        p.clear_data()
        p.title("")
        rows = bucket_rows(snap.history, max(16, 2 * max(self.size.width - 8, 8)))
        self.points = len(rows)
        legend_inside = self.size.height >= 14
        if len(rows) == 0:
            p.title("waiting for the first generation")
        else:
            x = (rows[:, C["gen_lo"]] + rows[:, C["gen"]]) / 2  # a merged span sits at its middle
            for col, label, _, color, plain in SERIES:
                y = rows[:, C[col]]
                ok = plottable(x, y)
                if not ok.any():
                    continue
                marker = plain if self.plain_markers else "braille"
                p.plot(x[ok].tolist(), y[ok].tolist(), marker=marker, color=color,
                       label=label if legend_inside else None)
            p.xlabel("generation")
        if not legend_inside:
            mk = (lambda s: s[4]) if self.plain_markers else (lambda s: "─")
            self.border_subtitle = " ".join(f"[{s[3]}]{mk(s)}[/]{s[2]}" for s in SERIES)
        else:
            self.border_subtitle = ""
        self.refresh()

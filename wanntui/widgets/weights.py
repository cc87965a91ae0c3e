"""Per shared weight: the champion's score and the population's best, best weight marked."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import DataTable

from .. import fmt
from ..model import Snapshot

#: The per-weight fields this table shows (a damaged one is said so in the subtitle).
PER_WEIGHT = ("retest_per_weight", "best_per_weight", "pop_best_per_weight")
COLUMNS = (("weight", "weight"), ("champion", "champion"), ("pop", "pop best"), ("mark", ""))


class WeightTable(DataTable):
    """Updated in place (no clear per update), so the cursor and scroll stay put."""

    BORDER_TITLE = "4 Per weight"
    ALLOW_MAXIMIZE = True
    HELP = "Score at each shared weight: the champion's (re-tested on fresh episodes: retest_per_weight; " \
           "without re-tests the raw best_per_weight) and the best of the population (pop_best_per_weight). " \
           "The champion's best weight is marked."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.ascii = ascii
        self.best_index: int | None = None
        self.values: list[tuple[float, float, float]] = []
        self._shown: dict[tuple[int, str], tuple[str, str]] = {}
        #: the subtitle while the run has no generation (no rows are shown then); the live view says why
        self.empty_text = "waiting"

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, snap: Snapshot) -> None:
        weights = list(snap.meta.weights)
        last = snap.last
        champ = list(last.retest_per_weight or last.best_per_weight) if last else []
        pop = list(last.pop_best_per_weight) if last else []
        if last is None:  # no scores yet: no rows (never a column of "nan")
            weights = []
        elif not weights:
            weights = [math.nan] * max(len(champ), len(pop))
        rows = [(w, champ[i] if i < len(champ) else math.nan, pop[i] if i < len(pop) else math.nan)
                for i, w in enumerate(weights)]
        marked = fmt.best_weight(last, tuple(weights))
        best = marked[0] if marked is not None else None
        if len(rows) != self.row_count:
            self.clear()
            self._shown = {}
            for i in range(len(rows)):
                self.add_row(*([""] * len(COLUMNS)), key=str(i))
        mark = "< best" if self.ascii else "◀ best"
        for i, (w, c, p) in enumerate(rows):
            style = "bold reverse" if i == best else ""
            cells = {"weight": fmt.number(w, 2), "champion": fmt.number(c), "pop": fmt.number(p),
                     "mark": mark if i == best else ""}
            for key, value in cells.items():
                if self._shown.get((i, key)) == (value, style):
                    continue
                self._shown[(i, key)] = (value, style)
                self.update_cell(str(i), key, Text(value, style=style, justify="left" if key == "mark" else "right"))
        self.best_index = best
        self.values = rows
        damaged = last.damage(*PER_WEIGHT) if last is not None else None
        self.border_subtitle = self.empty_text if last is None else f"gen {last.gen}" + (
            f"  damaged: {damaged}" if damaged else "")

    def cell_text(self, row: int, column: str) -> str:
        """Plain text of a cell (for tests and screen readers)."""
        value = self.get_cell(str(row), column)
        return value.plain if isinstance(value, Text) else str(value)

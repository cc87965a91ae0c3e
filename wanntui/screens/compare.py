"""Runs side by side: best-ever-mean fitness curves overlaid (one colour per run) and their final numbers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wann_engine.sweep import gens_text

from .. import fmt
from ..comparison import Comparison, RunResult, colour, marker, style
from ..model import RunModel
from ..widgets.plot import Plot
from .panes import PaneKeys

COLUMNS = (("key", ""), ("run", "run"), ("task", "task"), ("best", "final best"), ("peak", "peak"),
           ("conns", "conns"), ("gens", "gens"), ("wall", "wall time"))
#: columns that give way when the screen is narrow (the run name elided in the middle)
SHRINK = (("task", 8), ("run", 12), ("task", 4))


def tasks_differ(results: list[RunResult]) -> str:
    """A warning when the compared runs are of different tasks (their fitness scales differ)."""
    found = sorted({r.task for r in results if r.task})
    if len(found) < 2:
        return ""
    return f"different tasks ({', '.join(found)}): their fitness is not on one scale"


def key_text(slot: int, plain: bool) -> Text:
    """How a run is told apart: its colour, or its plot marker without colour."""
    return Text(marker(slot), style="bold") if plain else Text("━━", style=style(slot))


class CompareCurves(Plot):
    """The best-ever mean fitness of each run against generations."""

    BORDER_TITLE = "1 Best mean fitness"

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self.legend: list[str] = []

    def show(self, results: list[RunResult], slots: list[int]) -> None:
        p = self.plt
        p.clear_data()
        p.title("")
        inside = self.size.height >= 10
        self.legend = []
        for r, slot in zip(results, slots, strict=True):
            if len(r.gens) == 0:
                continue
            p.plot(r.gens.tolist(), r.best_mean.tolist(), color=colour(slot),
                   marker=marker(slot) if self.plain_markers else "braille", label=r.name if inside else None)
            self.legend.append(r.name)
        if not self.legend:
            p.title("no generations yet")
        p.xlabel("generation")
        self.border_subtitle = "" if inside else " ".join(
            f"[{style(s)}]{marker(s) if self.plain_markers else '━'}[/]{r.name}"
            for r, s in zip(results, slots, strict=True))
        self.refresh()


class CompareScreen(PaneKeys, Screen):
    BINDINGS = [
        Binding("escape,b", "back", "Runs", id="compare.back"),
        Binding("1", "focus_pane('compare-curves')", "Curves", show=False, id="compare.focus1"),
        Binding("2", "focus_pane('compare-table')", "Table", show=False, id="compare.focus2"),
        Binding("z", "zoom", "Zoom", id="compare.zoom", tooltip="Maximize the focused pane / restore"),
    ]
    HELP = "The marked runs: best-ever mean fitness per generation, and each run's final numbers."
    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; padding: 0 1; background: $panel; text-style: bold;
                                   text-wrap: nowrap; text-overflow: ellipsis; }
    CompareScreen #compare-curves { height: 1fr; }
    CompareScreen #compare-table { height: auto; max-height: 45%; }
    CompareScreen #compare-table.-maximized { height: 1fr; max-height: 100%; }
    CompareScreen #compare-curves.-maximized { height: 1fr; }
    """

    def __init__(self, runs: list[Path], slots: list[int], models: Mapping[Path, RunModel] | None = None,
                 ascii: bool = False, every: float = 2.0) -> None:
        """``slots``: each run's palette slot (its colour); ``models``: runs already read by open live views."""
        super().__init__(id="compare")
        self.runs = [Path(r) for r in runs]
        self.slots = list(slots)
        self.ascii = ascii
        self.every = every
        self.comparison = Comparison(self.runs, models)
        self.results: list[RunResult] = []
        self._widths: dict[str, int] | None = None
        self._warned = False

    def compose(self) -> ComposeResult:
        yield Static(f"Comparing {len(self.runs)} runs", id="compare-title")
        yield CompareCurves(ascii=self.ascii, id="compare-curves", classes="pane")
        yield DataTable(id="compare-table", classes="pane", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.border_title = "2 Final numbers"
        table.focus()
        self.refresh_data()
        self.set_interval(self.every, self.refresh_data)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def refresh_data(self) -> None:
        """Read what the runs appended (off the UI thread), then show it."""
        results = self.comparison.poll()
        if self.is_attached:
            self.app.call_from_thread(self.show, results)

    def on_resize(self) -> None:
        if self.results:
            self._widths = None
            self.show(self.results)

    def show(self, results: list[RunResult]) -> None:
        self.results = results
        self.query_one(CompareCurves).show(results, self.slots)
        warn = tasks_differ(results)
        title = f"Comparing {len(self.runs)} runs" + (f"  ⚠ {warn}" if warn else "")
        self.query_one("#compare-title", Static).update(Text(title, style="bold yellow" if warn else ""))
        if warn and not self._warned:
            self._warned = True
            self.notify(warn, title="compare", severity="warning", timeout=6)
        table = self.query_one("#compare-table", DataTable)
        plain = self.ascii or self.query_one(CompareCurves).plain_markers
        rows = [self.row_cells(r, s, plain) for r, s in zip(results, self.slots, strict=True)]
        natural = {k: max([len(label), *(c[k].cell_len for c in rows)]) for k, label in COLUMNS}
        natural["wall"] = max(natural["wall"], 6)
        widths = fmt.fit_columns(natural, (self.size.width or self.app.size.width) - 4, SHRINK)
        fit = lambda c, w: c if c.cell_len <= w else Text(fmt.elide(c.plain, w), style=c.style,  # noqa: E731
                                                          justify=c.justify)
        if table.row_count != len(rows) or widths != self._widths:
            table.clear(columns=widths != self._widths)
            if widths != self._widths:
                for key, label in COLUMNS:
                    table.add_column(label, key=key, width=widths[key])
                self._widths = widths
            for r, cells in zip(results, rows, strict=True):
                table.add_row(*(fit(cells[k], widths[k]) for k, _ in COLUMNS), key=str(r.path))
        else:
            for r, cells in zip(results, rows, strict=True):
                for k, _ in COLUMNS:
                    table.update_cell(str(r.path), k, fit(cells[k], widths[k]))

    @staticmethod
    def row_cells(r: RunResult, slot: int, plain: bool) -> dict[str, Text]:
        right = lambda s: Text(s, justify="right")  # noqa: E731
        return {
            "key": key_text(slot, plain), "run": Text(r.name), "task": Text(r.task),
            "best": right(fmt.number(r.final_best)), "peak": right(fmt.number(r.peak)),
            "conns": right("-" if r.conns is None else str(r.conns)),
            "gens": right(gens_text(r.generations, r.total) if r.total else str(r.generations)),
            "wall": right(fmt.duration(r.wall)),
        }

    def cell_text(self, run: Path, column: str) -> str:
        """Plain text of a table cell (for tests)."""
        value = self.query_one("#compare-table", DataTable).get_cell(str(run), column)
        return value.plain if isinstance(value, Text) else str(value)

    def action_back(self) -> None:
        if not self.unzoom():
            self.app.pop_screen()

    def commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for the command palette."""
        return [("compare: back", "Back to the run browser", "back"),
                ("compare: zoom", "Maximize the focused pane / restore", "zoom")]

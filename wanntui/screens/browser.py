"""The run browser: every run in the runs folder with its state, progress and speed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from .. import fmt
from ..comparison import assign_slot, marker, style
from ..runs import RunRow
from ..widgets.status import STATE_STYLES
from .compare import CompareScreen
from .controls import CONTROL_BINDINGS, RunControls

COLUMNS = (("name", "run"), ("task", "task"), ("state", "state"), ("gen", "gen/total"), ("best", "best"),
           ("rate", "evals/s"), ("updated", "updated"), ("note", ""))


def row_cells(r: RunRow, now: float, mark: Text | None = None) -> dict[str, Text]:
    """The cells of a run's row; ``mark``: the prefix of a run marked for comparison."""
    total = r.total or "?"
    name = Text.assemble(mark, " ", (r.name, "bold")) if mark is not None else Text(r.name)
    return {
        "name": name, "task": Text(r.task),
        "state": Text(r.state, style=STATE_STYLES.get(r.state, "")),
        "gen": Text(f"{r.gen}/{total}", justify="right"), "best": Text(fmt.number(r.best), justify="right"),
        "rate": Text(fmt.rate(r.evals_per_s), justify="right"), "updated": Text(fmt.age(r.updated, now)),
        "note": Text(r.note, style="red" if r.note else ""),
    }


class BrowserScreen(RunControls, Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="browser.open", show=False),
        Binding("o", "open", "Open", id="browser.open_o"),
        Binding("n", "new", "New run", id="browser.new"),
        *CONTROL_BINDINGS,
        Binding("d", "delete", "Delete", id="run.delete", tooltip="Delete the run folder (asks first)"),
        Binding("space", "mark", "Mark", id="browser.mark", tooltip="Mark / unmark the selected run for comparison"),
        Binding("v", "compare", "Compare", id="browser.compare",
                tooltip="Overlay the fitness curves of the marked runs, with their final numbers"),
    ]
    HELP = "All runs in the runs folder. Keys in the footer act on the selected run."

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(id="browser")
        self.runs_dir = Path(runs_dir)
        self.rows: dict[Path, RunRow] = {}
        self._shown: dict[Path, dict[str, str]] = {}
        self._empty: str | None = None
        self._bound_state: tuple | None = None
        self.marked: dict[Path, int] = {}  # run -> palette slot, in marking order

    def compose(self) -> ComposeResult:
        yield Static(f"wann-tui  runs in {self.runs_dir}", id="browser-title")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="browser-empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.show_rows(self.tui.run_rows)

    def show_rows(self, rows: dict[Path, RunRow]) -> None:
        """Update the table in place; rebuild only when the set or order of runs changed."""
        table = self.query_one("#runs", DataTable)
        now = time.time()
        keys = [str(p) for p in rows]
        current = [str(k.value) for k in table.rows]
        if keys != current:
            selected = self.selected_run()
            table.clear()
            for p, r in rows.items():
                cells = row_cells(r, now, self.mark_of(p))
                table.add_row(*(cells[k] for k, _ in COLUMNS), key=str(p))
            if selected is not None and str(selected) in keys:
                table.move_cursor(row=keys.index(str(selected)), animate=False)
        else:
            for p, r in rows.items():
                cells = row_cells(r, now, self.mark_of(p))
                shown = self._shown.get(p, {})
                for k, _ in COLUMNS:
                    if shown.get(k) != cells[k].plain:
                        table.update_cell(str(p), k, cells[k], update_width=True)
        self._shown = {p: {k: c.plain for k, c in row_cells(r, now, self.mark_of(p)).items()}
                       for p, r in rows.items()}
        self.rows = dict(rows)
        empty = "" if rows else f"No runs in {self.runs_dir} yet. Press n to start one."
        if empty != self._empty:
            self._empty = empty
            self.query_one("#browser-empty", Static).update(empty)
        for gone in [p for p in self.marked if p not in rows]:
            del self.marked[gone]
        state = self.selected_state(), len(rows), len(self.marked)
        if state != self._bound_state:
            self._bound_state = state
            self.refresh_bindings()

    def selected_run(self) -> Path | None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return Path(str(key.value)) if key.value is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = self.control_allowed(action)
        if allowed is not None:
            return allowed
        if action in ("open", "mark"):
            return self.selected_run() is not None
        if action == "compare":
            return len(self.marked) >= 2
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._bound_state = (self.selected_state(), len(self.rows), len(self.marked))
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.tui.open_run(run)

    def mark_of(self, run: Path) -> Text | None:
        """The marker of a run marked for comparison (its colour; its plot marker without colour)."""
        slot = self.marked.get(Path(run))
        if slot is None:
            return None
        plain = self.tui.ascii or bool(os.environ.get("NO_COLOR"))
        return Text(f"[{marker(slot)}]" if plain else "●", style=f"bold {style(slot)}")

    def action_mark(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if run in self.marked:
            del self.marked[run]
        else:
            self.marked[run] = assign_slot(self.marked.values())
        self._shown.pop(run, None)
        self.show_rows(self.rows)

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            return
        runs = list(self.marked)
        self.app.push_screen(CompareScreen(runs, [self.marked[r] for r in runs],
                                           models=self.tui.models, ascii=self.tui.ascii))

    def action_new(self) -> None:
        self.tui.new_run()

    def commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for the command palette: only what applies now."""
        run = self.selected_run()
        name = run.name if run else ""
        out = [("run: new", "Start a new run (form)", "new")]
        for action, title in (("open", "open"), ("pause", "pause"), ("continue", "continue"), ("stop", "stop"),
                              ("kill", "kill"), ("resume", "resume"), ("delete", "delete")):
            if self.check_action(action, ()):
                out.append((f"run: {title} {name}", f"{title.capitalize()} the selected run", action))
        if self.check_action("mark", ()) and run is not None:
            verb = "unmark" if run in self.marked else "mark"
            out.append((f"run: {verb} {name}", f"{verb.capitalize()} the selected run for comparison", "mark"))
        if self.check_action("compare", ()):
            out.append((f"runs: compare {len(self.marked)} marked", "Overlay the marked runs' fitness curves",
                        "compare"))
        return out

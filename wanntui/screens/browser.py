"""The run browser: every run in the runs folder with its state, progress and speed.

Columns fit the terminal: the name and task columns give way first (long names elided in the
middle, so the task in front and the date and time behind stay), so state, generation and best
stay on screen at 80 columns. A line under the table says, for the selected run, why it failed or
crashed, and shows its tags and notes. ``/`` filters, ``S`` changes the order.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from wann_engine.sweep import gens_text

from .. import fmt
from ..comparison import assign_slot, marker, style
from ..runs import RunRow
from ..widgets.status import STATE_STYLES
from .compare import CompareScreen
from .controls import APPLIES, CONTROL_BINDINGS, LOG_BINDING, RunControls

COLUMNS = (("name", "run"), ("task", "task"), ("state", "state"), ("gen", "gen/total"), ("best", "best"),
           ("rate", "evals/s"), ("updated", "updated"), ("note", ""))
#: columns that give way when the terminal is narrow, in that order, and the width they keep
SHRINK = (("note", 0), ("task", 8), ("name", 14), ("task", 4))
#: widths of cells whose text varies every second (fixed, so the table does not jump)
FIXED = {"updated": 9, "rate": 7}

#: the run-control actions (none applies to a sweep's row)
CONTROL_ACTIONS = tuple(APPLIES)

#: the browser's orders: key -> (label, sort key of a row, newest/largest first)
SORTS: dict[str, tuple[str, object, bool]] = {
    "started": ("newest first", lambda r: (r.created, r.name), True),
    "updated": ("last updated", lambda r: r.updated, True),
    "best": ("best first", lambda r: -math.inf if r.best is None else r.best, True),
    "name": ("name", lambda r: r.name.lower(), False),
    "task": ("task", lambda r: (r.task, -r.created), False),
    "state": ("state", lambda r: (r.state, -r.created), False),
}


def row_cells(r: RunRow, now: float, mark: Text | None = None) -> dict[str, Text]:
    """The cells of a run's row; ``mark``: the prefix of a run marked for comparison."""
    name = Text.assemble(mark, " ", (r.name, "bold")) if mark is not None else Text(r.name)
    task = Text.assemble(("sweep", "bold"), " ", r.task) if r.kind == "sweep" else Text(r.task)
    return {
        "name": name, "task": task,
        "state": Text(r.state, style=STATE_STYLES.get(r.state, "")),
        "gen": Text(gens_text(r.gen, r.total), justify="right"), "best": Text(fmt.number(r.best), justify="right"),
        "rate": Text(fmt.rate(r.evals_per_s), justify="right"), "updated": Text(fmt.age(r.updated, now)),
        "note": Text(r.note, style="red" if r.note else ""),
    }


def fitted(cell: Text, width: int) -> Text:
    """A cell cut to ``width`` (the middle of a long text elided; its styles kept where they can be).
    A sweep's task cell too narrow for ``sweep TASK`` keeps the word ``sweep``."""
    if cell.cell_len <= width:
        return cell
    if cell.plain.startswith("sweep ") and cell.spans and width >= 5:
        return Text("sweep", style="bold")
    plain = fmt.elide(cell.plain, width)
    out = Text(plain, style=cell.style, justify=cell.justify)
    if cell.spans:  # a marked name: keep the marker's style on its first character
        first = cell.spans[0]
        out.stylize(first.style, 0, min(first.end, len(plain)))
    return out


def matches(r: RunRow, query: str) -> bool:
    """Does a run match the filter? Every word must match: ``state:crashed``, ``task:gym``, ``tag:x``
    or ``#x`` look at one field, other words at the name, task, state, tags and notes."""
    for word in query.lower().split():
        field, _, value = word.partition(":") if ":" in word else ("", "", word)
        if word.startswith("#"):
            field, value = "tag", word[1:]
        if field == "state":
            ok = r.state.startswith(value)
        elif field == "kind":
            ok = r.kind.startswith(value)
        elif field == "task":
            ok = value in r.task.lower()
        elif field in ("tag", "tags"):
            ok = any(value in t.lower() for t in r.tags)
        elif field == "name":
            ok = value in r.name.lower()
        else:
            ok = any(word in s for s in (r.name.lower(), r.task.lower(), r.state, r.kind, r.notes.lower(),
                                         *(t.lower() for t in r.tags)))
        if not ok:
            return False
    return True


class RunTable(DataTable):
    """The runs table: ``home`` / ``end`` go to the first / last run (not sideways)."""

    BINDINGS = [
        Binding("home", "first", "First run", show=False),
        Binding("end", "last", "Last run", show=False),
    ]

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)


class BrowserScreen(RunControls, Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="browser.open", show=False),
        Binding("o", "open", "Open", id="browser.open_o", tooltip="Open the run's live view, or a sweep's view"),
        Binding("n", "new", "New run", id="browser.new"),
        Binding("N", "new_from", "New from this", id="browser.new_from", show=False,
                tooltip="A new run with the selected run's configuration (the form, pre-filled)"),
        *CONTROL_BINDINGS,
        Binding("d", "delete", "Delete", id="run.delete", tooltip="Delete the run folder (asks first)"),
        LOG_BINDING,
        Binding("space", "mark", "Mark", id="browser.mark", tooltip="Mark / unmark the selected run for comparison"),
        Binding("v", "compare", "Compare", id="browser.compare",
                tooltip="Overlay the fitness curves of the marked runs, with their final numbers"),
        Binding("slash", "filter", "Filter", id="browser.filter", key_display="/"),
        Binding("S", "sort", "Sort", id="browser.sort", show=False),
        Binding("t", "notes", "Notes", id="browser.notes", show=False, tooltip="Notes and tags of the run"),
        Binding("R", "rename", "Rename", id="browser.rename", show=False),
        Binding("A", "archive", "Archive", id="browser.archive", show=False,
                tooltip="Move the run to the runs folder's .archive/ (asks first)"),
        Binding("O", "views", "Views", id="browser.views", show=False, tooltip="The open run views: switch to one"),
        Binding("escape", "clear_filter", "Clear filter", id="browser.clear_filter", show=False),
    ]
    HELP = "All runs in the runs folder. Keys in the footer act on the selected run."

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(id="browser")
        self.runs_dir = Path(runs_dir)
        self.all_rows: dict[Path, RunRow] = {}
        self.rows: dict[Path, RunRow] = {}  # the rows shown (filtered, in the chosen order)
        self._shown: dict[Path, dict[str, str]] = {}
        self._widths: dict[str, int] | None = None
        self._empty: str | None = None
        self._detail: str | None = None
        self._bound_state: tuple | None = None
        self.marked: dict[Path, int] = {}  # run -> palette slot, in marking order
        self.query_text = ""
        self.sort = "started"

    def compose(self) -> ComposeResult:
        yield Static(f"wann-tui  runs in {self.runs_dir}", id="browser-title")
        yield Input(placeholder="filter: words, state:crashed, task:gym, tag:x (enter keeps, esc clears)",
                    id="browser-filter", compact=True)
        yield RunTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="browser-detail")
        yield Static("", id="browser-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#browser-filter").display = False
        self.query_one("#runs", DataTable).focus()
        self.show_rows(self.tui.run_rows)

    def on_resize(self) -> None:
        self._widths = None
        self.show_rows(self.all_rows)

    # --- the table -------------------------------------------------------------------------------
    def visible(self, rows: dict[Path, RunRow]) -> dict[Path, RunRow]:
        """``rows`` filtered by the query, in the chosen order (a sweep's members, known to the app while
        their views are open, are inside their sweep's row)."""
        rows = {p: r for p, r in rows.items() if not (p.parent in rows and rows[p.parent].kind == "sweep")}
        out = {p: r for p, r in rows.items() if matches(r, self.query_text)} if self.query_text else dict(rows)
        if self.sort != "started":
            _, key, rev = SORTS[self.sort]
            out = dict(sorted(out.items(), key=lambda kv: key(kv[1]), reverse=rev))  # type: ignore[operator]
        return out

    def plan(self, cells: list[dict[str, Text]]) -> dict[str, int]:
        """Column widths that fit the screen (see :func:`fmt.fit_columns`)."""
        natural = {k: max([len(label), *(c[k].cell_len for c in cells)]) for k, label in COLUMNS}
        natural.update(FIXED)
        width = (self.size.width or self.app.size.width) - 2  # the vertical scrollbar
        return fmt.fit_columns(natural, width, SHRINK)

    def show_rows(self, rows: dict[Path, RunRow]) -> None:
        """Update the table in place; rebuild only when the set or order of runs, or the column widths,
        changed."""
        table = self.query_one("#runs", DataTable)
        now = time.time()
        self.all_rows = dict(rows)
        for gone in [p for p in self.marked if p not in rows]:
            del self.marked[gone]
        rows = self.visible(rows)
        cells = {p: row_cells(r, now, self.mark_of(p)) for p, r in rows.items()}
        widths = self.plan(list(cells.values()))
        keys = [str(p) for p in rows]
        current = [str(k.value) for k in table.rows]
        if keys != current or widths != self._widths:
            selected = self.selected_run()
            table.clear(columns=widths != self._widths)
            if widths != self._widths:
                for key, label in COLUMNS:
                    table.add_column(label, key=key, width=widths[key])
                self._widths = widths
            for p in rows:
                table.add_row(*(fitted(cells[p][k], widths[k]) for k, _ in COLUMNS), key=str(p))
            if selected is not None and str(selected) in keys:
                table.move_cursor(row=keys.index(str(selected)), animate=False)
        else:
            for p in rows:
                shown = self._shown.get(p, {})
                for k, _ in COLUMNS:
                    if shown.get(k) != cells[p][k].plain:
                        table.update_cell(str(p), k, fitted(cells[p][k], widths[k]))
        self._shown = {p: {k: c.plain for k, c in cs.items()} for p, cs in cells.items()}
        self.rows = rows
        if not self.all_rows:
            empty = f"No runs in {self.runs_dir} yet. Press n to start one."
        elif not rows:
            empty = f"No run matches the filter {self.query_text!r} (esc clears it)."
        else:
            empty = ""
        if empty != self._empty:
            self._empty = empty
            self.query_one("#browser-empty", Static).update(empty)
        self.show_detail()
        state = self.selected_state(), len(rows), len(self.marked)
        if state != self._bound_state:
            self._bound_state = state
            self.refresh_bindings()

    def detail_text(self) -> str:
        """The line under the table: the selected run's failure reason, tags, notes, and the order."""
        run = self.selected_run()
        r = self.rows.get(run) if run is not None else None
        parts = []
        if r is not None:
            if r.note:
                parts.append(f"{r.state}: {r.note}" if not r.note.startswith("damaged") else r.note)
            if r.tags:
                parts.append(" ".join(f"#{t}" for t in r.tags))
            if r.notes:
                parts.append(r.notes.splitlines()[0] if r.notes.strip() else "")
        if self.sort != "started":
            parts.append(f"sorted: {SORTS[self.sort][0]}")
        if self.query_text:
            parts.append(f"filter: {self.query_text} ({len(self.rows)}/{len(self.all_rows)})")
        return "  ·  ".join(p for p in parts if p)

    def show_detail(self) -> None:
        text = self.detail_text()
        if text != self._detail:
            self._detail = text
            detail = self.query_one("#browser-detail", Static)
            detail.update(Text(text, style="red" if text.startswith(("crashed", "failed", "damaged")) else ""))
            detail.display = bool(text)

    def selected_run(self) -> Path | None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return Path(str(key.value)) if key.value is not None else None

    def selected_kind(self) -> str:
        run = self.selected_run()
        row = self.rows.get(run) if run is not None else None
        return row.kind if row is not None else "run"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.selected_kind() == "sweep" and action in (
                *CONTROL_ACTIONS, "delete", "mark", "log", "notes", "new_from", "rename", "archive"):
            return False  # a sweep is acted on with `wann-engine sweep`; its members from the sweep view
        if action == "delete":  # offered for every run; on a running one it says why not
            return self.selected_run() is not None
        allowed = self.control_allowed(action)
        if allowed is not None:
            return allowed
        if action in ("open", "mark", "log", "notes", "new_from"):
            return self.selected_run() is not None
        if action in ("rename", "archive"):
            return self.selected_state() in ("stopped", "finished", "crashed", "damaged")
        if action == "compare":
            return len(self.marked) >= 2
        if action == "views":
            return bool(self.tui.open_runs())
        if action == "clear_filter":
            return bool(self.query_text)
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._bound_state = (self.selected_state(), len(self.rows), len(self.marked))
        self.show_detail()
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    # --- filter and order ------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#browser-filter", Input)
        box.display = True
        box.value = self.query_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "browser-filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "browser-filter":
            event.input.display = bool(self.query_text)
            self.query_one("#runs", DataTable).focus()

    def set_filter(self, text: str) -> None:
        self.query_text = text.strip()
        self.show_rows(self.all_rows)

    def action_clear_filter(self) -> None:
        box = self.query_one("#browser-filter", Input)
        box.value = ""
        box.display = False
        self.set_filter("")
        self.query_one("#runs", DataTable).focus()

    def action_sort(self) -> None:
        keys = list(SORTS)
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.show_rows(self.all_rows)
        self.notify(f"runs sorted: {SORTS[self.sort][0]}", timeout=2)

    # --- actions ---------------------------------------------------------------------------------
    def action_open(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if self.selected_kind() == "sweep":
            self.tui.open_sweep(run)
        else:
            self.tui.open_run(run)

    def action_delete(self) -> None:
        run = self.selected_run()
        state = self.selected_state()
        if run is not None and state in ("running", "paused", "starting"):
            self.notify(f"{run.name} is {state}: stop it (s) or kill it (K) first, then delete it",
                        title="cannot delete", severity="warning")
            return
        self.tui.confirm_delete(run)

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
        self.show_rows(self.all_rows)

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            return
        runs = list(self.marked)
        self.app.push_screen(CompareScreen(runs, [self.marked[r] for r in runs],
                                           models=self.tui.models, ascii=self.tui.ascii))

    def action_new(self) -> None:
        self.tui.new_run()

    def action_new_from(self) -> None:
        self.tui.new_run(self.selected_run())

    def action_notes(self) -> None:
        self.tui.edit_notes(self.selected_run())

    def action_rename(self) -> None:
        self.tui.rename_run(self.selected_run())

    def action_archive(self) -> None:
        self.tui.confirm_archive(self.selected_run())

    def action_views(self) -> None:
        self.tui.pick_view()

    def commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for the command palette: only what applies now."""
        run = self.selected_run()
        name = run.name if run else ""
        out = [("run: new", "Start a new run (form)", "new")]
        for action, title in (("open", "open"), ("pause", "pause"), ("continue", "continue"), ("stop", "stop"),
                              ("kill", "kill"), ("resume", "resume"), ("delete", "delete"), ("log", "log of"),
                              ("notes", "notes and tags of"), ("rename", "rename"), ("archive", "archive"),
                              ("new_from", "new run from the config of")):
            if self.check_action(action, ()):
                out.append((f"run: {title} {name}", f"{title.capitalize()} the selected run", action))
        if self.check_action("mark", ()) and run is not None:
            verb = "unmark" if run in self.marked else "mark"
            out.append((f"run: {verb} {name}", f"{verb.capitalize()} the selected run for comparison", "mark"))
        if self.check_action("compare", ()):
            out.append((f"runs: compare {len(self.marked)} marked", "Overlay the marked runs' fitness curves",
                        "compare"))
        out.append(("runs: filter", "Show only runs matching words, state:, task:, tag:", "filter"))
        out.append(("runs: sort", f"Change the order (now: {SORTS[self.sort][0]})", "sort"))
        if self.check_action("views", ()):
            out.append(("runs: open views", "The open run views: switch to one", "views"))
        return out

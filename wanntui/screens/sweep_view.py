"""The view of a sweep: per setting, the curve across seeds (median and interquartile band), a table of
final numbers, a Mann–Whitney U test between two settings, and the members (each opens its live view).

Every number comes from :mod:`wann_engine.sweep_stats` (the same as ``wann-engine report``); reading
happens in a thread worker that reads only what the members appended since the last refresh
(:class:`wanntui.sweeps.SweepFollower`), and nothing is redrawn when nothing changed.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import DataTable, Footer, Input, Static

from wann_engine import sweep as sweepmod
from wann_engine import sweep_stats as st

from .. import fmt
from ..comparison import colour, marker, style
from ..sweeps import (
    MEASURE_LABELS,
    Measure,
    MemberRow,
    SweepFollower,
    SweepView,
    counts,
    pairs,
    stopped_part,
    u_test_line,
    values,
)
from ..widgets.plot import Plot, plottable
from ..widgets.status import STATE_STYLES
from .base import TuiScreen
from .panes import PaneKeys

#: the curves are redrawn at most this often (s) while members write; tables follow every refresh
PLOT_EVERY = 1.0

#: x axes in the order ``x`` cycles them: sweep_stats axis -> label (the live view's words)
X_MODES = {"gen": "generation", "evaluations": "evaluations", "elapsed": "wall time"}

SETTING_COLUMNS = (("key", ""), ("setting", "setting"), ("n", "n"), ("median", "median"), ("iqr", "IQR"),
                   ("worst", "worst"), ("reached", "reached"), ("time", "time to"), ("gen", "gen to"),
                   ("conns", "conns"))
SETTING_SHRINK = (("setting", 6), ("gen", 0), ("time", 0))
MEMBER_COLUMNS = (("key", ""), ("member", "member"), ("seed", "seed"), ("state", "state"), ("gen", "gen/total"),
                  ("retest", "re-tested"), ("best", "best mean"), ("note", ""))
MEMBER_SHRINK = (("note", 0), ("best", 0), ("member", 12))


def short_labels(sweep: sweepmod.Sweep) -> tuple[str, list[str]]:
    """(what varies, a short name per setting): with one grid key, ``key`` and its values; with several,
    the keys and the values joined by ``/`` (``islands/restart_stall`` and ``4/100``), so that settings stay
    told apart when a narrow terminal cuts the column."""
    if len(sweep.grid) == 1:
        key, vals = sweep.grid[0]
        return key, list(vals)
    keys = [k for k, _ in sweep.grid]
    if keys and all(set(s) == set(keys) for s in sweep.settings):
        return "/".join(keys), ["/".join(str(s[k]) for k in keys) for s in sweep.settings]
    return "setting", [sweepmod.setting_label(s) for s in sweep.settings]


def num(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


class SweepCurves(Plot):
    """Per setting: the median across seeds of the chosen curve (braille, or the setting's marker), and
    the interquartile band's edges (dotted), in the setting's colour."""

    BORDER_TITLE = "1 Across seeds"

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(ascii=ascii, **kw)
        self.x_label = X_MODES["gen"]
        self.series: list[str] = []
        self.empty_text = "no member has completed a generation yet"

    def show(self, view: SweepView) -> None:
        p = self.plt
        p.clear_data()
        p.clear_figure()
        p.title("")
        self.x_label = X_MODES[view.x]
        _, names = short_labels(view.sweep)
        self.series = []
        xs_all = []
        for i, b in enumerate(view.bands):
            ok = plottable(b.x, b.median)
            if not ok.any():
                continue
            x = b.x[ok].tolist()
            med_marker = marker(i) if self.plain_markers else "braille"
            for edge in (b.lo[ok], b.hi[ok]):
                good = plottable(edge)
                if good.any():
                    p.plot([v for v, g in zip(x, good, strict=True) if g], edge[good].tolist(), marker="·",
                           color=colour(i))
            p.plot(x, b.median[ok].tolist(), marker=med_marker, color=colour(i))
            self.series.append(names[i] if i < len(names) else str(i))
            xs_all += [x[0], x[-1]]
        self.message = "" if self.series else self.empty_text
        if xs_all:
            lo, hi = min(xs_all), max(xs_all)
            if view.x == "elapsed":
                self.int_xticks(lo, hi, lambda t: fmt.duration(float(t)))
            elif view.x == "evaluations":
                self.int_xticks(lo, hi, lambda t: fmt.rate(float(t)))
            else:
                self.int_xticks(lo, hi)
        roomy = self.size.height >= 14
        p.xlabel(self.x_label if roomy else "")
        what, names = short_labels(view.sweep)
        self.border_title = (f"{self.BORDER_TITLE}: {MEASURE_LABELS[view.measure]}, median and IQR"
                             + ("" if roomy else f" · x: {self.x_label}"))
        mk = (lambda i: marker(i)) if self.plain_markers else (lambda i: "━")
        self.border_subtitle = f"{what}: " + " ".join(f"[{style(i)}]{mk(i)}[/]{n}" for i, n in enumerate(names))
        self.refresh()


class SweepScreen(PaneKeys, TuiScreen):
    PANES = ("sweep-curves", "sweep-table", "sweep-members")
    BINDINGS = [
        Binding("escape,b", "back", "Runs", id="sweep.back"),
        Binding("enter", "open_member", "Open member", id="sweep.open", show=False,
                tooltip="Open the selected member's live view (escape comes back here)"),
        Binding("x", "x_axis", "X axis", id="sweep.xaxis", tooltip="Curves: x as generation / evaluations / wall time"),
        Binding("m", "measure", "Measure", id="sweep.measure",
                tooltip="Curves, table and test on the re-tested champion's score / the raw best mean"),
        Binding("t", "threshold", "Threshold", id="sweep.threshold",
                tooltip="The fitness mark of 'reached' and 'time to' (empty: none)"),
        Binding("u", "pair", "U pair", id="sweep.pair", tooltip="Mann–Whitney U: the next pair of settings"),
        Binding("1", "focus_pane('sweep-curves')", "Curves", show=False, id="sweep.focus1"),
        Binding("2", "focus_pane('sweep-table')", "Table", show=False, id="sweep.focus2"),
        Binding("3", "focus_pane('sweep-members')", "Members", show=False, id="sweep.focus3"),
        Binding("z", "zoom", "Zoom", id="sweep.zoom", tooltip="Maximize the focused pane / restore"),
    ]
    HELP = "A sweep: curves across seeds per setting, final numbers, a test between settings, the members."
    DEFAULT_CSS = """
    SweepScreen #sweep-title { height: 1; padding: 0 1; background: $panel; text-style: bold;
                               text-wrap: nowrap; text-overflow: ellipsis; }
    SweepScreen #sweep-main { height: 1fr; layout: vertical; }
    SweepScreen #sweep-test { height: auto; max-height: 2; padding: 0 1; }
    SweepScreen.-wide #sweep-main { layout: horizontal; }
    SweepScreen #sweep-threshold { display: none; margin: 0 1; }
    SweepScreen .-maximized { height: 1fr; max-height: 100%; }
    """

    def __init__(self, path: Path, ascii: bool = False, threshold: float | None = None, every: float = 0.1) -> None:
        super().__init__()
        self.path = Path(path)
        self.ascii = ascii
        self.every = every
        self.follower = SweepFollower(self.path)
        self._lock = threading.Lock()
        self.x = "gen"
        self.measure: Measure = "retest"
        self.threshold = threshold
        self.pair = 0
        self.view: SweepView | None = None
        self.shows = 0
        self.error = ""
        self._plots_at = 0.0
        self._bound: tuple | None = None
        self._plot_timer = None
        self._drawn_as: tuple[str, str] | None = None
        self._shown: dict[str, dict[str, str]] = {}  # table id -> "row key/column" -> the text shown
        self._set_widths: dict[str, int] | None = None
        self._mem_widths: dict[str, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"sweep {self.path.name}", id="sweep-title")
        with Container(id="sweep-main"):
            yield SweepCurves(ascii=self.ascii, id="sweep-curves", classes="pane")
            yield DataTable(id="sweep-members", classes="pane", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="sweep-table", classes="pane", cursor_type="row", zebra_stripes=True)
        yield Static("", id="sweep-test")
        yield Input(placeholder="threshold (a fitness value; empty for none), enter applies, esc cancels",
                    id="sweep-threshold", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.path.name
        self.query_one("#sweep-table", DataTable).border_title = "2 Per setting"
        members = self.query_one("#sweep-members", DataTable)
        members.border_title = "3 Members (enter opens)"
        members.focus()
        self.query_one(SweepCurves).say("reading the members' events…")
        self._layout()
        self.refresh_data()
        self.set_interval(self.every, self.refresh_data)

    def on_resize(self) -> None:
        self._layout()
        self._set_widths = self._mem_widths = None
        if self.view is not None:
            self.show(self.view)

    def _layout(self) -> None:
        """Wide (110×30 and more): curves and members side by side; otherwise the members under the curves.
        Sizes are set here, over the app's ``.pane`` rule."""
        size = self.app.size
        wide = size.width >= 110 and size.height >= 30
        self.set_class(wide, "-wide")
        curves, members = self.query_one(SweepCurves), self.query_one("#sweep-members", DataTable)
        curves.styles.min_height = 8
        curves.styles.width = "1fr"
        members.styles.width = 64 if wide else "1fr"
        members.styles.height = "1fr" if wide else 7
        table = self.query_one("#sweep-table", DataTable)
        if self.view is None:
            table.styles.height = 3  # until the settings are known

    # --- data ----------------------------------------------------------------------------------------
    @work(thread=True, group="sweep-view", exit_on_error=False)
    def refresh_data(self, force: bool = False) -> None:
        """Read what the members appended (off the UI thread); show it when anything changed."""
        if not self._lock.acquire(blocking=force):
            return  # a refresh is already reading
        try:
            view = self.follower.poll(self.measure, self.x, self.threshold, force=force)
            error = ""
        except sweepmod.SweepError as e:
            view, error = None, str(e)
        finally:
            self._lock.release()
        if not self.is_attached:
            return
        if error and error != self.error:
            self.app.call_from_thread(self.say_error, error)
        elif view is not None:
            self.app.call_from_thread(self.show, view)

    def say_error(self, error: str) -> None:
        self.error = error
        self.query_one("#sweep-title", Static).update(Text(f"sweep {self.path.name}: {error}", style="bold red"))
        self.notify(error, title="sweep", severity="error")

    def show(self, view: SweepView) -> None:
        self.view = view
        self.measure = view.measure
        self.error = ""
        self.shows += 1
        now = time.monotonic()
        drawn = self._drawn_as
        plots_due = drawn != (view.x, view.measure) or now - self._plots_at >= PLOT_EVERY
        with self.app.batch_update():
            self.query_one("#sweep-title", Static).update(self.title_text(view))
            if plots_due:
                self._draw_curves(view)
            elif self._plot_timer is None:
                self._plot_timer = self.set_timer(max(0.01, self._plots_at + PLOT_EVERY - now), self._late_curves)
            self.show_settings(view)
            self.query_one("#sweep-test", Static).update(self.test_text(view))
            self.show_members(view)
        bound = (len(view.measures), len(view.summaries), bool(view.members))
        if bound != self._bound:  # the footer is rebuilt only when the keys that apply change
            self._bound = bound
            self.refresh_bindings()

    def _draw_curves(self, view: SweepView) -> None:
        self.query_one(SweepCurves).show(view)
        self._plots_at = time.monotonic()
        self._drawn_as = (view.x, view.measure)

    def _late_curves(self) -> None:
        """The curves skipped by a refresh (drawn at most every PLOT_EVERY) catch up."""
        self._plot_timer = None
        if self.view is not None and self.is_attached:
            self._draw_curves(self.view)

    def title_text(self, view: SweepView) -> str:
        sw = view.sweep
        c = counts(view.members)
        sched = "scheduler running" if view.scheduler else "no scheduler"
        thr = f"threshold {view.threshold:g}" if view.threshold is not None else "no threshold"
        return (f"{self.path.name} · {c['done']} done {c['running']} running {c['failed']} failed "
                f"{stopped_part(c, ' ')}{c['pending']} pending · "
                f"{sw.task} {len(sw.settings)} settings × {len(sw.seeds)} seeds · "
                f"{sw.budget.describe()} · {sched} · {thr}")

    def test_text(self, view: SweepView) -> Text:
        sums = view.summaries
        if len(sums) < 2:
            return Text("U test: the sweep has one setting", style="dim")
        ps = pairs(len(sums))
        i, j = ps[self.pair % len(ps)]
        more = f"  (u: next of {len(ps)} pairs)" if len(ps) > 1 else ""
        return Text.assemble(u_test_line(sums[i], sums[j], view.measure), (more, "dim"))

    def _fit(self, columns, shrink, rows: list[dict[str, Text]], table: DataTable) -> dict[str, int]:
        """Widths that fit the table (see :func:`fmt.fit_columns`); a column that gives way entirely is
        left out (its padding goes to the others)."""
        natural = {k: max([len(label), *(r[k].cell_len for r in rows)]) for k, label in columns}
        # the table's inner width (its border excluded), less the members' vertical scrollbar
        width = (table.size.width or self.app.size.width - 2) - (0 if table.id == "sweep-table" else 1)
        while True:
            widths = fmt.fit_columns(natural, width, shrink)
            gone = [k for k, _ in shrink if k in widths and (widths[k] == 0 or widths[k] < min(5, natural[k]))]
            if not gone:
                return widths
            natural.pop(gone[0])

    @staticmethod
    def _fitted(c: Text, w: int) -> Text:
        return c if c.cell_len <= w else Text(fmt.elide(c.plain, w), style=c.style, justify=c.justify)

    def _fill(self, table: DataTable, columns, keys: list[str], rows: list[dict[str, Text]],
              widths: dict[str, int], old: dict[str, int] | None) -> None:
        current = [str(k.value) for k in table.rows]
        shown = self._shown.setdefault(str(table.id), {})
        if keys != current or widths != old:
            shown.clear()
            cursor = table.cursor_row
            table.clear(columns=widths != old)
            if widths != old:
                for key, label in columns:
                    if key in widths:
                        table.add_column(label, key=key, width=widths[key])
            for k, cells in zip(keys, rows, strict=True):
                table.add_row(*(self._fitted(cells[c], widths[c]) for c, _ in columns if c in widths), key=k)
            if 0 <= cursor < len(keys):
                table.move_cursor(row=cursor, animate=False)
        else:
            for k, cells in zip(keys, rows, strict=True):
                for c in widths:
                    if shown.get(f"{k}/{c}") != cells[c].plain:
                        table.update_cell(k, c, self._fitted(cells[c], widths[c]))
        for k, cells in zip(keys, rows, strict=True):
            for c in widths:
                shown[f"{k}/{c}"] = cells[c].plain

    def setting_cells(self, i: int, s: st.Summary, name: str, view: SweepView) -> dict[str, Text]:
        v = values(s, view.measure)
        stat = s.stat(v)
        plain = self.ascii or self.query_one(SweepCurves).plain_markers
        right = lambda t: Text(t, justify="right")  # noqa: E731
        gen_to = s.row().get("gen_to_median", math.nan) if s.threshold is not None else math.nan
        seeds = len(view.sweep.seeds)  # planned: members not started yet count as not reached
        return {
            "key": Text(marker(i), style="bold") if plain else Text("━━", style=style(i)),
            "setting": Text(name), "n": right(f"{int(np.isfinite(v).sum())}/{seeds}"),
            "median": right(num(stat["median"])),
            "iqr": right(f"{num(stat['q1'])}–{num(stat['q3'])}" if math.isfinite(stat["q1"]) else "-"),
            "worst": right(num(stat["min"])),
            "reached": right(f"{s.reached}/{seeds}" if s.threshold is not None else "-"),
            "time": right(fmt.duration(s.median_time_to()) if s.threshold is not None else "-"),
            "gen": right(num(gen_to, 0)),
            "conns": right(num(s.stat(s.conns)["median"], 0)),
        }

    def show_settings(self, view: SweepView) -> None:
        table = self.query_one("#sweep-table", DataTable)
        _, names = short_labels(view.sweep)
        rows = [self.setting_cells(i, s, names[i] if i < len(names) else s.label, view)
                for i, s in enumerate(view.summaries)]
        widths = self._fit(SETTING_COLUMNS, SETTING_SHRINK, rows, table)
        keys = [s.label for s in view.summaries]
        self._fill(table, SETTING_COLUMNS, keys, rows, widths, self._set_widths)
        self._set_widths = widths
        height = min(len(rows), 8) + 3  # its rows, the header and the border
        if table.styles.height is None or table.styles.height.value != height:
            table.styles.height = height
        thr = f"≥{view.threshold:g}" if view.threshold is not None else "no threshold"
        table.border_title = f"2 Per setting: final {MEASURE_LABELS[view.measure]} across seeds"
        table.border_subtitle = f"reached / time to / gen to: {thr} (t)"

    def member_cells(self, m: MemberRow) -> dict[str, Text]:
        plain = self.ascii or self.query_one(SweepCurves).plain_markers
        right = lambda t: Text(t, justify="right")  # noqa: E731
        return {
            "key": Text(marker(m.slot), style="bold") if plain else Text("━", style=style(m.slot)),
            "member": Text(m.name), "seed": right(str(m.seed)),
            "state": Text(m.state, style=STATE_STYLES.get(m.state, "bold cyan" if m.state == "done" else "")),
            "gen": right(sweepmod.gens_text(m.gen, m.total)), "retest": right(num(m.retested)),
            "best": right(num(m.best)),
            "note": Text(m.note, style="red" if m.note else ""),
        }

    def show_members(self, view: SweepView) -> None:
        table = self.query_one("#sweep-members", DataTable)
        rows = [self.member_cells(m) for m in view.members]
        widths = self._fit(MEMBER_COLUMNS, MEMBER_SHRINK, rows, table)
        self._fill(table, MEMBER_COLUMNS, [str(m.path) for m in view.members], rows, widths, self._mem_widths)
        self._mem_widths = widths

    def cell_text(self, table: str, key: str, column: str) -> str:
        """Plain text of a cell of ``#sweep-table`` or ``#sweep-members`` (for tests)."""
        value = self.query_one(f"#{table}", DataTable).get_cell(key, column)
        return value.plain if isinstance(value, Text) else str(value)

    # --- keys ----------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "measure":
            return self.view is not None and len(self.view.measures) > 1
        if action == "pair":
            return self.view is not None and len(self.view.summaries) > 2
        if action == "open_member":
            return self.selected_member() is not None
        return True

    def selected_member(self) -> MemberRow | None:
        if self.view is None:
            return None
        table = self.query_one("#sweep-members", DataTable)
        if table.row_count == 0:
            return None
        row = table.cursor_row
        return self.view.members[row] if 0 <= row < len(self.view.members) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "sweep-members":
            self.action_open_member()

    def action_open_member(self) -> None:
        m = self.selected_member()
        if m is None:
            return
        if m.state == "pending" and not m.path.exists():
            self.notify(f"{m.name} has not started yet", timeout=3)
            return
        self.tui.open_run(m.path)

    def action_x_axis(self) -> None:
        keys = list(X_MODES)
        self.x = keys[(keys.index(self.x) + 1) % len(keys)]
        self.query_one(SweepCurves).x_label = X_MODES[self.x]  # at once; the curves follow the refresh
        self.refresh_data(force=True)

    def action_measure(self) -> None:
        self.measure = "best_mean" if self.measure == "retest" else "retest"
        self.notify(f"curves, table and test: {MEASURE_LABELS[self.measure]}", timeout=2)
        self.refresh_data(force=True)

    def action_pair(self) -> None:
        self.pair += 1
        if self.view is not None:
            self.query_one("#sweep-test", Static).update(self.test_text(self.view))

    def action_threshold(self) -> None:
        box = self.query_one("#sweep-threshold", Input)
        box.value = "" if self.threshold is None else f"{self.threshold:g}"
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "sweep-threshold":
            return
        text = event.value.strip()
        try:
            value = None if not text else float(text)
            if value is not None and not math.isfinite(value):
                raise ValueError
        except ValueError:
            self.notify(f"threshold {text!r}: expected a number (or nothing for none)", severity="error")
            return
        self.threshold = value
        self._close_threshold()
        self.refresh_data(force=True)

    def _close_threshold(self) -> None:
        box = self.query_one("#sweep-threshold", Input)
        box.display = False
        self.query_one("#sweep-members", DataTable).focus()

    def action_back(self) -> None:
        if self.query_one("#sweep-threshold", Input).display:
            self._close_threshold()
        elif not self.unzoom():
            self.app.pop_screen()

    def commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for the command palette."""
        out = [("sweep: x axis", "Curves: generation / evaluations / wall time", "x_axis"),
               ("sweep: threshold", "Set the fitness mark of 'reached' and 'time to'", "threshold"),
               ("sweep: zoom", "Maximize the focused pane / restore", "zoom"),
               ("sweep: back", "Back to the run browser", "back")]
        if self.check_action("measure", ()):
            out.append(("sweep: measure", "Re-tested champion's score / raw best mean", "measure"))
        if self.check_action("pair", ()):
            out.append(("sweep: next U pair", "Mann–Whitney U between the next pair of settings", "pair"))
        if self.check_action("open_member", ()):
            out.append(("sweep: open member", "The selected member's live view", "open_member"))
        return out

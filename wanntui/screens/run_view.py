"""The live view of one run: fitness curves, Pareto front, champion network, per-weight table, status bar."""

from __future__ import annotations

import math
import time
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer

from .. import fmt
from ..model import RunModel, Snapshot
from ..runs import DIED
from ..widgets.curves import FitnessCurves
from ..widgets.netgraph import NetGraph
from ..widgets.pareto import ParetoPlot
from ..widgets.status import StatusBar
from ..widgets.weights import WeightTable
from .controls import CONTROL_BINDINGS, RunControls, controls_first
from .panes import PaneKeys

#: the plots, the network and the table (generation-level, costly to draw) are redrawn at most this
#: often (s); the status bar follows every render
PLOT_EVERY = 0.5


class RunScreen(RunControls, PaneKeys, Screen):
    PANES = ("curves", "pareto", "net", "weights")
    BINDINGS = [
        Binding("escape,b", "back", "Runs", id="view.back"),
        Binding("1", "focus_pane('curves')", "Fitness", show=False, id="view.focus1"),
        Binding("2", "focus_pane('pareto')", "Pareto", show=False, id="view.focus2"),
        Binding("3", "focus_pane('net')", "Network", show=False, id="view.focus3"),
        Binding("4", "focus_pane('weights')", "Weights", show=False, id="view.focus4"),
        Binding("z", "zoom", "Zoom", id="view.zoom", tooltip="Maximize the focused pane / restore"),
        # pane keys: in the footer only while their pane is focused (the panes bind them too), so that the
        # run-control keys fit at 80 columns; they work from any pane
        Binding("a", "pareto_axes", "Axes", show=False, id="view.axes",
                tooltip="Pareto: mean vs connections / vs peak"),
        Binding("g", "net_mode", "Graph/list", show=False, id="view.netmode",
                tooltip="Network: drawing / list of sources"),
        Binding("y", "curves_y", "Y range", show=False, id="view.yrange",
                tooltip="Fitness: y range auto / from zero / log scale (when all values are positive)"),
        Binding("l", "curves_window", "Last N", show=False, id="view.window",
                tooltip="Fitness: all generations / the last 100 / the last 1000"),
        Binding("x", "curves_x", "X axis", show=False, id="view.xaxis",
                tooltip="Fitness: x as generation / evaluations / wall time"),
        Binding("e", "explore", "Explore", id="view.explore", tooltip="Weight explorer on the champion"),
        Binding("f", "explore_front", "Front", show=False, id="view.explore_front",
                tooltip="Weight explorer on a member of the first Pareto front"),
        Binding("left_square_bracket", "cycle(-1)", "Prev run", show=False, id="view.prev"),
        Binding("right_square_bracket", "cycle(1)", "Next run", show=False, id="view.next"),
        Binding("w", "close_view", "Close", show=False, id="view.close"),
        *CONTROL_BINDINGS,
    ]

    def __init__(self, run: Path, model: RunModel, ascii: bool = False) -> None:
        super().__init__()
        self.run = Path(run)
        self.model = model
        self.ascii = ascii
        self._drawn = -1
        self._status_at = 0.0
        self._state = ""
        self._bound_state = ""
        self.renders = 0
        self._ready = False
        self._last_render = 0.0
        self._render_timer = None
        self._plots_at = 0.0
        self._plot_timer = None

    def compose(self) -> ComposeResult:
        yield StatusBar(ascii=self.ascii, id="status")
        with Grid(id="panes"):
            yield FitnessCurves(ascii=self.ascii, id="curves", classes="pane")
            yield ParetoPlot(ascii=self.ascii, id="pareto", classes="pane")
            yield NetGraph(ascii=self.ascii, id="net", classes="pane")
            yield WeightTable(ascii=self.ascii, id="weights", classes="pane")
        yield Footer()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer's keys, run controls first (see :func:`controls_first`)."""
        return controls_first(super().active_bindings)

    def on_mount(self) -> None:
        self.sub_title = self.run.name
        self._ready = True
        self.refresh_view(force=True)

    def on_screen_resume(self) -> None:
        self.refresh_view(force=True)

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_view, True)

    # --- rendering: rate-limited, from model snapshots --------------------------------------------
    def schedule_render(self, min_interval: float) -> None:
        """Render soon: now if the last render is ``min_interval`` old, else when it will be."""
        if self._render_timer is not None:
            return
        delay = self._last_render + min_interval - time.monotonic()
        if delay > 0.001:
            self._render_timer = self.set_timer(delay, self._timed_render)
        else:
            self._render_timer = True
            self.call_later(self._timed_render)

    def _timed_render(self) -> None:
        self._render_timer = None
        self.refresh_view()

    def empty_texts(self, snap: Snapshot, state: str) -> tuple[str, str, str]:
        """What the plots, the network pane and the table's subtitle say while the run has no generation:
        waiting for one, or (a run that ended) that none was completed and why."""
        if snap.last is not None or state in ("running", "starting", "paused", ""):
            return "waiting for the first generation", "waiting for a champion", "waiting"
        why = state
        if state == "crashed":
            row = self.tui.run_rows.get(self.run)
            why = f"crashed: {snap.error or (row.note if row is not None and row.note else DIED)}"
        return f"no generation was completed ({why})", "no generation was completed", "no generation"

    def _draw_plots(self, snap: Snapshot) -> None:
        plots, net, table = self.empty_texts(snap, self.tui.state_of(self.run) or "starting")
        self.query_one(FitnessCurves).empty_text = plots
        self.query_one(ParetoPlot).empty_text = plots
        self.query_one(NetGraph).empty_text = net
        self.query_one(WeightTable).empty_text = table
        self.query_one(FitnessCurves).show(snap)
        self.query_one(ParetoPlot).show(snap)
        self.query_one(NetGraph).show(snap)
        self.query_one(WeightTable).show(snap)
        self._plots_at = time.monotonic()

    def _late_plots(self) -> None:
        """The panes skipped by a render (drawn at most every PLOT_EVERY) catch up with the model."""
        self._plot_timer = None
        if self._ready:
            self._draw_plots(self.model.snapshot())

    def refresh_view(self, force: bool = False) -> None:
        """Redraw the panes if the model changed (or ``force``); refresh the status bar's clock."""
        if not self._ready:
            return
        now = time.time()
        state = self.tui.state_of(self.run) or "starting"
        changed = self.model.version != self._drawn
        if changed or force or (state != self._state and self.model.last is None):  # a run without a
            # generation ended: the panes say why none came
            snap = self.model.snapshot()
            self._drawn = snap.version
            mono = time.monotonic()
            plots_due = force or mono - self._plots_at >= PLOT_EVERY
            with self.app.batch_update():
                if plots_due:
                    self._draw_plots(snap)
                self.query_one(StatusBar).show(snap, state, now)
            if not plots_due and self._plot_timer is None:
                self._plot_timer = self.set_timer(max(0.01, self._plots_at + PLOT_EVERY - mono), self._late_plots)
            self.renders += 1
            self._last_render = time.monotonic()
            self._status_at = now
            self._state = state
        elif state != self._state or now - self._status_at >= 1.0:
            self.query_one(StatusBar).show(self.model.snapshot(recent=32), state, now)
            self._status_at = now
        if state != self._bound_state:
            self._bound_state = state
            self.refresh_bindings()

    # --- keys ----------------------------------------------------------------------------------
    def selected_run(self) -> Path | None:
        return self.run

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = self.control_allowed(action)
        if allowed is not None:
            return allowed
        if action == "cycle":
            return len(self.tui.open_runs()) > 1
        return True

    def action_back(self) -> None:
        if not self.unzoom():
            self.tui.leave_view()

    def action_pareto_axes(self) -> None:
        self.query_one(ParetoPlot).toggle()

    def action_curves_y(self) -> None:
        self.query_one(FitnessCurves).cycle_y()

    def action_curves_window(self) -> None:
        self.query_one(FitnessCurves).cycle_window()

    def action_curves_x(self) -> None:
        self.query_one(FitnessCurves).cycle_x()

    def action_net_mode(self) -> None:
        net = self.query_one(NetGraph)
        net.toggle()
        net.show(self.model.snapshot())

    def action_explore(self) -> None:
        from wann_engine import rundir
        from wann_engine.explore import ExploreError, open_run

        from .explorer import ExplorerScreen

        snap = self.model.snapshot(recent=2)
        if snap.champion is None and not (self.run / rundir.CHAMPION_JSON).is_file():
            self.notify("no champion yet: the run has not completed a generation" if snap.last is None else
                        f"no champion yet: the run has not written {rundir.CHAMPION_JSON}", severity="warning")
            return
        try:
            ex = open_run(self.run, snap.champion)
        except ExploreError as e:
            self.notify(str(e), title="cannot explore", severity="error")
            return
        gen = f" gen {snap.champion_gen}" if snap.champion_gen is not None else ""
        start, note = self.best_start(snap)
        self.app.push_screen(ExplorerScreen(ex, ascii=self.ascii, title=f"{self.run.name} champion{gen}",
                                            start_weight=start, start_note=note))

    def best_start(self, snap: Snapshot) -> tuple[float | None, str]:
        """The shared weight the run marks as the champion's best, and a note saying over how many episodes
        (per weight) that score was measured: the re-test's, else the search's ``alg_nReps``."""
        from wann_engine import rundir

        marked = fmt.best_weight(snap.last, snap.meta.weights)
        if marked is None or not math.isfinite(marked[1]) or snap.last is None:
            return None, ""
        _, w, score = marked
        last = snap.last
        if last.retest_per_weight and last.retest_episodes:
            n = max(1, last.retest_episodes // max(1, len(last.retest_per_weight)))
            how = f"{n} re-test episodes"
        else:
            try:
                how = f"{rundir.read_config(self.run).alg_nReps} episodes"
            except rundir.RunDirError:
                how = "the search's episodes"
        return w, f"run's best w {w:+.2f}: {fmt.number(score)} over {how}"

    def action_explore_front(self) -> None:
        from wann_engine.explore import ExploreError, front_members

        from .front_pick import FrontPickScreen

        axes = self.query_one(ParetoPlot).axes  # list the front the Pareto pane shows
        last = self.model.snapshot(recent=2).last
        if last is None:
            self.notify("no front yet: the run has not completed a generation", severity="warning")
            return
        try:
            gen, members = front_members(self.run, use_peak=axes == "peak")
        except ExploreError as e:
            self.notify(str(e), title="cannot read the front", severity="error")
            return
        if not members:
            self.notify("the checkpoint holds no scored population yet", title="no front")
            return

        def chosen(member) -> None:
            if member is None:
                return
            from wann_engine.explore import open_run

            from .explorer import ExplorerScreen

            try:
                ex = open_run(self.run, member.genome, name=f"front{member.index}")
            except ExploreError as e:
                self.notify(str(e), title="cannot explore", severity="error")
                return
            self.app.push_screen(ExplorerScreen(ex, ascii=self.ascii,
                                                title=f"{self.run.name} front #{member.index} gen {gen}"))

        self.app.push_screen(FrontPickScreen(gen, members, axes, last.gen), chosen)

    def action_cycle(self, step: int) -> None:
        self.tui.cycle_run(self.run, step)

    def action_close_view(self) -> None:
        self.tui.close_run(self.run)

    def commands(self) -> list[tuple[str, str, str]]:
        name = self.run.name
        out = [("view: pareto axes", "Switch the Pareto x axis (connections / peak)", "pareto_axes"),
               ("view: fitness y range", "Fitness curves: auto / from zero / log scale", "curves_y"),
               ("view: fitness window", "Fitness curves: all / last 100 / last 1000 generations", "curves_window"),
               ("view: fitness x axis", "Fitness curves: generation / evaluations / wall time", "curves_x"),
               ("view: network graph/list", "Switch the network pane between drawing and list", "net_mode"),
               ("view: zoom pane", "Maximize the focused pane / restore", "zoom"),
               ("view: explore champion", "Weight explorer: slider, playback, per-connection offsets", "explore"),
               ("view: explore a front member", "Weight explorer on a network of the first Pareto front",
                "explore_front"),
               ("view: back to runs", "Show the run browser", "back"),
               ("view: close run", f"Close the view of {name}", "close_view")]
        for action in ("pause", "continue", "stop", "kill", "resume"):
            if self.check_action(action, ()):
                out.append((f"run: {action} {name}", f"{action.capitalize()} this run", action))
        return out

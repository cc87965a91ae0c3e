"""The Textual application: run browser plus one live view per open run."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from wann_engine import control, rundir

from .model import RunModel
from .runs import RunRow, RunStates
from .screens.browser import BrowserScreen
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.new_run import NewRunScreen
from .screens.run_view import RunScreen
from .tail import Watcher


class RunChanged(Message):
    """The watcher read new events of ``run`` (adjacent notes of one run merge into one)."""

    def __init__(self, run: Path) -> None:
        super().__init__()
        self.run = run

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunChanged) and message.run == self.run


class StatesChanged(Message):
    """The watcher found run states different from the last ones posted."""

    def __init__(self, rows: dict[Path, RunRow]) -> None:
        super().__init__()
        self.rows = rows


class WannTui(App[int]):
    """``runs_dir``: the folder of run directories; ``tick``: shortest time between two renders of
    the live view (s); ``poll``: how often the watcher looks for new events; ``state_every``: run-state
    and clock refresh (s).

    Rendering is driven by the model, not by events: the watcher thread notes "run R changed"
    (one coalescing message), and the visible run view re-renders from a snapshot at most once
    per ``tick``. The watcher thread also re-reads run states every ``state_every`` and posts
    them only when they changed; a ``state_every`` clock refreshes the ages on screen. Nothing
    else wakes the UI, so an idle console costs next to nothing.
    """

    CSS_PATH = "app.tcss"
    TITLE = "wann-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit the console; runs keep going"),
        Binding("question_mark,f1", "help", "Help", id="app.help", key_display="?"),
    ]

    def __init__(self, runs_dir: Path, ascii: bool = False, tick: float = 0.1, poll: float = 0.05,
                 state_every: float = 1.0) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.ascii = ascii
        self.tick = tick
        self.state_every = state_every
        self.states = RunStates(self.runs_dir)
        self.run_rows: dict[Path, RunRow] = {}
        self.models: dict[Path, RunModel] = {}
        self.views: dict[Path, RunScreen] = {}
        self.watcher = Watcher(interval=poll, on_change=self._note_change, on_tick=self._scan_states,
                               tick_every=state_every)
        self._posted_rows: dict[Path, RunRow] | None = None
        self._warned: dict[Path, int] = {}
        self._bars: tuple[list[str], list[str]] | None = None
        self._failed: set[Path] = set()

    # --- lifecycle -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.ascii:
            self.add_class("-ascii")
            from textual.scrollbar import ScrollBarRender

            self._bars = (ScrollBarRender.VERTICAL_BARS, ScrollBarRender.HORIZONTAL_BARS)
            ScrollBarRender.VERTICAL_BARS = [" "] * 8  # the thumb stays visible as a reversed block
            ScrollBarRender.HORIZONTAL_BARS = [" "] * 8
        self.run_rows = self.states.scan()
        self.push_screen(BrowserScreen(self.runs_dir))
        self.watcher.start()
        self._warm_up()
        self.set_interval(self.state_every, self._clock)

    @work(thread=True, exit_on_error=False, group="warmup")
    def _warm_up(self) -> None:
        """Load the engine's genome code (numba) off the UI thread before a champion is drawn."""
        from wann_engine.genome import Genome

        Genome.from_dict({"nodes": [[0, 4, 1], [1, 1, 1], [2, 2, 1]], "conns": [[0, 1, 2, 1]]}).network()

    def on_unmount(self) -> None:
        self.watcher.stop()
        if self._bars is not None:
            from textual.scrollbar import ScrollBarRender

            ScrollBarRender.VERTICAL_BARS, ScrollBarRender.HORIZONTAL_BARS = self._bars

    def _note_change(self, run: Path) -> None:
        """Called in the watcher thread: one coalescing message to the UI."""
        self.post_message(RunChanged(run))

    def on_run_changed(self, message: RunChanged) -> None:
        screen = self.screen if self.screen_stack else None
        if isinstance(screen, RunScreen) and screen.run == message.run:
            screen.schedule_render(self.tick)
        model = self.models.get(message.run)
        if model is not None and model.n_warnings != self._warned.get(message.run, 0):
            seen = self._warned.get(message.run, 0)
            self._warned[message.run] = n = model.n_warnings
            for w in list(model.warnings)[-min(n - seen, len(model.warnings), 3):]:
                self.notify(w, title="events.jsonl", severity="warning", timeout=6)

    def _clock(self) -> None:
        """Once per ``state_every``: the ages shown in the browser and the status bar."""
        if not self.screen_stack or not self.is_running:
            return
        if isinstance(self.screen, RunScreen):
            self.screen.refresh_view()
        elif isinstance(self.screen, BrowserScreen):
            self.screen.show_rows(self.run_rows)

    # --- run states (scanned in the watcher thread) ------------------------------------------------
    def _scan_states(self) -> None:
        """Watcher thread, every ``state_every``: post the run states when they changed."""
        rows = self.states.scan()
        for run in list(self.models):
            if run not in rows:
                r = self.states.row(run)
                if r is not None:
                    rows[run] = r
        if rows != self._posted_rows:
            self._posted_rows = rows
            self.post_message(StatesChanged(rows))

    def on_states_changed(self, message: StatesChanged) -> None:
        self._states_ready(message.rows)

    def _states_ready(self, rows: dict[Path, RunRow]) -> None:
        self.run_rows = rows
        for run, row in rows.items():
            if row.state == "failed" and row.note and run not in self._failed:
                self._failed.add(run)
                self.notify(row.note, title=f"{run.name} did not start", severity="error", timeout=15)
        if not self.screen_stack or not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                screen.show_rows(rows)
        if isinstance(self.screen, RunScreen):
            self.screen.refresh_view()

    def state_of(self, run: Path | None) -> str | None:
        if run is None:
            return None
        row = self.run_rows.get(Path(run))
        return row.state if row else None

    def refresh_states_now(self) -> None:
        """Re-read states soon after acting on a run (the footer follows quickly)."""
        self.watcher.tick_soon(0.3)

    # --- screens -------------------------------------------------------------------------------
    def show_browser(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, RunScreen):
            self.pop_screen()

    def open_runs(self) -> list[Path]:
        return list(self.views)

    def open_run(self, run: Path) -> RunScreen:
        run = Path(run)
        view = self.views.get(run)
        if view is None:
            model = self.models[run] = RunModel(run)
            self.watcher.add(run, model)
            view = self.views[run] = RunScreen(run, model, ascii=self.ascii)
            self.install_screen(view, name=f"run:{run}")
        if isinstance(self.screen, RunScreen):
            self.switch_screen(view)
        else:
            self.push_screen(view)
        return view

    def close_run(self, run: Path) -> None:
        run = Path(run)
        view = self.views.pop(run, None)
        self.watcher.remove(run)
        self.models.pop(run, None)
        if view is None:
            return
        if self.screen is view:
            self.pop_screen()
        self.uninstall_screen(view)

    def cycle_run(self, run: Path, step: int) -> None:
        runs = self.open_runs()
        if len(runs) < 2 or run not in runs:
            return
        nxt = runs[(runs.index(run) + step) % len(runs)]
        self.switch_screen(self.views[nxt])

    # --- acting on runs (only through wann_engine.control) -------------------------------------
    def control_run(self, run: Path | None, what: str) -> None:
        if run is None:
            return
        try:
            if what == "pause":
                control.pause(run)
            elif what == "continue":
                control.resume_paused(run)
            elif what == "stop":
                control.stop(run)
            elif what == "resume":
                control.resume(run)
            else:
                raise ValueError(f"unknown action {what}")
        except (rundir.RunDirError, OSError, ValueError) as e:
            self.notify(str(e), title=f"cannot {what} {run.name}", severity="error")
            return
        notes = {"pause": "pausing at the next generation boundary", "continue": "continuing",
                 "stop": "stopping after a checkpoint", "resume": "resuming from its checkpoint"}
        self.notify(f"{run.name}: {notes[what]}", timeout=3)
        self.refresh_states_now()

    def confirm_kill(self, run: Path | None) -> None:
        if run is None:
            return
        info = rundir.lock_info(run)
        info = info if isinstance(info, dict) else {}
        ckpt = ""
        if run in self.models:
            snap = self.models[run].snapshot(recent=2)
            if snap.checkpoint_gen is not None:
                ckpt = f" The last checkpoint (generation {snap.checkpoint_gen}) stays; later generations are lost."
        msg = f"Kill the engine of {run.name} (pid {info.get('pid', '?')}) with SIGKILL?{ckpt} It can be resumed."

        def done(yes: bool | None) -> None:
            if yes:
                try:
                    killed = control.kill(run)
                except rundir.RunDirError as e:  # another host's engine, or a lock naming no engine here
                    self.notify(str(e), title=f"cannot kill {run.name}", severity="error")
                    return
                if killed:
                    self.notify(f"{run.name}: killed", severity="warning")
                else:
                    self.notify(f"{run.name}: no engine was running", severity="warning")
                self.refresh_states_now()

        self.push_screen(ConfirmScreen("Kill run", msg, yes="Kill"), done)

    def confirm_delete(self, run: Path | None) -> None:
        if run is None:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                control.delete(run)
            except (rundir.RunDirError, OSError) as e:
                self.notify(str(e), title="cannot delete", severity="error")
                return
            self.close_run(run)
            self.states.forget(run)
            self.notify(f"deleted {run.name}")
            self.refresh_states_now()

        self.push_screen(ConfirmScreen("Delete run", f"Delete {run} and all its files? This cannot be undone.",
                                       yes="Delete"), done)

    def new_run(self) -> None:
        self.push_screen(NewRunScreen(self.runs_dir), self._launch)

    def _launch(self, spec: control.LaunchSpec | None) -> None:
        if spec is None:
            return
        try:
            run = control.launch(spec)
        except (rundir.RunDirError, OSError, ValueError) as e:
            self.notify(str(e), title="cannot launch", severity="error")
            return
        self.states.launching[run] = time.time()
        log = control.launch_log(spec.runs_dir, run.name).name
        self.notify(f"launched {run.name} (engine output: {log})", timeout=4)
        self.refresh_states_now()
        self.open_run(run)

    # --- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        target = screen
        if not hasattr(target, "commands") and len(self.screen_stack) > 1:
            target = self.screen_stack[-2]
        if hasattr(target, "commands"):
            for title, help_text, action in target.commands():
                yield SystemCommand(title, help_text, getattr(target, f"action_{action}"))
        yield SystemCommand("help: keys", "Show every key of the console", self.action_help)

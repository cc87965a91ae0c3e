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
from wann_engine.sweep import gens_text

from .model import RunModel
from .runs import RunRow, RunStates
from .screens.browser import BrowserScreen
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.log import LogScreen
from .screens.new_run import NewRunScreen
from .screens.notes import NotesScreen, RenameScreen, ViewsScreen
from .screens.run_view import RunScreen
from .screens.sweep_view import SweepScreen
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
        self._last_states: dict[Path, str] | None = None  # for "a run finished / crashed" notices

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
        self._announce_endings(rows)
        for run, row in rows.items():
            if row.state == "failed" and row.note and row.kind == "run" and run not in self._failed:
                self._failed.add(run)
                self.notify(row.note, title=f"{run.name} did not start", severity="error", timeout=15)
        if not self.screen_stack or not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                screen.show_rows(rows)
        if isinstance(self.screen, RunScreen):
            self.screen.refresh_view()

    #: states a run leaves when its engine ends, and the notice for each state it ends in
    LIVE = ("running", "paused", "starting")
    ENDINGS = {"finished": "information", "stopped": "information", "crashed": "error"}

    def _announce_endings(self, rows: dict[Path, RunRow]) -> None:
        """A bell and a toast when a run that was going ends: finished, stopped or crashed (any run in
        the folder, whoever started it). Runs already ended when the console opened say nothing."""
        now = {p: r.state for p, r in rows.items()}
        before, self._last_states = self._last_states, now
        if before is None:
            return
        for run, state in now.items():
            if before.get(run) in self.LIVE and state in self.ENDINGS:
                row = rows[run]
                why = f": {row.note}" if state == "crashed" and row.note else ""
                if row.kind == "sweep":
                    self.bell()
                    self.notify(f"sweep {run.name} {state}: {row.note}", title=f"sweep {state}", timeout=6)
                    continue
                self.bell()
                self.notify(f"{run.name} {state} at generation {gens_text(row.gen, row.total)}{why}",
                            title=f"run {state}", severity=self.ENDINGS[state],  # type: ignore[arg-type]
                            timeout=10 if state == "crashed" else 6)

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

    def leave_view(self) -> None:
        """Back from a live view: to the sweep view it was opened from, else to the browser."""
        if isinstance(self.screen, RunScreen) and len(self.screen_stack) >= 2 \
                and isinstance(self.screen_stack[-2], SweepScreen):
            self.pop_screen()
        else:
            self.show_browser()

    def open_sweep(self, path: Path) -> SweepScreen | None:
        """The sweep view of a sweep folder (a damaged ``sweep.json`` is said, not opened)."""
        from wann_engine import sweep as sweepmod

        from .sweeps import default_threshold

        try:
            sw = sweepmod.load(path)
        except sweepmod.SweepError as e:
            self.notify(str(e), title=f"cannot open the sweep {Path(path).name}", severity="error")
            return None
        view = SweepScreen(Path(path), ascii=self.ascii, threshold=default_threshold(sw.task))
        self.push_screen(view)
        return view

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

    def _run_gone(self, run: Path, message: str, timeout: float | None = None) -> None:
        """A run left its folder (deleted, renamed, archived): close its view, forget its state, say so."""
        self.close_run(run)
        self.states.forget(run)
        self.notify(message, timeout=timeout)  # None: Textual's default
        self.refresh_states_now()

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
            self._run_gone(run, f"deleted {run.name}")

        self.push_screen(ConfirmScreen("Delete run", f"Delete {run} and all its files? This cannot be undone.",
                                       yes="Delete"), done)

    def new_run(self, source: Path | None = None) -> None:
        """The new-run form; ``source``: a run whose configuration fills it."""
        self.push_screen(NewRunScreen(self.runs_dir, source), self._launch)

    def show_log(self, run: Path | None) -> None:
        if run is not None:
            self.push_screen(LogScreen(run))

    def edit_notes(self, run: Path | None) -> None:
        if run is None:
            return

        def done(notes: control.RunNotes | None) -> None:
            if notes is None:
                return
            try:
                control.write_notes(run, notes)
            except (rundir.RunDirError, OSError, ValueError) as e:
                self.notify(str(e), title=f"cannot save the notes of {run.name}", severity="error")
                return
            self.notify(f"{run.name}: notes saved", timeout=3)
            self.refresh_states_now()

        self.push_screen(NotesScreen(run, control.read_notes(run)), done)

    def rename_run(self, run: Path | None) -> None:
        if run is None:
            return

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                new = control.rename(run, name)
            except (rundir.RunDirError, OSError) as e:
                self.notify(str(e), title=f"cannot rename {run.name}", severity="error")
                return
            self._run_gone(run, f"renamed {run.name} to {new.name}", timeout=4)

        self.push_screen(RenameScreen(run), done)

    def confirm_archive(self, run: Path | None) -> None:
        if run is None:
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                dst = control.archive(run)
            except (rundir.RunDirError, OSError) as e:
                self.notify(str(e), title=f"cannot archive {run.name}", severity="error")
                return
            self._run_gone(run, f"archived {run.name} to {dst.parent}", timeout=4)

        self.push_screen(ConfirmScreen("Archive run", f"Move {run.name} to {run.parent / control.ARCHIVE}/? "
                                       "It leaves the list; its files stay whole.", yes="Archive"), done)

    def pick_view(self) -> None:
        """The open run views, to switch to one."""
        runs = self.open_runs()
        if not runs:
            self.notify("no run view is open (enter opens the selected run)", timeout=3)
            return
        current = self.screen.run if isinstance(self.screen, RunScreen) else None
        states = {r: self.state_of(r) or "?" for r in runs}

        def done(run: Path | None) -> None:
            if run is not None:
                self.open_run(run)

        self.push_screen(ViewsScreen(runs, states, current), done)

    def _launch(self, spec: control.LaunchSpec | control.SweepSpec | None) -> None:
        if spec is None:
            return
        if isinstance(spec, control.SweepSpec):
            try:
                path = control.launch_sweep(spec)
            except (rundir.RunDirError, OSError, ValueError) as e:
                self.notify(str(e), title="cannot start the sweep", severity="error")
                return
            self.states.launching[path] = time.time()  # a start that fails shows its reason as a row
            self.states.sweep_launches.add(path)
            self.notify(f"started the sweep {path.name}: its row appears when sweep.json is written "
                        "(a start that fails says why in that row; the scheduler writes sweep.log)", timeout=6)
            self.refresh_states_now()
            return
        try:
            run = control.launch(spec)
        except (rundir.RunDirError, OSError, ValueError) as e:
            self.notify(str(e), title="cannot launch", severity="error")
            return
        self.states.launching[run] = time.time()
        self.notify(f"launched {run.name} (l shows the engine's output)", timeout=4)
        self.refresh_states_now()
        self.open_run(run)

    # --- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def screenshot_folder(self) -> Path:
        """Where the palette's screenshot goes: the run folder of the run on screen, else the runs folder."""
        for screen in reversed(self.screen_stack):
            run = getattr(screen, "run", None)
            if isinstance(run, Path) and run.is_dir():
                return run
        return self.runs_dir

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen into the run folder (or the runs folder) and name the path."""
        folder = Path(path) if path else self.screenshot_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as e:
            self.notify(f"cannot save into {folder}: {e.strerror or e}", title="Screenshot", severity="error")
            return None
        self.notify(f"saved {saved}", title="Screenshot", timeout=8)
        return saved

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for cmd in super().get_system_commands(screen):
            if cmd.title == "Screenshot":
                yield SystemCommand("Screenshot", "Save an SVG of the screen into the run folder (or the runs "
                                    "folder)", lambda: self.set_timer(0.1, self.deliver_screenshot))
            else:
                yield cmd
        for run in self.open_runs():
            if not (isinstance(screen, RunScreen) and screen.run == run):
                yield SystemCommand(f"view: {run.name}", "Switch to this open run view",
                                    lambda run=run: self.open_run(run))
        target = screen
        if not hasattr(target, "commands") and len(self.screen_stack) > 1:
            target = self.screen_stack[-2]
        if hasattr(target, "commands"):
            for title, help_text, action in target.commands():
                yield SystemCommand(title, help_text, getattr(target, f"action_{action}"))
        yield SystemCommand("help: keys", "Show every key of the console", self.action_help)

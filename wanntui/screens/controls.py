"""Run-control keys shared by the browser and the run view; which apply depends on the run's state."""

from __future__ import annotations

from pathlib import Path

from textual.binding import ActiveBinding, Binding

from .base import TuiScreen

#: action -> states of the selected run in which it applies
APPLIES: dict[str, tuple[str, ...]] = {
    "pause": ("running",),
    "continue": ("paused",),
    "stop": ("running", "paused", "starting"),
    "kill": ("running", "paused", "starting"),
    "resume": ("stopped", "crashed"),
    "delete": ("stopped", "finished", "crashed"),
}

CONTROL_BINDINGS = [
    Binding("p", "pause", "Pause", id="run.pause", tooltip="Pause the run at its next generation boundary"),
    Binding("c", "continue", "Continue", id="run.continue", tooltip="Continue a paused run"),
    Binding("s", "stop", "Stop", id="run.stop", tooltip="Stop gracefully: checkpoint, then exit (resumable)"),
    Binding("K", "kill", "Kill", id="run.kill", tooltip="SIGKILL the engine (asks first)"),
    Binding("r", "resume", "Resume", id="run.resume", tooltip="Continue a stopped or crashed run from its checkpoint"),
    # ``L`` everywhere (the run view keeps ``l`` for its fitness window); the browser also takes ``l``
    Binding("L", "log", "Log", id="run.log_L", show=False,
            tooltip="The engine's output, its error event and traceback"),
]
#: the browser's own log key
LOG_BINDING = Binding("l", "log", "Log", id="run.log", tooltip="The engine's output, its error event and traceback")


def controls_first(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """``bindings`` (a screen's active bindings, in footer order) with the run-control keys that apply
    moved to the front: the footer is cut at the terminal's right edge (80 columns), and pause / continue
    / stop / kill / resume must stay on it while view keys give way."""
    first = {k: b for k, b in bindings.items() if b.binding.action in APPLIES}
    return {**first, **{k: b for k, b in bindings.items() if k not in first}}


class RunControls(TuiScreen):
    """Run-control keys for a screen: ``selected_run()`` names the run the keys act on."""

    def selected_run(self) -> Path | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def selected_state(self) -> str | None:
        run = self.selected_run()
        return self.tui.state_of(run) if run is not None else None

    def control_allowed(self, action: str) -> bool | None:
        """True/False for a run-control action, None if ``action`` is not one."""
        if action not in APPLIES:
            return None
        return self.selected_state() in APPLIES[action]

    def action_pause(self) -> None:
        self.tui.control_run(self.selected_run(), "pause")

    def action_continue(self) -> None:
        self.tui.control_run(self.selected_run(), "continue")

    def action_stop(self) -> None:
        self.tui.control_run(self.selected_run(), "stop")

    def action_kill(self) -> None:
        self.tui.confirm_kill(self.selected_run())

    def action_resume(self) -> None:
        self.tui.control_run(self.selected_run(), "resume")

    def action_delete(self) -> None:
        self.tui.confirm_delete(self.selected_run())

    def action_log(self) -> None:
        self.tui.show_log(self.selected_run())

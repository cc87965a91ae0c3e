"""Small forms on a run: its notes and tags, a new name, and the list of open run views."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea

from wann_engine import control, rundir


class NotesScreen(ModalScreen[control.RunNotes | None]):
    """Edit a run's tags (words) and notes (free text); ``ctrl+s`` saves, ``escape`` cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="notes.cancel"),
        Binding("ctrl+s", "save", "Save", id="notes.save"),
    ]

    def __init__(self, run: Path, notes: control.RunNotes) -> None:
        super().__init__()
        self.run = Path(run)
        self.notes = notes

    def compose(self) -> ComposeResult:
        with Vertical(id="notes-box", classes="dialog"):
            yield Static(f"Notes and tags of {self.run.name}", classes="dialog-title")
            yield Label("tags (words, e.g. baseline seed-sweep)")
            yield Input(" ".join(self.notes.tags), id="notes-tags", compact=True)
            yield Label("notes")
            yield TextArea(self.notes.text, id="notes-text", soft_wrap=True)
            yield Static("", id="notes-error")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="success", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#notes-tags", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#notes-text", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        try:
            tags = control.parse_tags(self.query_one("#notes-tags", Input).value)
        except ValueError as e:
            self.query_one("#notes-error", Static).update(str(e))
            return
        self.dismiss(control.RunNotes(self.query_one("#notes-text", TextArea).text.rstrip(), tags))


class RenameScreen(ModalScreen[str | None]):
    """A new name for a run (checked as the engine checks names; must not exist)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rename.cancel")]

    def __init__(self, run: Path) -> None:
        super().__init__()
        self.run = Path(run)

    def compose(self) -> ComposeResult:
        with Vertical(id="rename-box", classes="dialog"):
            yield Static(f"Rename {self.run.name}", classes="dialog-title")
            yield Input(self.run.name, id="rename-name", compact=True)
            yield Static("", id="rename-error")

    def on_mount(self) -> None:
        self.query_one("#rename-name", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#rename-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        try:
            rundir.check_name(name)
        except rundir.RunDirError as e:
            self.query_one("#rename-error", Static).update(str(e))
            return
        if name != self.run.name and (self.run.parent / name).exists():
            self.query_one("#rename-error", Static).update(f"{name} already exists")
            return
        self.dismiss(name if name != self.run.name else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ViewsScreen(ModalScreen[Path | None]):
    """The open run views: pick one to switch to it."""

    BINDINGS = [Binding("escape,O", "cancel", "Cancel", id="views.cancel")]

    def __init__(self, runs: list[Path], states: dict[Path, str], current: Path | None = None) -> None:
        super().__init__()
        self.runs = [Path(r) for r in runs]
        self.states = states
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="views-box", classes="dialog"):
            yield Static(f"Open run views ({len(self.runs)}): enter switches", classes="dialog-title")
            yield OptionList(*(f"{r.name}  [{self.states.get(r, '?')}]" for r in self.runs), id="views-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.runs:
            options.highlighted = self.runs.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.runs[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)

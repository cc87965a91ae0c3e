"""The new-run form: task preset, population, generations, workers, seed, name."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from wann_engine import rundir
from wann_engine.config import PRESETS


@dataclass(frozen=True)
class NewRun:
    """What the form asks ``control.launch`` to start."""

    preset: str
    pop: int | None
    gens: int | None
    workers: int
    seed: int
    name: str


def default_name(preset: str) -> str:
    return f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_form(runs_dir: Path, preset: str, pop: str, gens: str, workers: str, seed: str, name: str) -> NewRun:
    """The form's values as a :class:`NewRun`; ValueError names the first bad field."""
    if preset not in PRESETS:
        raise ValueError(f"preset: choose one of {', '.join(PRESETS)}")

    def integer(label: str, text: str, lo: int, default: int | None) -> int | None:
        text = text.strip()
        if not text:
            return default
        try:
            v = int(text)
        except ValueError:
            raise ValueError(f"{label}: {text!r} is not a whole number") from None
        if v < lo:
            raise ValueError(f"{label}: must be at least {lo}")
        return v

    p = integer("population", pop, 2, None)
    g = integer("generations", gens, 1, None)
    w = integer("workers", workers, 1, 1)
    s = integer("seed", seed, 0, 0)
    name = name.strip() or default_name(preset)
    try:
        rundir.check_name(name)
    except rundir.RunDirError as e:
        raise ValueError(str(e)) from None
    if (Path(runs_dir) / name).exists():
        raise ValueError(f"name: {name} already exists in {runs_dir}")
    return NewRun(preset, p, g, w or 1, s or 0, name)


class NewRunScreen(ModalScreen[NewRun | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "launch", "Launch", id="form.launch"),
    ]

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)

    def compose(self) -> ComposeResult:
        first = "laptop_swing" if "laptop_swing" in PRESETS else next(iter(PRESETS))
        with Vertical(id="form-box", classes="dialog"):
            yield Static(f"New run in {self.runs_dir}", classes="dialog-title")
            with Grid(id="form-grid"):
                yield Label("task preset")
                yield Select([(k, k) for k in PRESETS], value=first, allow_blank=False, id="preset", compact=True)
                yield Label("population")
                yield Input(placeholder="", type="integer", id="pop", compact=True)
                yield Label("generations")
                yield Input(placeholder="", type="integer", id="gens", compact=True)
                yield Label("workers")
                yield Input(value="1", type="integer", id="workers", compact=True)
                yield Label("seed")
                yield Input(value="0", type="integer", id="seed", compact=True)
                yield Label("name")
                yield Input(placeholder="", id="name", compact=True)
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Launch (enter)", id="launch", variant="success", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._preset_changed(str(self.query_one("#preset", Select).value))
        self.query_one("#pop", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._preset_changed(str(event.value))

    def _preset_changed(self, preset: str) -> None:
        d = PRESETS.get(preset, {})
        self.query_one("#pop", Input).placeholder = f"preset: {d.get('popSize', '?')}"
        self.query_one("#gens", Input).placeholder = f"preset: {d.get('maxGen', '?')}"
        self.query_one("#name", Input).placeholder = f"default: {preset}-<date>-<time>"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_launch(self) -> None:
        v = lambda i: self.query_one(f"#{i}", Input).value  # noqa: E731
        try:
            req = check_form(self.runs_dir, str(self.query_one("#preset", Select).value), v("pop"), v("gens"),
                             v("workers"), v("seed"), v("name"))
        except ValueError as e:
            self.query_one("#form-error", Static).update(str(e))
            return
        self.dismiss(req)

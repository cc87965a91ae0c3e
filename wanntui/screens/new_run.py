"""The new-run form: task preset, population, generations, workers, seed, name."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from wann_engine import control, rundir
from wann_engine.config import PRESETS, ConfigError

#: the form's label of each configuration key it sets (errors name the field the user typed in)
_LABELS = {"popSize": "population", "maxGen": "generations", "workers": "workers", "seed": "seed"}


def check_form(runs_dir: Path, preset: str, pop: str, gens: str, workers: str, seed: str,
               name: str) -> control.LaunchSpec:
    """The form's values as a checked :class:`control.LaunchSpec` (the checks of ``wann-tui --batch``
    and ``wann-engine run``); ValueError names the first bad field."""
    if preset not in PRESETS:
        raise ValueError(f"preset: choose one of {', '.join(PRESETS)}")

    def integer(label: str, text: str, default: int | None) -> int | None:
        text = text.strip()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{label}: {text!r} is not a whole number") from None

    spec = control.LaunchSpec(task=preset, name=name.strip() or None, runs_dir=Path(runs_dir),
                              pop=integer("population", pop, None), gens=integer("generations", gens, None),
                              workers=integer("workers", workers, 1) or 1, seed=integer("seed", seed, 0) or 0)
    try:
        spec.check()
    except ConfigError as e:
        key = str(e).split("=", 1)[0]
        raise ValueError(f"{_LABELS[key]}: {e}" if key in _LABELS else str(e)) from None
    except rundir.RunDirError as e:
        raise ValueError(f"name: {e}") from None
    return spec


class NewRunScreen(ModalScreen[control.LaunchSpec | None]):
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

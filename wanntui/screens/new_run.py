"""The new-run form: task (a preset, a registered task or any ``gym:<EnvId>``), population, generations,
workers, threads, seed, name and ``--set key=value`` overrides; it can start from an existing run's
configuration (``N`` in the browser). With sweep seeds (``0-7``) or ``--grid key=v1,v2`` fields it starts
a sweep instead (``wann-engine sweep start ... --detach``, through ``control.launch_sweep``)."""

from __future__ import annotations

import shlex
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from wann_engine import control, rundir, tasks
from wann_engine.config import PRESETS, Config, ConfigError, preset

#: the form's label of each configuration key it sets (errors name the field the user typed in)
_LABELS = {"popSize": "population", "maxGen": "generations", "workers": "workers", "seed": "seed",
           "threads": "threads"}
#: the task the form starts with: the CLI's default (``wann-engine run`` without ``--task``)
DEFAULT_TASK = control.LaunchSpec.task
#: keys the form has a field for (never repeated as ``--set`` overrides)
_FIELDS = {"task", "popSize", "maxGen", "seed", "workers", "threads"}


def task_choices() -> list[str]:
    """What the task field suggests: presets, registered tasks and a few gym environments."""
    gym = ["gym:LunarLanderContinuous-v3", "gym:BipedalWalker-v3", "gym:Pendulum-v1", "gym:MountainCarContinuous-v0"]
    return list(dict.fromkeys([*PRESETS, *tasks.names(), *gym]))


def check_task(task: str) -> str:
    task = task.strip()
    if not task:
        raise ValueError("task: give a preset, a task or gym:<EnvId>")
    if task in PRESETS or task in tasks.names() or (task.startswith("gym:") and len(task) > 4):
        return task
    raise ValueError(f"task: {tasks.unknown_task(task)}")


def check_form(runs_dir: Path, preset_name: str, pop: str, gens: str, workers: str, seed: str,
               name: str, threads: str = "", sets: str = "") -> control.LaunchSpec:
    """The form's values as a checked :class:`control.LaunchSpec` (the checks of ``wann-tui --batch``
    and ``wann-engine run``); ValueError names the first bad field. ``sets``: ``key=value`` words."""
    task = check_task(preset_name)

    def integer(label: str, text: str, default: int | None) -> int | None:
        text = text.strip()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{label}: {text!r} is not a whole number") from None

    try:
        overrides = shlex.split(sets)
    except ValueError as e:
        raise ValueError(f"--set: {e}") from None
    for o in overrides:
        if "=" not in o:
            raise ValueError(f"--set: {o!r} is not key=value")
    n_threads = integer("threads", threads, None)
    if n_threads is not None:
        overrides.append(f"threads={n_threads}")
    spec = control.LaunchSpec(task=task, name=name.strip() or None, runs_dir=Path(runs_dir),
                              pop=integer("population", pop, None), gens=integer("generations", gens, None),
                              workers=integer("workers", workers, 1) or 1, seed=integer("seed", seed, 0) or 0,
                              overrides=tuple(overrides))
    try:
        spec.check()
    except ConfigError as e:
        key = str(e).split("=", 1)[0]
        raise ValueError(f"{_LABELS[key]}: {e}" if key in _LABELS else str(e)) from None
    except rundir.RunDirError as e:
        raise ValueError(f"name: {e}") from None
    return spec


def check_sweep_form(runs_dir: Path, preset_name: str, pop: str, gens: str, workers: str, seeds: str, name: str,
                     threads: str = "", sets: str = "", grid: str = "") -> control.SweepSpec:
    """The form's values as a checked :class:`control.SweepSpec`; ValueError names the first bad field.
    ``grid``: ``key=v1,v2`` words (one per key)."""
    from wann_engine.sweep import SweepError

    base = check_form(runs_dir, preset_name, pop, gens, workers, "0", "", threads="", sets=sets)
    if base.workers != 1:
        raise ValueError("workers: a sweep's members run on threads (the threads field), not MPI workers")
    try:
        axes = shlex.split(grid)
    except ValueError as e:
        raise ValueError(f"--grid: {e}") from None
    if threads.strip() and not threads.strip().isdigit():
        raise ValueError(f"threads: {threads.strip()!r} is not a whole number")
    n_threads = int(threads) if threads.strip() else 1  # one per member unless asked
    spec = control.SweepSpec(task=base.task, name=name.strip() or None, runs_dir=Path(runs_dir),
                             seeds=seeds.strip() or "0", grid=tuple(axes), pop=base.pop, gens=base.gens,
                             threads=n_threads, overrides=base.overrides)
    try:
        spec.check()
    except (SweepError, ConfigError) as e:
        raise ValueError(str(e)) from None
    except rundir.RunDirError as e:
        raise ValueError(f"name: {e}") from None
    return spec


def _text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def form_values(cfg: Config) -> dict[str, str]:
    """A run's configuration as the form's fields: the task, the numbers that have a field, and every
    other key that differs from the task's defaults as ``--set`` overrides."""
    d = cfg.to_dict()
    base = (preset(cfg.task) if cfg.task in PRESETS else Config.from_dict({"task": cfg.task})).to_dict()
    sets = [f"{k}={_text(v)}" for k, v in d.items() if k not in _FIELDS and base.get(k) != v]
    return {"task": cfg.task, "pop": str(cfg.popSize), "gens": str(cfg.maxGen), "workers": str(cfg.workers),
            "threads": str(cfg.threads) if cfg.threads else "", "seed": str(cfg.seed),
            "sets": " ".join(shlex.quote(s) for s in sets)}


class NewRunScreen(ModalScreen[control.LaunchSpec | control.SweepSpec | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "launch", "Launch", id="form.launch"),
    ]

    def __init__(self, runs_dir: Path, source: Path | None = None) -> None:
        """``source``: a run whose configuration fills the form."""
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.source = Path(source) if source is not None else None
        self.values: dict[str, str] = {}
        self.source_error = ""
        if self.source is not None:
            try:
                self.values = form_values(rundir.read_config(self.source))
            except (rundir.RunDirError, ConfigError, OSError, ValueError) as e:
                self.source_error = f"cannot read {self.source.name}'s config: {e}"

    def compose(self) -> ComposeResult:
        v = self.values
        title = f"New run in {self.runs_dir}"
        if self.source is not None and v:
            title += f" (from {self.source.name})"
        with Vertical(id="form-box", classes="dialog"):
            yield Static(title, classes="dialog-title")
            with Grid(id="form-grid"):
                yield Label("task")
                yield Input(v.get("task", DEFAULT_TASK), id="task", compact=True,
                            suggester=SuggestFromList(task_choices(), case_sensitive=False))
                yield Label("population")
                yield Input(v.get("pop", ""), type="integer", id="pop", compact=True)
                yield Label("generations")
                yield Input(v.get("gens", ""), type="integer", id="gens", compact=True)
                yield Label("workers")
                yield Input(v.get("workers", "1"), type="integer", id="workers", compact=True)
                yield Label("seed")
                yield Input(v.get("seed", "0"), type="integer", id="seed", compact=True)
                yield Label("name")
                yield Input(placeholder="", id="name", compact=True)
                yield Label("threads")
                yield Input(v.get("threads", ""), type="integer", id="threads", placeholder="all cores",
                            compact=True)
                yield Label("--set")
                yield Input(v.get("sets", ""), id="sets", placeholder="key=value ...", compact=True)
                yield Label("sweep seeds")
                yield Input("", id="sweep-seeds", placeholder="e.g. 0-7: a sweep, one run per seed × setting",
                            compact=True)
                yield Label("--grid")
                yield Input("", id="grid", placeholder="key=v1,v2 ... (a sweep over every combination)",
                            compact=True)
            yield Static(self.source_error, id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Launch (enter)", id="launch", variant="success", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._task_changed(self.query_one("#task", Input).value)
        self.query_one("#pop", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "task":
            self._task_changed(event.value)
        # a message about the old value (e.g. "name already exists") no longer applies
        if self.error_text:
            self.error_text = ""

    @property
    def error_text(self) -> str:
        return str(self.query_one("#form-error", Static).render()).strip()

    @error_text.setter
    def error_text(self, text: str) -> None:
        self.query_one("#form-error", Static).update(text)

    def _task_changed(self, task: str) -> None:
        task = task.strip()
        d = PRESETS.get(task, {})
        self.query_one("#pop", Input).placeholder = f"preset: {d['popSize']}" if "popSize" in d else "default"
        self.query_one("#gens", Input).placeholder = f"preset: {d['maxGen']}" if "maxGen" in d else "default"
        stem = control.default_name(task or "run")[:-16]  # without its -<date>-<time>
        self.query_one("#name", Input).placeholder = f"default: {stem}-<date>-<time>"

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
        req: control.LaunchSpec | control.SweepSpec
        try:
            if v("sweep-seeds").strip() or v("grid").strip():
                req = check_sweep_form(self.runs_dir, v("task"), v("pop"), v("gens"), v("workers"),
                                       v("sweep-seeds"), v("name"), threads=v("threads"), sets=v("sets"),
                                       grid=v("grid"))
            else:
                req = check_form(self.runs_dir, v("task"), v("pop"), v("gens"), v("workers"), v("seed"),
                                 v("name"), threads=v("threads"), sets=v("sets"))
        except ValueError as e:
            self.error_text = str(e)
            return
        self.dismiss(req)

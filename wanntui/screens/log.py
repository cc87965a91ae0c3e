"""Why a run failed: its state and one-line reason, the ``error`` event, and the engine's own output
(``engine.log`` in the run folder, with the traceback the engine writes there when a run fails, and
the launch log of a run the engine never created). Read when opened and on ``r``; never follows."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from wann_engine import control, rundir
from wann_engine.events import STATE_TYPES, Error, read_tail

from ..runs import crash_reason
from .base import TuiScreen

#: the end of a log that is shown (a long run's engine.log can be large)
TAIL_BYTES = 256 << 10


def read_end(path: Path, limit: int = TAIL_BYTES) -> tuple[str, bool] | None:
    """The last ``limit`` bytes of a text file (and whether it was cut), None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except OSError:
        return None
    cut = size > limit
    if cut:
        data = data.split(b"\n", 1)[-1]
    return data.decode("utf-8", errors="replace"), cut


def log_lines(run: Path, state: str | None = None, note: str = "") -> list[Text]:
    """Everything the log screen shows for ``run`` (pure: the test reads it without a terminal)."""
    run = Path(run)
    out: list[Text] = []
    head = Text.assemble(("run ", "bold"), str(run))
    if state:
        head.append(f"  {state}", style="bold red" if state in ("crashed", "failed", "damaged") else "bold")
    out.append(head)
    if not note and state == "crashed":
        note = crash_reason(run)
    if note:
        out.append(Text(note, style="red"))
    tail = read_tail(run / rundir.EVENTS, {"error", *STATE_TYPES})
    err = tail.last.get("error")
    if isinstance(err, Error):
        at = f" at generation {err.gen}" if err.gen is not None else ""
        later = tail.newest(STATE_TYPES)
        when = "" if later is err else " (an earlier session; the run went on after it)"
        out.append(Text(f"error event{at}: {err.message}{when}", style="bold red"))
    found = False
    for label, path in ((rundir.LOG, run / rundir.LOG),
                        ("launch log", control.launch_log(run.parent, run.name))):
        got = read_end(path)
        if got is None:
            continue
        found = True
        text, cut = got
        out.append(Text(""))
        out.append(Text(f"── {label} ({path}){', last 256 KB' if cut else ''} ──", style="bold"))
        lines = text.splitlines() or ["(empty)"]
        for line in lines:
            style = "red" if ("Error" in line or "error:" in line or line.startswith("Traceback")) else ""
            out.append(Text(line, style=style))
    if not found:
        out.append(Text(""))
        out.append(Text(f"no engine output: neither {rundir.LOG} nor a launch log exists "
                        "(a run started in a terminal prints there)", style="italic"))
    return out


class LogScreen(TuiScreen, Screen):
    BINDINGS = [
        Binding("escape,b,l", "back", "Back", id="log.back"),
        Binding("r", "reload", "Reload", id="log.reload"),
        Binding("home", "top", "Top", show=False),
        Binding("end", "bottom", "End", show=False),
    ]
    HELP = "The run's engine output, its error event and traceback."
    DEFAULT_CSS = """
    LogScreen #log-title { height: 1; padding: 0 1; background: $panel; text-style: bold;
                           text-wrap: nowrap; text-overflow: ellipsis; }
    LogScreen #log-text { height: 1fr; }
    """

    def __init__(self, run: Path) -> None:
        super().__init__()
        self.run = Path(run)

    def compose(self) -> ComposeResult:
        yield Static(f"Log of {self.run.name}", id="log-title")
        yield RichLog(id="log-text", wrap=True, markup=False, highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one(RichLog).focus()

    def lines(self) -> list[Text]:
        row = self.tui.run_rows.get(self.run) if hasattr(self.app, "run_rows") else None
        return log_lines(self.run, row.state if row else None, row.note if row else "")

    def action_reload(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for line in self.lines():
            log.write(line)

    def action_top(self) -> None:
        self.query_one(RichLog).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(RichLog).scroll_end(animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def commands(self) -> list[tuple[str, str, str]]:
        return [("log: back", "Back", "back"), ("log: reload", "Read the logs again", "reload")]

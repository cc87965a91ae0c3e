"""One line with the run's state, generation, speed, time, workers and checkpoint age (compact when narrow)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

from ..fmt import status_fields
from ..model import Snapshot

STATE_STYLES = {"running": "bold green", "paused": "bold yellow", "stopped": "bold", "finished": "bold cyan",
                "crashed": "bold red", "starting": "italic", "failed": "bold red",
                "damaged": "bold red"}


#: shorter labels when the full line does not fit (80x24 keeps the bar on one line)
COMPACT = {"gen": "gen", "evals/s": "ev/s", "steps/s": "st/s", "elapsed": "", "workers": "w", "ckpt": "ckpt"}

#: fields left out, last, when even the compact line does not fit
DROPPED = ("steps/s", "elapsed")


def _coarse(value: str) -> str:
    """3m05s -> 3m, 2h07m stays: compact durations drop seconds once minutes show."""
    return re.sub(r"^(\d+m)\d\ds$", r"\1", value)


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    """

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.ascii = ascii
        self.fields: list[tuple[str, str]] = []
        self.text = ""

    def show(self, snap: Snapshot, state: str, now: float) -> None:
        self.fields = status_fields(snap, state, now)
        width = self.app.size.width - 2
        # full, tight separators, short labels and coarse times, then without steps/s and elapsed time
        for level in (0, 1, 2, 3):
            text = self._build(snap, tight=level >= 1, compact=level >= 2, drop=DROPPED if level == 3 else ())
            if width <= 0 or len(text.plain) <= width:
                break
        else:  # still too long (an error message): cut its end, the bar stays on one line
            if self.ascii:
                text.truncate(width - 1)
                text.append("~")
            else:
                text.truncate(width, overflow="ellipsis")
        if text.plain != self.text:
            self.text = text.plain
            self.update(text)

    def _build(self, snap: Snapshot, tight: bool, compact: bool, drop: tuple[str, ...] = ()) -> Text:
        sep = ("|" if tight else " | ") if self.ascii else ("│" if tight else " │ ")
        text = Text(no_wrap=False, overflow="fold")
        name = snap.path.name  # the folder (a copied run keeps its run_start name)
        text.append(name[:18] + ("~" if len(name) > 18 else "") if compact else name, style="bold")
        for label, value in self.fields:
            if label in drop:
                continue
            text.append(sep, style="dim")
            if label == "state":
                text.append(value, style=STATE_STYLES.get(value, ""))
            elif label in ("evals/s", "steps/s"):
                text.append(value)
                text.append(f" {COMPACT[label] if compact else label}", style="dim")
            else:
                short = COMPACT.get(label, label) if compact else label
                if short:
                    text.append(short + ("" if short == "w" else " "), style="dim")
                value = value.removesuffix(" ago") if tight else value
                text.append(_coarse(value) if compact else value)
        prog = snap.progress  # within a long generation: episodes done so far
        if prog is not None:
            text.append(sep, style="dim")
            what = "retest" if prog.phase == "retest" else "gen"
            text.append(f"{what} {prog.gen} " if not compact else "", style="dim")
            text.append(f"{prog.done}/{prog.total} ep")
        if snap.error:
            text.append(sep, style="dim")
            text.append(f"error: {snap.error}", style="bold red")
        if snap.n_malformed:
            text.append(sep, style="dim")
            text.append(("! " if self.ascii else "⚠ ") + f"{snap.n_malformed} bad line(s) skipped", style="bold yellow")
        return text

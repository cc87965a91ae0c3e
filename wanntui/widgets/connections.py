"""The network's connections, one per line, with the selected one highlighted and its offset."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import Static


class ConnectionList(Static):
    DEFAULT_CSS = """
    ConnectionList { text-wrap: nowrap; text-overflow: clip; }
    """
    """Shows a window of rows around the selection (the screen owns the selection and the offsets)."""

    BORDER_TITLE = "Connections"
    HELP = "Each connection's weight is the shared weight plus its own offset. Up/down select, +/- nudge " \
           "the offset, 0 resets it, x resets all."

    def __init__(self, labels: list[str], ascii: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.labels = labels
        self.ascii = ascii
        self.selected = 0
        self.lines: list[str] = []

    def show(self, selected: int, weight: float, offsets: np.ndarray) -> None:
        self.selected = selected
        n = len(self.labels)
        rows = max(1, self.content_size.height or 8)
        lw = max(8, min(28, (self.content_size.width or 44) - 19))  # label width: the rest of the row fits
        first = min(max(0, selected - rows // 2), max(0, n - rows))
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        self.lines = []
        mark = ">" if self.ascii else "▶"
        for k in range(first, min(n, first + rows)):
            off = float(offsets[k]) if k < len(offsets) else 0.0
            line = (f"{mark if k == selected else ' '}{k + 1:3d} {self.labels[k]:<{lw}.{lw}} "
                    f"{weight + off:+6.2f}" + (f" {off:+6.2f}" if off else ""))
            self.lines.append(line)
            style = "reverse bold" if k == selected else ("bold" if off else "")
            text.append(line + ("\n" if k < min(n, first + rows) - 1 else ""), style=style)
        if n == 0:
            text.append("no connections")
        self.update(text)
        changed = int(np.count_nonzero(offsets))
        self.border_subtitle = f"{selected + 1}/{n}" + (f"  {changed} offset" + ("s" if changed != 1 else "")
                                                         if changed else "")

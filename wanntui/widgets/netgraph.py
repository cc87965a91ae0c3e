"""The current champion as text: layers left to right, or one line per node; scrolls both ways."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

from ..model import Snapshot
from ..netgraph_text import GraphText, layout_network, list_network

STYLES = {"input": "bold cyan", "unused": "dim", "bias": "cyan", "hidden": "yellow", "output": "bold green",
          "edge": "", "legend": "italic"}


def to_text(g: GraphText) -> Text:
    """Styled Rich text of a :class:`GraphText`."""
    text = Text(no_wrap=True, overflow="ignore", end="")
    starts = []
    for line in g.lines:
        starts.append(len(text))
        text.append(line + "\n")
    for line, a, b, kind in g.spans:
        style = STYLES.get(kind, "")
        if style and a < b:
            text.stylize(style, starts[line] + a, starts[line] + b)
    text.rstrip()
    return text


def champion_from_file(run: Path) -> dict | None:
    """The genome in ``champion.json``, for a run whose events carry no champion."""
    try:
        doc = orjson.loads((run / "champion.json").read_bytes())
        return doc.get("genome")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None


class NetGraph(ScrollableContainer):
    """``g`` switches between the layered drawing and the per-node list; arrows/page keys scroll."""

    BORDER_TITLE = "3 Champion network"
    ALLOW_MAXIMIZE = True
    HELP = "The best network so far. Columns are layers (longest path from the inputs); hidden nodes show " \
           "their activation, outputs name:activation; unused inputs are dim and listed on the first line. " \
           "Press g for a list of each node's sources; arrows scroll; z maximizes."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.ascii = ascii
        self.mode = "graph"
        self.graph: GraphText | None = None
        self._key: tuple | None = None
        self.body = Static("waiting for a champion", id="net-text", expand=False, shrink=False)

    def compose(self) -> ComposeResult:
        yield self.body

    def toggle(self) -> None:
        self.mode = "list" if self.mode == "graph" else "graph"
        self._key = None

    def show(self, snap: Snapshot) -> None:
        champ, source = snap.champion, f"generation {snap.champion_gen}"
        if champ is None and snap.n_generations:
            champ, source = champion_from_file(snap.path), "champion.json"
        key = (snap.champ_version, source, self.mode, snap.meta.input_names, snap.meta.output_names)
        if key == self._key:
            return
        self._key = key
        static = self.body
        if champ is None:
            static.update("waiting for a champion")
            self.border_subtitle = ""
            self.graph = None
            return
        from wann_engine.genome import Genome  # numba: loaded on first use (the app warms it up)

        try:
            net = Genome.from_dict(champ).network(snap.meta.keep_disabled_hidden)
        except (KeyError, TypeError, ValueError) as e:
            static.update(f"champion cannot be drawn: {e}")
            self.graph = None
            return
        m = snap.meta
        if self.mode == "graph":
            self.graph = layout_network(net, m.input_names, m.output_names, ascii=self.ascii)
        else:
            self.graph = list_network(net, m.input_names, m.output_names)
        static.update(to_text(self.graph))
        self.border_subtitle = f"{self.mode}  from {source}"

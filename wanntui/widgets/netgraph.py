"""The current champion as text: layers left to right, or one line per node; scrolls both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
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


class NetGraph(ScrollableContainer):
    """``g`` switches between the layered drawing and the per-node list; arrows/page keys scroll.

    The drawing is first narrowed to the pane's width (``layout_network(max_width=...)``) and redrawn when
    the pane is resized (maximized); only a network that does not fit even so scrolls. Scroll keys move
    at once (not after the next refresh), so keys arriving in a burst add up."""

    BORDER_TITLE = "3 Champion network"
    #: in the footer while this pane is focused (the live view's own ``g`` works from any pane)
    BINDINGS = [Binding("g", "screen.net_mode", "Graph/list", id="net.mode",
                        tooltip="Network: drawing / list of sources")]
    ALLOW_MAXIMIZE = True
    HELP = "The best network so far. Columns are layers (longest path from the inputs); hidden nodes show " \
           "their activation, outputs name:activation; unused inputs are dim and listed on the first line. " \
           "Wider networks are narrowed to fit (closer tracks, then shorter names) before they scroll. " \
           "Press g for a list of each node's sources; arrows scroll; z maximizes."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.ascii = ascii
        self.mode = "graph"
        self.graph: GraphText | None = None
        self._key: tuple | None = None
        self._snap: Snapshot | None = None
        self.fit_width: int | None = None  # the width the drawing was last fitted to
        #: what the pane says while there is no champion; the live view says why none came
        self.empty_text = "waiting for a champion"
        self.body = Static(self.empty_text, id="net-text", expand=False, shrink=False)

    def compose(self) -> ComposeResult:
        yield self.body

    def toggle(self) -> None:
        self.mode = "list" if self.mode == "graph" else "graph"
        self._key = None

    # --- scrolling: at once, so that a burst of keys adds up -------------------------------------------
    def _scroll_by(self, dx: int = 0, dy: int = 0) -> None:
        self.scroll_to(x=self.scroll_x + dx if dx else None, y=self.scroll_y + dy if dy else None,
                       animate=False, immediate=True)

    def action_scroll_left(self) -> None:
        self._scroll_by(dx=-1)

    def action_scroll_right(self) -> None:
        self._scroll_by(dx=1)

    def action_scroll_up(self) -> None:
        self._scroll_by(dy=-1)

    def action_scroll_down(self) -> None:
        self._scroll_by(dy=1)

    def action_page_up(self) -> None:
        self._scroll_by(dy=-max(1, self.scrollable_content_region.height))

    def action_page_down(self) -> None:
        self._scroll_by(dy=max(1, self.scrollable_content_region.height))

    def action_page_left(self) -> None:
        self._scroll_by(dx=-max(1, self.scrollable_content_region.width))

    def action_page_right(self) -> None:
        self._scroll_by(dx=max(1, self.scrollable_content_region.width))

    # --- drawing ----------------------------------------------------------------------------------------
    def _avail_width(self) -> int | None:
        """Columns the drawing may use without scrolling (a vertical scrollbar may take one); None before
        the pane has a size."""
        return max(8, self.content_size.width - 1) if self.content_size.width else None

    def on_resize(self) -> None:
        if self._snap is not None and self.mode == "graph" and self._avail_width() != self.fit_width:
            self.show(self._snap)

    def show(self, snap: Snapshot) -> None:
        """Draw the snapshot's champion (or the run's ``champion.json`` when its events carry none); the
        genome is read, checked, expressed and laid out in a worker thread, never on the UI thread."""
        self._snap = snap
        champ, source = snap.champion, f"generation {snap.champion_gen}"
        from_file = champ is None and bool(snap.n_generations) and (snap.path / "champion.json").is_file()
        if from_file:
            source = "champion.json"
        width = self._avail_width() if self.mode == "graph" else None
        key = (snap.champ_version, source, self.mode, snap.meta.input_names, snap.meta.output_names, width,
               self.empty_text)
        if key == self._key:
            return
        self._key = key
        if champ is None and not from_file:
            self.body.update(self.empty_text)
            self.border_subtitle = ""
            self.graph = None
            return
        names = (tuple(snap.meta.input_names), tuple(snap.meta.output_names))
        self.fit_width = width
        self._draw(key, champ, snap.path / "champion.json" if from_file else None, names,
                   snap.meta.keep_disabled_hidden, source, width)

    @work(thread=True, exclusive=True, group="netgraph", exit_on_error=False)
    def _draw(self, key: tuple, champ: Any, file: Path | None, names: tuple[tuple[str, ...], tuple[str, ...]],
              keep: bool, source: str, width: int | None = None) -> None:
        from wann_engine.netfile import NetworkFileError, genome_from_dict, open_network
        from wann_engine.tasks import TaskError

        graph: GraphText | None = None
        try:
            if file is not None:
                got = open_network(file)
                genome, names, keep = got.genome, got.names, got.keep_disabled_hidden
            else:
                genome = genome_from_dict(champ)
            net = genome.network(keep)
            if self.mode == "graph":
                graph = layout_network(net, *names, ascii=self.ascii, max_width=width)
            else:
                graph = list_network(net, *names)
            body: Text | str = to_text(graph)
        except (NetworkFileError, TaskError, ValueError) as e:
            body = f"champion cannot be drawn: {e}"
        self.app.call_from_thread(self._show_drawn, key, graph, body, source)

    def _show_drawn(self, key: tuple, graph: GraphText | None, body: Text | str, source: str) -> None:
        if key != self._key:  # a newer champion or mode was asked for meanwhile
            return
        self.graph = graph
        self.body.update(body)
        compact = "  narrowed" if graph is not None and graph.compact else ""
        self.border_subtitle = f"{self.mode}{compact}  from {source}" if graph is not None else ""

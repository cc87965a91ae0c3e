"""Pick a network of the first Pareto front (from the run's checkpoint) to open in the weight explorer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wann_engine.explore import Member


def front_title(gen: int, axes: str = "conns", live_gen: int | None = None) -> str:
    """Which front the list holds: its objectives (those of the Pareto pane) and its generation, which is
    the last checkpoint's and may be older than the generation the live view shows."""
    title = f"First Pareto front ({'mean vs peak' if axes == 'peak' else 'mean vs connections'}), generation {gen}"
    if live_gen is not None and live_gen != gen:
        title += f": the last checkpoint (the view shows generation {live_gen})"
    return title


class FrontPickScreen(ModalScreen["Member | None"]):
    """Dismisses with the chosen member, or None (escape)."""

    DEFAULT_CSS = """
    FrontPickScreen { align: center middle; }
    FrontPickScreen #front-list { height: auto; max-height: 55vh; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="front.cancel")]

    def __init__(self, gen: int, members: list[Member], axes: str = "conns", live_gen: int | None = None) -> None:
        super().__init__()
        self.gen = gen
        self.members = members
        self.title_text = front_title(gen, axes, live_gen)

    def compose(self) -> ComposeResult:
        with Vertical(id="front-box", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(f"#{m.index:<4d} {m.conns:4d} connections   mean {m.mean:9.2f}   "
                                      f"peak {m.peak:9.2f}", id=str(i)) for i, m in enumerate(self.members)],
                             id="front-list")
            yield Static("enter: explore   escape: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.members[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Pick a network of the first Pareto front (from the run's checkpoint) to open in the weight explorer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wann_engine.explore import Member


class FrontPickScreen(ModalScreen["Member | None"]):
    """Dismisses with the chosen member, or None (escape)."""

    DEFAULT_CSS = """
    FrontPickScreen { align: center middle; }
    FrontPickScreen #front-list { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="front.cancel")]

    def __init__(self, gen: int, members: list[Member]) -> None:
        super().__init__()
        self.gen = gen
        self.members = members

    def compose(self) -> ComposeResult:
        with Vertical(id="front-box", classes="dialog"):
            yield Static(f"First Pareto front, generation {self.gen} (mean vs connections)", classes="dialog-title")
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

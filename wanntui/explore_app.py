"""``wann-tui explore FILE``: the weight explorer as an app of its own (no run browser)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from wann_engine.explore import Explorer

from .screens.explorer import ExplorerScreen
from .screens.help import HelpScreen


class ExploreApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "wann-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help", key_display="?"),
    ]

    def __init__(self, explorer: Explorer, ascii: bool = False, title: str = "", fps: float = 25) -> None:
        super().__init__()
        self.explorer = explorer
        self.ascii = ascii
        self.title_text = title
        self.fps = fps

    def on_mount(self) -> None:
        if self.ascii:
            self.add_class("-ascii")
        self.push_screen(ExplorerScreen(self.explorer, ascii=self.ascii, title=self.title_text, standalone=True,
                                        fps=self.fps))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        target = screen if hasattr(screen, "commands") else (self.screen_stack[-2] if len(self.screen_stack) > 1
                                                              else screen)
        if hasattr(target, "commands"):
            for title, help_text, action in target.commands():
                yield SystemCommand(title, help_text, getattr(target, f"action_{action}"))
